import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import type { RefundOutcome, RefundRequest } from '#domain/payment-ports.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * Two runs of the reconciler may send one order's refund at once (a duplicate delivery of its
 * check, a check redriven by hand from the DLQ while the sweep's redrive runs). Each sends it under
 * the key of the refund request it read (`refundKeyOf`). When the gateway refuses the first
 * request, its user may ask again under a new Idempotency-Key while the slower run still waits for
 * its answer: that answer is the first key's refusal replayed, and it must not be read as the
 * gateway refusing the second request, which was never sent.
 */

const agentId = demoAgent.agentId;

describe("a refusal of a user's first refund, answered late to a second run of its check", () => {
  it('leaves the refund the user asked for again to be sent under its own key', async () => {
    // Prepare: a paid order whose user asks for the money back; the gateway refuses the refund
    // under its first key, to both runs of its check. The first call answers only when released.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    await p.lifecycle.refund(demoAgent.ownerId, order.orderId, 'refund-1', {});
    const refusal: RefundOutcome = { kind: 'rejected', reason: 'charge_disputed' };
    p.gateway.refundScript.push(refusal, refusal);
    const slow = holdFirstRefund(p.gateway);
    const check = { orderId: order.orderId, check: 0 };

    // Act: the slow run reads the order and sends the refund; the other run is refused and puts
    // the order back to PAID; the user asks again under a new key; the slow run's answer comes.
    const slowRun = p.reconcile(check, 1);
    await slow.sent;
    await p.reconcile(check, 1);
    const refused = (await p.orders.get(order.orderId)) as Order;
    await p.lifecycle.refund(demoAgent.ownerId, order.orderId, 'refund-2', {});
    slow.release();
    await slowRun;
    await p.runChecks();

    // Assess: the second request went to the gateway under a key of its own, and the money is
    // back with the user.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect(refused.status).toBe('PAID');
    expect({
      status: end.status,
      kept: p.netCaptured(end),
      keys: slow.keys,
    }).toEqual({
      status: 'REFUNDED',
      kept: 0,
      keys: [`refund_${order.orderId}`, `refund_${order.orderId}`, `refund_${order.orderId}_2`],
    });
  });
});

/** The gateway's first refund call waits for `release`; every call's key is recorded. */
function holdFirstRefund(gateway: { refund(request: RefundRequest): Promise<RefundOutcome> }) {
  const refund = gateway.refund.bind(gateway);
  const keys: string[] = [];
  let release = () => {};
  let sent = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const made = new Promise<void>((resolve) => {
    sent = resolve;
  });
  gateway.refund = async (request) => {
    keys.push(request.idempotencyKey);
    if (keys.length === 1) {
      sent();
      await released;
    }
    return refund(request);
  };
  return { sent: made, release, keys };
}
