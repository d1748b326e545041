import { describe, expect, it } from 'vitest';
import { paymentRequestIn, paymentRequestOf } from '#adapters/sqs-payment-queue.ts';

describe('the payment message reader', () => {
  it('reads a request, with its placement time when it has one, and leaves other fields out', () => {
    expect(paymentRequestOf({ orderId: 'ord_1', agentId: 'a', extra: true })).toEqual({
      orderId: 'ord_1',
      agentId: 'a',
    });
    expect(
      paymentRequestIn(JSON.stringify({ orderId: 'ord_1', agentId: 'a', placedAt: '2026-11-30' })),
    ).toEqual({ orderId: 'ord_1', agentId: 'a', placedAt: '2026-11-30' });
  });

  it.each([
    ['no order id', { agentId: 'a' }],
    ['an empty order id', { orderId: '', agentId: 'a' }],
    ['an agent id that is not a string', { orderId: 'ord_1', agentId: 7 }],
    ['an empty agent id', { orderId: 'ord_1', agentId: '' }],
    ['a placement time that is not a string', { orderId: 'ord_1', agentId: 'a', placedAt: 1 }],
    ['null', null],
    ['a string', 'ord_1'],
  ])('reads nothing from %s', (_, message) => {
    expect(paymentRequestOf(message)).toBeUndefined();
  });

  it('reads nothing from a body that is not JSON, or no body', () => {
    expect(paymentRequestIn('not json')).toBeUndefined();
    expect(paymentRequestIn(undefined)).toBeUndefined();
  });
});
