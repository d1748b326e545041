import { describe, expect, it } from 'vitest';
import { IllegalTransitionError } from '#domain/errors.ts';
import {
  type OrderEvent,
  type OrderStatus,
  orderEvents,
  orderStatuses,
  transition,
} from '#domain/order-state.ts';

/** DESIGN §2, written out independently of the module under test. */
const allowed: ReadonlyArray<readonly [OrderStatus, OrderEvent, OrderStatus]> = [
  ['AWAITING_CONFIRMATION', 'CONFIRM', 'PENDING_PAYMENT'],
  ['AWAITING_CONFIRMATION', 'CONFIRMATION_WINDOW_PASSED', 'EXPIRED'],
  ['AWAITING_CONFIRMATION', 'CANCEL', 'CANCELLED'],
  ['PENDING_PAYMENT', 'GATEWAY_SUCCEEDED', 'PAID'],
  ['PENDING_PAYMENT', 'GATEWAY_PENDING', 'AWAITING_SETTLEMENT'],
  ['PENDING_PAYMENT', 'GATEWAY_DECLINED', 'FAILED'],
  ['PENDING_PAYMENT', 'RISK_REJECTED', 'FAILED'],
  ['PENDING_PAYMENT', 'HELD_FOR_REVIEW', 'HELD_FOR_REVIEW'],
  ['PENDING_PAYMENT', 'OUTCOME_UNKNOWN', 'PENDING_PAYMENT'],
  ['HELD_FOR_REVIEW', 'CONFIRM', 'PENDING_PAYMENT'],
  ['HELD_FOR_REVIEW', 'CANCEL', 'CANCELLED'],
  ['AWAITING_SETTLEMENT', 'GATEWAY_SUCCEEDED', 'PAID'],
  ['AWAITING_SETTLEMENT', 'GATEWAY_DECLINED', 'FAILED'],
  ['AWAITING_SETTLEMENT', 'SETTLEMENT_DEADLINE_PASSED', 'FAILED'],
  ['PAID', 'REFUND_REQUESTED', 'REFUND_PENDING'],
  ['REFUND_PENDING', 'REFUND_SUCCEEDED', 'REFUNDED'],
  ['FAILED', 'GATEWAY_SUCCEEDED', 'REFUND_PENDING'],
  ['CANCELLED', 'GATEWAY_SUCCEEDED', 'REFUND_PENDING'],
  ['EXPIRED', 'GATEWAY_SUCCEEDED', 'REFUND_PENDING'],
  ['PENDING_PAYMENT', 'PAYMENT_WINDOW_PASSED', 'FAILED'],
  ['HELD_FOR_REVIEW', 'GATEWAY_SUCCEEDED', 'PAID'],
  ['HELD_FOR_REVIEW', 'GATEWAY_PENDING', 'AWAITING_SETTLEMENT'],
  ['REFUND_PENDING', 'REFUND_REJECTED', 'PAID'],
  ['REFUND_PENDING', 'COMPENSATION_REJECTED', 'REFUND_PENDING'],
  // The gateway failed a refund of ours after it succeeded: the order owes the money again.
  ['REFUNDED', 'REFUND_FAILED', 'REFUND_PENDING'],
  ['REFUND_PENDING', 'REFUND_FAILED', 'REFUND_PENDING'],
  // A refund that is not the order's own full refund is recorded in place, in every state.
  ...orderStatuses.map((status) => [status, 'REFUND_OBSERVED', status] as const),
];

const allPairs = orderStatuses.flatMap((from) =>
  orderEvents.map((event) => [from, event] as const),
);

describe('order state machine', () => {
  it.each(allowed)('moves %s on %s to %s', (from, event, to) => {
    // Act
    const next = transition(from, event);

    // Assess
    expect(next).toBe(to);
  });

  const illegal = allPairs.filter(
    ([from, event]) => !allowed.some(([f, e]) => f === from && e === event),
  );

  it.each(illegal)('refuses %s on %s with ILLEGAL_TRANSITION', (from, event) => {
    // Act
    const attempt = () => transition(from, event);

    // Assess
    expect(attempt).toThrow(IllegalTransitionError);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ code: 'ILLEGAL_TRANSITION', status: 409 });
    }
  });

  it('covers every (status, event) pair exactly once between the two tables', () => {
    // Assess
    expect(allowed.length + illegal.length).toBe(orderStatuses.length * orderEvents.length);
    expect(illegal.length).toBeGreaterThan(0);
  });

  it('lets nothing leave REFUNDED but a failure of its refund, back to owing it', () => {
    for (const event of orderEvents) {
      if (event === 'REFUND_OBSERVED') {
        expect(transition('REFUNDED', event)).toBe('REFUNDED');
      } else if (event === 'REFUND_FAILED') {
        expect(transition('REFUNDED', event)).toBe('REFUND_PENDING');
      } else {
        expect(() => transition('REFUNDED', event)).toThrow(IllegalTransitionError);
      }
    }
  });
});
