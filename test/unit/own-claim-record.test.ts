import { describe, expect, it } from 'vitest';
import {
  applyClaim,
  claimFor,
  defaultGuardPolicy,
  duplicateIn,
  emptyGuardState,
  ownRecordIn,
  ownRecordOf,
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

  it("is not another placement's record of the same order and intent (the same key sent twice at once)", () => {
    // Prepare: a placement of A is written; a second placement of A, a second later, claims too.
    const first = claimOf();
    const written = applyClaim(emptyGuardState, first);
    const second = claimOf(written, orderA, 'intent-1', now + 1000);
    const both = applyClaim(written, second);

    // Act
    const secondFoundBeforeItsWrite = ownRecordIn(written, second);
    const records = [ownRecordOf(first), ownRecordOf(second)];

    // Assess: two records, each read as order A by the duplicate guard.
    expect(secondFoundBeforeItsWrite).toBe(false);
    expect(new Set(records).size).toBe(2);
    expect(both.ring[first.intent.ring]).toEqual(expect.arrayContaining(records));
    expect(duplicateIn(both, 'intent-1', first.intent.checks)).toBe(orderA);
  });

  it('is kept to 4 base-36 characters past the order id, and a record without them still names its order', () => {
    // Prepare: a claim at the last millisecond of its slot; a record as written before records
    // named their placement.
    const lastMs = now + defaultGuardPolicy.intentSlotSeconds * 1000 - 1;
    const claim = claimOf(emptyGuardState, orderA, 'intent-1', lastMs);
    const untokened = ownRecordOf(claim).replace(/\.[0-9a-z]+$/, '');
    const old = { ring: { [claim.intent.ring]: [claim.intent.marker, 'intent-1', untokened] } };

    // Act
    const found = duplicateIn(old, 'intent-1', claim.intent.checks);

    // Assess: `intent-1=` and the order id's 22 characters, then `.` and the token.
    expect(ownRecordOf(claim)).toBe(`${untokened}.${(59_999).toString(36)}`);
    expect(untokened).toHaveLength('intent-1='.length + 22);
    expect(found).toBe(orderA);
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
