import { describe, expect, it } from 'vitest';
import { FaultDraws } from '../../local/simulators/gateway/fault-drawing.ts';
import {
  defaultGatewayFaults,
  type GatewayFaults,
} from '../../local/simulators/gateway/fault-settings.ts';

const success = { status: 'SUCCESS', timeout: false, settlesAs: 'SUCCESS', settlesByItself: true };

/** Every charge fails at its transport, or, were it to pass, would be pending and time out. */
const failing: GatewayFaults = {
  ...defaultGatewayFaults,
  errorRate: 1,
  chargeThenTimeoutRate: 1,
  pendingRate: 1,
};

/** Half the charges fail: the draws vary, so a shifted stream shows. */
const mixed: GatewayFaults = { ...defaultGatewayFaults, errorRate: 0.5, declineRate: 0.5 };

describe('gateway simulator: spared charges', () => {
  it('makes a spared order charge with no fault, and leaves every other order its faults', () => {
    // Prepare
    const draws = new FaultDraws(11, () => failing);
    draws.spare(['ord_spared']);

    // Act
    const spared = draws.decide('create', 'ord_spared');
    const other = draws.decide('create', 'ord_other');
    const unnamed = draws.decide('create');

    // Assess
    expect(spared.transport).toBeUndefined();
    expect(spared.charge).toEqual(success);
    expect(other.transport).toMatchObject({ kind: 'error' });
    expect(unnamed.transport).toMatchObject({ kind: 'error' });
  });

  it('still draws for a spared charge, so the faults of the requests after it do not shift', () => {
    // Prepare
    const plain = new FaultDraws(23, () => mixed);
    const sparing = new FaultDraws(23, () => mixed);
    sparing.spare(['ord_spared']);

    // Act
    plain.decide('create', 'ord_spared');
    sparing.decide('create', 'ord_spared');
    const following = (draws: FaultDraws) =>
      Array.from({ length: 20 }, (_, n) => draws.decide('create', `ord_${n}`));

    // Assess
    expect(following(sparing)).toEqual(following(plain));
  });

  it('leaves a scripted fault to the next order that is not spared', () => {
    // Prepare
    const draws = new FaultDraws(5, () => defaultGatewayFaults);
    draws.spare(['ord_spared']);
    draws.scriptNext([{ fault: 'decline' }]);

    // Act
    const spared = draws.decide('create', 'ord_spared');
    const next = draws.decide('create', 'ord_next');

    // Assess
    expect(spared.charge.status).toBe('SUCCESS');
    expect(next.charge.status).toBe('FAILED');
  });

  it('spares charges only: a lookup, void or refund for the order takes its faults', () => {
    // Prepare
    const draws = new FaultDraws(3, () => failing);
    draws.spare(['ord_spared']);

    // Act
    const kinds = (['lookup', 'void', 'refund'] as const).map((kind) =>
      draws.decide(kind, 'ord_spared'),
    );

    // Assess
    for (const decision of kinds) expect(decision.transport).toMatchObject({ kind: 'error' });
  });

  it('forgets the spared orders on a reset', () => {
    // Prepare
    const draws = new FaultDraws(13, () => failing);
    draws.spare(['ord_spared']);

    // Act
    draws.reset();
    const again = draws.decide('create', 'ord_spared');

    // Assess
    expect(again.transport).toMatchObject({ kind: 'error' });
  });
});
