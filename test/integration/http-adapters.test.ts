import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpPaymentGateway } from '#adapters/http-payment-gateway.ts';
import type { GatewayOutcome } from '#domain/payment-ports.ts';
import { freePort } from '../../local/runtime/emulators.ts';
import type { ScriptedGatewayFault } from '../../local/simulators/gateway/fault-settings.ts';
import { defaultGatewayApiKeys } from '../../local/simulators/gateway/keys.ts';
import {
  type GatewaySimulator,
  startGatewaySimulator,
} from '../../local/simulators/gateway/server.ts';
import { type RiskSimulator, startRiskSimulator } from '../../local/simulators/risk/server.ts';

let simulator: GatewaySimulator;
let risk: RiskSimulator;
let sequence = 0;
const key = defaultGatewayApiKeys[0] ?? '';

function gateway(options: { apiKey?: string; timeoutMs?: number; baseUrl?: string } = {}) {
  return new HttpPaymentGateway({
    name: 'simulator',
    baseUrl: options.baseUrl ?? simulator.url,
    timeoutMs: options.timeoutMs ?? 500,
    apiKey: { get: async () => options.apiKey ?? key, refresh: async () => {} },
  });
}

const charge = (idempotencyKey = `ord_${++sequence}`) => ({
  idempotencyKey,
  amount: 450,
  currency: 'CNY',
  paymentMethod: 'wallet' as const,
});

/** A whole refund of the 4.50 CNY charge under `idempotencyKey`, by the adapter. */
const refundOf = (captured: GatewayOutcome, idempotencyKey: string) =>
  gateway().refund({
    paymentId: 'paymentId' in captured ? (captured.paymentId ?? '') : '',
    amount: 450,
    currency: 'CNY',
    idempotencyKey,
  });

beforeAll(async () => {
  [simulator, risk] = await Promise.all([
    startGatewaySimulator({ seed: 3, faults: { hangMs: 2_000, autoSettle: false } }),
    startRiskSimulator({ seed: 3, faults: { hangMs: 2_000 } }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([simulator?.stop(), risk?.stop()]);
});

beforeEach(() => {
  simulator.reset();
  risk.reset();
});

describe('HTTP payment gateway adapter (gateway simulator)', () => {
  it.each<[string, ScriptedGatewayFault | undefined, Record<string, unknown>]>([
    ['a success', undefined, { kind: 'succeeded', paymentId: expect.stringMatching(/^pay_/) }],
    ['a pending payment', { fault: 'pending' }, { kind: 'pending' }],
    [
      'a decline',
      { fault: 'decline', declineCode: 'do_not_honor' },
      { kind: 'declined', declineCode: 'do_not_honor' },
    ],
    [
      'a 429',
      { fault: 'throttle', retryAfterSeconds: 7 },
      { kind: 'throttled', retryAfterSeconds: 7 },
    ],
    ['a 502', { fault: 'error', status: 502 }, { kind: 'unavailable' }],
    ['a reset connection', { fault: 'reset' }, { kind: 'unavailable' }],
    ['a hang', { fault: 'hang' }, { kind: 'unknown' }],
    ['a charge whose answer never comes', { fault: 'charge_then_timeout' }, { kind: 'unknown' }],
  ])('classifies %s', async (_, fault, expected) => {
    // Prepare
    if (fault) simulator.scriptNext([fault]);

    // Act
    const outcome = await gateway().charge(charge());

    // Assess
    expect(outcome).toMatchObject(expected);
  });

  it('classifies a wrong key as unauthorized', async () => {
    await expect(gateway({ apiKey: 'sk_wrong' }).charge(charge())).resolves.toEqual({
      kind: 'unauthorized',
    });
  });

  it('classifies a gateway that is not listening as unavailable, after one quick retry', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    await expect(gateway({ baseUrl: closed }).charge(charge())).resolves.toMatchObject({
      kind: 'unavailable',
      detail: 'ECONNREFUSED',
    });
  });

  it('finds the payment a lost answer made, and nothing for an unknown key', async () => {
    // Prepare
    simulator.scriptNext([{ fault: 'charge_then_timeout' }]);
    const request = charge();
    await gateway().charge(request);

    // Act
    const found = await gateway().findByIdempotencyKey(request.idempotencyKey);
    const missing = await gateway().findByIdempotencyKey('ord_never');

    // Assess
    expect(found).toMatchObject({ kind: 'found', outcome: { kind: 'succeeded' } });
    expect(missing).toEqual({ kind: 'not-found' });
    expect(simulator.ledger().charges[request.idempotencyKey]?.payments).toBe(1);
  });

  it('voids only what the gateway shows as voided', async () => {
    // Prepare
    simulator.scriptNext([{ fault: 'pending' }]);
    const pending = await gateway().charge(charge());
    const settledFirst = await gateway().charge(charge());
    const paymentId = (outcome: { kind: string; paymentId?: string }) => outcome.paymentId ?? '';

    // Act & Assess
    await expect(gateway().void(paymentId(pending))).resolves.toEqual({ kind: 'voided' });
    await expect(gateway().void(paymentId(settledFirst))).resolves.toMatchObject({
      kind: 'settled',
      outcome: { kind: 'succeeded' },
    });
    await expect(gateway().void('pay_unknown')).resolves.toMatchObject({ kind: 'unknown' });
  });

  it('refunds a captured payment once, and classifies a refund the gateway refuses as rejected', async () => {
    // Prepare
    const captured = await gateway().charge(charge());
    simulator.scriptNext([{ fault: 'pending' }]);
    const pending = await gateway().charge(charge());
    const refund = (outcome: { kind: string; paymentId?: string }, key: string) =>
      gateway().refund({
        paymentId: outcome.paymentId ?? '',
        amount: 450,
        currency: 'CNY',
        idempotencyKey: key,
      });

    // Act
    const first = await refund(captured, 'refund_a');
    const again = await refund(captured, 'refund_a');
    const nothingLeft = await refund(captured, 'refund_b');
    const notCaptured = await refund(pending, 'refund_c');

    // Assess
    expect(first).toMatchObject({ kind: 'refunded', refundId: expect.stringMatching(/^re_/) });
    expect(again).toEqual(first);
    expect(nothingLeft).toEqual({ kind: 'rejected', reason: 'invalid_state' });
    expect(notCaptured).toEqual({ kind: 'rejected', reason: 'invalid_state' });
  });

  it('reads a refund that failed since it succeeded as failed when sent again, and the lookup no longer counts it', async () => {
    // Prepare
    const request = charge();
    const captured = await gateway().charge(request);
    const refund = () => refundOf(captured, 'refund_fails');
    simulator.setFaults({ refundFailAfterMs: 20 });
    simulator.scriptNext([{ fault: 'refund_fails_later' }]);
    const made = await refund();
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Act
    const again = await refund();
    const lookup = await gateway().findByIdempotencyKey(request.idempotencyKey);

    // Assess
    expect(made).toMatchObject({ kind: 'refunded' });
    expect(again).toEqual({
      kind: 'failed',
      refundId: 'refundId' in made ? made.refundId : '',
      reason: 'expired_or_canceled_card',
    });
    expect(lookup).toMatchObject({ kind: 'found', amountRefunded: 0 });
  });

  it('reads a 4xx the gateway does not explain as transient, and a lookup says what was refunded', async () => {
    // Prepare: a captured payment; its first refund meets a 404 (a proxy during a deploy).
    const request = charge();
    const captured = await gateway().charge(request);
    const refund = () => refundOf(captured, 'refund_d');
    simulator.scriptNext([{ fault: 'error', status: 404, route: 'any' }]);

    // Act
    const unexplained = await refund();
    const before = await gateway().findByIdempotencyKey(request.idempotencyKey);
    const made = await refund();
    const after = await gateway().findByIdempotencyKey(request.idempotencyKey);

    // Assess
    expect(unexplained).toMatchObject({ kind: 'unavailable' });
    expect(made).toMatchObject({ kind: 'refunded' });
    expect([before, after]).toMatchObject([
      { kind: 'found', amountRefunded: 0 },
      { kind: 'found', amountRefunded: 450 },
    ]);
  });

  it('classifies a failed lookup as transient', async () => {
    simulator.scriptNext([{ fault: 'error', status: 503, route: 'lookup' }]);
    await expect(gateway().findByIdempotencyKey('ord_x')).resolves.toMatchObject({
      kind: 'unavailable',
    });
  });
});
