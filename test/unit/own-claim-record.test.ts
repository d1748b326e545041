import { describe, expect, it } from 'vitest';
import {
  applyClaim,
  claimFor,
  defaultGuardPolicy,
  emptyGuardState,
  ownRecordIn,
} from '#domain/agent-guards.ts';
import { makePlaceOrder } from '#domain/place-order.ts';
import type { ClaimOutcome } from '#domain/ports.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
  spendKeyOf,
} from '../fakes/in-memory.ts';
import { demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';

const now = Date.parse('2026-11-23T09:30:00Z');
const rate = { perSecond: 1, burst: 10 };
const orderA = `ord_${'a'.repeat(32)}`;
const orderB = `ord_${'b'.repeat(32)}`;

/** A claim of `orderId` for the intent `hash`, as intake builds it on `state`. */
const claimOf = (state = emptyGuardState, orderId = orderA, hash = 'intent-1', at = now) =>
  claimFor(
    state,
    { agentId: 'agent', now: at, rate, hash, firstOrderId: orderId, checkDuplicate: true },
    defaultGuardPolicy,
  );

describe("a claim's own record in the agent-day item", () => {
  it('is found once the claim was written, as a resend that lost its answer meets it', () => {
    // Prepare
    const claim = claimOf();

    // Act
    const after = applyClaim(emptyGuardState, claim);

    // Assess
    expect(ownRecordIn(after, claim)).toBe(true);
    expect(ownRecordIn(emptyGuardState, claim)).toBe(false);
  });

  it("is not another key's record of the same intent, nor the same order's record of another intent", () => {
    // Prepare: order A's claim is written; B claims the same intent, A another one.
    const written = applyClaim(emptyGuardState, claimOf());

    // Act
    const sameIntentOtherOrder = ownRecordIn(written, claimOf(written, orderB));
    const sameOrderOtherIntent = ownRecordIn(written, claimOf(written, orderA, 'intent-2'));

    // Assess
    expect({ sameIntentOtherOrder, sameOrderOtherIntent }).toEqual({
      sameIntentOtherOrder: false,
      sameOrderOtherIntent: false,
    });
  });

  it('is not found in a slot the ring has moved past', () => {
    // Prepare: the claim was written, and the ring attribute now holds a slot a ring later.
    const claim = claimOf();
    const written = applyClaim(emptyGuardState, claim);
    const ringLater = now + 6 * defaultGuardPolicy.intentSlotSeconds * 1000;
    const later = applyClaim(written, claimOf(written, orderB, 'intent-3', ringLater));

    // Act
    const found = ownRecordIn(later, claim);

    // Assess
    expect(found).toBe(false);
  });
});

describe('a claim refused on its resend, at intake', () => {
  /**
   * Intake over the fake table, whose next claim is applied and then sent once more, as the SDK
   * does when the first answer is lost; `resent` says whether the refusal tells of the resend.
   */
  const intakeLosingAnAnswer = (resent: boolean) => {
    const orders = new InMemoryOrders();
    const claim = orders.claim.bind(orders);
    let losing = 1;
    orders.claim = async (guard, spend): Promise<ClaimOutcome> => {
      const first = await claim(guard, spend);
      if (losing === 0 || first.kind !== 'claimed') return first;
      losing--;
      const again = await claim(guard, spend);
      return again.kind === 'guard-refused' ? { ...again, resent } : again;
    };
    const placeOrder = makePlaceOrder({
      orders,
      agents: new InMemoryAgents([demoAgent]),
      payments: new RecordingPaymentQueue(),
      clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
      policy: intakePolicy,
    });
    const place = (key: string) =>
      placeOrder({
        agentId: demoAgent.agentId,
        idempotencyKey: key,
        body: { ...latteOrder, sessionId: key, amount: 5000 },
      });
    const spent = () =>
      orders.spent.get(spendKeyOf({ agentId: demoAgent.agentId, day: '2026-11-23' }));
    return { place, spent };
  };

  it('stores the order on the claim its first send made, counted once', async () => {
    // Prepare
    const intake = intakeLosingAnAnswer(true);

    // Act
    const placed = await intake.place('k-1');

    // Assess
    expect(placed.order.status).toBe('PENDING_PAYMENT');
    expect(intake.spent()).toBe(5000);
  });

  it('claims again when the refusal does not come from a resend (another attempt with the key)', async () => {
    // Prepare
    const intake = intakeLosingAnAnswer(false);

    // Act
    const placed = await intake.place('k-1');

    // Assess: on the safe side, as before: the day counts it twice.
    expect(placed.order.status).toBe('PENDING_PAYMENT');
    expect(intake.spent()).toBe(10_000);
  });
});
