import { describe, expect, it } from 'vitest';
import { readStripeEvent, stripeEventSchema } from '#adapters/stripe-events.ts';
import { outcomeOfIntent, outcomeOfRefund } from '#adapters/stripe-payment-gateway.ts';

const orderId = 'ord_0123456789abcdef0123456789abcdef';

function intent(fields: Record<string, unknown>) {
  return {
    id: 'pi_1',
    object: 'payment_intent',
    amount: 450,
    currency: 'cny',
    status: 'succeeded',
    metadata: { orderId },
    last_payment_error: null,
    ...fields,
  };
}

function event(type: string, object: Record<string, unknown>) {
  return stripeEventSchema.parse({
    id: 'evt_1',
    object: 'event',
    type,
    created: 1_767_225_600,
    data: { object },
  });
}

describe("Stripe's webhook events, read as gateway events", () => {
  it.each([
    ['payment_intent.succeeded', intent({}), 'payment.succeeded', undefined],
    ['payment_intent.processing', intent({ status: 'processing' }), 'payment.pending', undefined],
    [
      'payment_intent.payment_failed',
      intent({
        status: 'requires_payment_method',
        last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds' },
      }),
      'payment.failed',
      'insufficient_funds',
    ],
    ['payment_intent.canceled', intent({ status: 'canceled' }), 'payment.failed', 'voided'],
  ])('%s is %s', (type, object, expected, declineCode) => {
    // Act
    const reading = readStripeEvent(event(type, object));

    // Assess
    expect(reading).toEqual({
      kind: 'event',
      event: {
        id: 'evt_1',
        type: expected,
        created: 1_767_225_600,
        data: {
          paymentId: 'pi_1',
          idempotencyKey: orderId,
          amount: 450,
          currency: 'CNY',
          ...(declineCode ? { declineCode } : {}),
        },
      },
    });
  });

  it('reads a succeeded refund as a refund event naming the refund, and skips a pending one', () => {
    // Prepare
    const refund = {
      id: 're_1',
      object: 'refund',
      amount: 450,
      currency: 'cny',
      payment_intent: 'pi_1',
      metadata: { orderId },
    };

    // Act
    const updated = readStripeEvent(event('refund.updated', { ...refund, status: 'succeeded' }));
    const pending = readStripeEvent(event('refund.created', { ...refund, status: 'pending' }));

    // Assess
    expect(updated).toMatchObject({
      kind: 'event',
      event: {
        type: 'refund.succeeded',
        data: { refundId: 're_1', amount: 450, paymentId: 'pi_1' },
      },
    });
    expect(pending).toEqual({ kind: 'skip', reason: 'refund pending' });
  });

  it('skips what names no order, an authentication the charge already held for, and charge.refunded', () => {
    // Act
    const readings = [
      readStripeEvent(event('payment_intent.succeeded', intent({ metadata: {} }))),
      readStripeEvent(
        event(
          'payment_intent.payment_failed',
          intent({
            status: 'requires_payment_method',
            last_payment_error: { code: 'authentication_required' },
          }),
        ),
      ),
      readStripeEvent(event('charge.refunded', { object: 'charge', id: 'ch_1' })),
    ];

    // Assess
    expect(readings.map((reading) => reading.kind)).toEqual(['skip', 'skip', 'skip']);
  });
});

describe("a PaymentIntent's status, read as the domain's outcome", () => {
  it.each([
    ['succeeded', {}, { kind: 'succeeded', paymentId: 'pi_1' }],
    ['processing', {}, { kind: 'pending', paymentId: 'pi_1' }],
    [
      'requires_action',
      {},
      { kind: 'action-required', intentId: 'pi_1', reason: 'authentication_required' },
    ],
    [
      'requires_payment_method',
      { last_payment_error: { code: 'card_declined', decline_code: 'stolen_card' } },
      { kind: 'declined', paymentId: 'pi_1', declineCode: 'stolen_card' },
    ],
    ['canceled', {}, { kind: 'declined', paymentId: 'pi_1', declineCode: 'voided' }],
    ['requires_confirmation', {}, { kind: 'unknown', detail: 'intent requires_confirmation' }],
  ])('%s', (status, fields, expected) => {
    // Act
    const outcome = outcomeOfIntent(intent({ status, ...fields }) as never);

    // Assess
    expect(outcome).toEqual(expected);
  });
});

describe("a Refund's status, read as the domain's outcome", () => {
  const refund = (status: string, failure_reason?: string) =>
    ({
      id: 're_1',
      object: 'refund',
      amount: 450,
      currency: 'cny',
      payment_intent: 'pi_1',
      status,
      ...(failure_reason ? { failure_reason } : {}),
    }) as never;

  it.each([
    ['succeeded as created', refund('succeeded'), false, { kind: 'refunded', refundId: 're_1' }],
    [
      'still pending',
      refund('pending'),
      true,
      { kind: 'unavailable', detail: 'refund re_1 pending' },
    ],
    [
      'failed as created: refused',
      refund('failed', 'declined'),
      false,
      { kind: 'rejected', reason: 'declined' },
    ],
    [
      'failed after it was pending: a failure after acceptance',
      refund('failed', 'expired_or_canceled_card'),
      true,
      { kind: 'failed', refundId: 're_1', reason: 'expired_or_canceled_card' },
    ],
    [
      'canceled while it required action',
      refund('canceled', 'merchant_request'),
      true,
      { kind: 'failed', refundId: 're_1', reason: 'merchant_request' },
    ],
    [
      'failed after it was pending, no reason given',
      refund('failed'),
      true,
      { kind: 'failed', refundId: 're_1', reason: 'failed' },
    ],
  ])('%s', (_name, value, accepted, expected) => {
    // Act
    const outcome = outcomeOfRefund(value, accepted);

    // Assess
    expect(outcome).toEqual(expected);
  });
});
