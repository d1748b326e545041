import { describe, expect, it } from 'vitest';
import { readStripeEvent, stripeEventSchema } from '#adapters/stripe-events.ts';

/*
 * Stripe may fail a refund after it succeeded (the card was closed, the bank sent the money back):
 * the refund's status becomes `failed`, Stripe sends `refund.failed` (and `refund.updated`), and
 * the money is back in the merchant's balance. autopay recorded the order REFUNDED when the
 * refund first succeeded and reads neither event, so the order stays REFUNDED while the whole
 * amount (here 450) is kept: captured − refunded is the amount on an order that says it owes
 * nothing, and no alarm tells anyone to pay the user back.
 */

const orderId = 'ord_0123456789abcdef0123456789abcdef';

const failedRefund = {
  id: 're_1',
  object: 'refund',
  amount: 450,
  currency: 'cny',
  status: 'failed',
  failure_reason: 'expired_or_canceled_card',
  payment_intent: 'pi_1',
  metadata: { orderId },
};

function event(type: string) {
  return stripeEventSchema.parse({
    id: 'evt_1',
    object: 'event',
    type,
    created: 1_767_225_600,
    data: { object: failedRefund },
  });
}

describe('a refund of ours that Stripe fails after it succeeded', () => {
  // Known gap: a failed refund is skipped, and the domain has no event for money that came back.
  // Once one is read and applied (the order owing the refund again, or alarmed), this fails:
  // flip it to it() and assert the move.
  it.fails('is read as an event that tells the order its money came back', () => {
    // Act
    const readings = [
      readStripeEvent(event('refund.failed')),
      readStripeEvent(event('refund.updated')),
    ];

    // Assess: neither is skipped.
    expect(readings.map((reading) => reading.kind)).toEqual(['event', 'event']);
  });
});
