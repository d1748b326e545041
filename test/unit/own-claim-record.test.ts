import { describe, expect, it } from 'vitest';
import {
  applyClaim,
  claimFor,
  defaultGuardPolicy,
  emptyGuardState,
  ownRecordIn,
} from '#domain/agent-guards.ts';

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
