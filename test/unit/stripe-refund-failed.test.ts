import { describe, expect, it } from 'vitest';
import { readStripeEvent, stripeEventSchema } from '#adapters/stripe-events.ts';
import { type CallbackObserver, makeHandleGatewayEvent } from '#domain/callbacks.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import { defaultSettlementSchedule, type SettlementObserver } from '#domain/settlement.ts';
import {
  FixedClock,
  InMemoryOrders,
  RecordingSettlementChecks,
  seedOrder,
} from '../fakes/in-memory.ts';

/*
 * Stripe may fail a refund after it succeeded (the card was closed, the bank sent the money back):
 * the refund's status becomes `failed` with a `failure_reason`, Stripe sends `refund.failed` and
 * `refund.updated`, in either order, and the money is back in the merchant's balance. Both are
 * read as the failure of the order's refund: the REFUNDED order owes the money again (captured −
 * refunded is its amount), once, and an alarm tells a person to pay the user back.
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

function event(type: string, refund: Record<string, unknown> = failedRefund, id = 'evt_1') {
  return stripeEventSchema.parse({
    id,
    object: 'event',
    type,
    created: 1_767_225_600,
    data: { object: refund },
  });
}

/** The callback use case over fakes, counting what it tells. */
function callbackUseCase() {
  const orders = new InMemoryOrders();
  const told = { refundFailed: 0, ignored: [] as string[] };
  const observer: SettlementObserver = {
    lateSuccess: () => {},
    ignored: (_order, why) => {
      told.ignored.push(why);
    },
    refundRejected: () => {},
    paymentWindowExpired: () => {},
    foreignRefund: () => {},
    refundFailed: () => {
      told.refundFailed++;
    },
  };
  const callbacks: CallbackObserver = {
    unknownOrder: () => {},
    amountMismatch: () => {},
    foreignRefund: () => {},
  };
  const deps = {
    orders,
    clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
    deadlines: defaultDeadlinePolicy,
    settlementChecks: new RecordingSettlementChecks(),
    schedule: defaultSettlementSchedule,
    observer,
  };
  return { deps, orders, told, handle: makeHandleGatewayEvent({ ...deps, callbacks }) };
}

describe('a refund of ours that Stripe fails after it succeeded', () => {
  it('is read from refund.failed and refund.updated as the failure of the refund, with its reason', () => {
    // Act
    const readings = [
      readStripeEvent(event('refund.failed')),
      readStripeEvent(event('refund.updated')),
    ];

    // Assess
    for (const reading of readings) {
      expect(reading).toEqual({
        kind: 'event',
        event: {
          id: 'evt_1',
          type: 'refund.failed',
          created: 1_767_225_600,
          data: {
            paymentId: 'pi_1',
            idempotencyKey: orderId,
            amount: 450,
            currency: 'CNY',
            refundId: 're_1',
            failureReason: 'expired_or_canceled_card',
          },
        },
      });
    }
  });

  it('moves the REFUNDED order back to owing the refund, once, whichever event comes first', async () => {
    // Prepare
    const { deps, orders, told, handle } = callbackUseCase();
    await seedOrder(deps, 'REFUNDED', { orderId, gatewayRef: 'pi_1', refundId: 're_1' });
    const read = (type: string, id: string) => {
      const reading = readStripeEvent(event(type, failedRefund, id));
      if (reading.kind !== 'event') throw new Error(reading.reason);
      return reading.event;
    };

    // Act: refund.updated first, then refund.failed, then refund.updated again.
    const outcomes = [
      await handle(read('refund.updated', 'evt_u')),
      await handle(read('refund.failed', 'evt_f')),
      await handle(read('refund.updated', 'evt_u')),
    ];

    // Assess
    expect(outcomes.map((outcome) => outcome.result)).toEqual([
      'applied',
      'unchanged',
      'unchanged',
    ]);
    const order = await orders.get(orderId);
    expect(order).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
      refundFailure: 'expired_or_canceled_card',
    });
    expect(order?.history.filter((entry) => entry.cause === 'REFUND_FAILED')).toHaveLength(1);
    expect(told.refundFailed).toBe(1);
  });

  it("skips the failure of a refund that names no order of ours, and ignores another refund's", async () => {
    // Prepare
    const { deps, orders, told, handle } = callbackUseCase();
    const refunded = await seedOrder(deps, 'REFUNDED', {
      orderId,
      gatewayRef: 'pi_1',
      refundId: 're_1',
    });

    // Act
    const unnamed = readStripeEvent(event('refund.failed', { ...failedRefund, metadata: {} }));
    const other = readStripeEvent(event('refund.failed', { ...failedRefund, id: 're_2' }));
    const outcome = other.kind === 'event' ? await handle(other.event) : undefined;

    // Assess
    expect(unnamed).toEqual({ kind: 'skip', reason: 'refund without metadata.orderId' });
    expect(outcome).toEqual({ result: 'unchanged', status: 'REFUNDED' });
    expect(await orders.get(orderId)).toEqual(refunded);
    expect(told).toEqual({
      refundFailed: 0,
      ignored: ["refund.failed of re_2, not the order's own, while REFUNDED"],
    });
  });

  it('reads a refund.updated of a refund canceled while it required action as its failure', () => {
    // Act
    const reading = readStripeEvent(
      event('refund.updated', {
        ...failedRefund,
        status: 'canceled',
        failure_reason: 'merchant_request',
      }),
    );

    // Assess
    expect(reading).toMatchObject({
      kind: 'event',
      event: {
        type: 'refund.failed',
        data: { refundId: 're_1', failureReason: 'merchant_request' },
      },
    });
  });

  it('skips a refund.failed whose refund has not failed, and a refund created failed', () => {
    // Act
    const readings = [
      readStripeEvent(event('refund.failed', { ...failedRefund, status: 'succeeded' })),
      readStripeEvent(event('refund.created')),
    ];

    // Assess
    expect(readings).toEqual([
      { kind: 'skip', reason: 'refund.failed of a refund succeeded' },
      { kind: 'skip', reason: 'refund failed' },
    ]);
  });
});
