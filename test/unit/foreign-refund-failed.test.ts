import { describe, expect, it } from 'vitest';
import { fakePipeline, refundAskedOrder } from '../fakes/pipeline.ts';

/*
 * An order its user asked to refund, whose payment someone refunded first outside autopay (the
 * merchant's dashboard): autopay's refund is refused, the lookup shows the money given back, and
 * the order is REFUNDED with no `refundId` (refundedElsewhere). If that other refund then fails
 * after it succeeded (the card was closed), the money is back with the merchant (here 450 minor
 * units), and the failure's event names a refund that is not the order's (through Stripe, a
 * dashboard refund carries no metadata.orderId at all). The reconciler looks the payment up once
 * more an interval after refundedElsewhere, as after a refund of its own, and holds the order
 * for a person when the gateway no longer counts the amount refunded.
 */

describe('a foreign refund that made the order REFUNDED, then failed at the gateway', () => {
  it('brings the order back to owing the money, held for a person', async () => {
    // Prepare: the user asks a refund; the merchant refunds the payment by hand first.
    const p = fakePipeline();
    const order = await refundAskedOrder(p);
    const paymentId = p.gateway.charges.get(order.orderId)?.paymentId ?? '';
    p.gateway.refunds.set('dashboard', { paymentId, amount: order.amount });
    await p.runChecks();
    expect((await p.orders.get(order.orderId))?.status).toBe('REFUNDED');
    // The look again that follows a refund made elsewhere, an interval later.
    expect(p.checks.scheduled.at(-1)).toMatchObject({
      orderId: order.orderId,
      check: 0,
      delaySeconds: 300,
    });

    // Act: the hand-made refund fails; its event is told; every check that follows runs.
    p.gateway.refunds.delete('dashboard');
    await p.handleEvent(p.refundFailed(order, 're_dashboard'));
    await p.runChecks();
    await p.reconcile({ orderId: order.orderId, check: 0 }, 1);

    // Assess: the gateway holds the whole amount; the order must not say it was given back.
    expect(p.netCaptured(order)).toBe(order.amount);
    expect(await p.orders.get(order.orderId)).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
    });
  });
});
