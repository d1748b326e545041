import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import type { RefundOutcome, RefundRequest } from '#domain/payment-ports.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * The gateway refuses a user's first refund; the user asks again under a new Idempotency-Key and
 * the second refund is made. A slower run of the first request's check, answered the first
 * key's refusal only now, asks the gateway who gave the money back, and hears that the payment is
 * refunded in full, by the second refund, whose own run has not recorded it yet. That refusal
 * says nothing of the second request: were the slow run to record the order REFUNDED by a
 * refund "made elsewhere", with no refund id, the second refund's own run would find the order
 * moved on and leave it so, and the second refund failing later (a closed card) would change
 * nothing, the money back with the merchant and the order saying the user has it.
 */

const agentId = demoAgent.agentId;

describe("a refusal of a user's first refund, answered late while the second is being made", () => {
  it("leaves the second refund to its own run, so that its later failure is the order's", async () => {
    // Prepare: a paid order whose user asks for the money back; the gateway refuses the refund
    // under its first key, to both runs of its check; the slow run's answer and the second
    // refund's answer come only when released.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    await p.lifecycle.refund(demoAgent.ownerId, order.orderId, 'refund-1', {});
    const gate = gatedRefunds(p.gateway);
    const check = { orderId: order.orderId, check: 0 };

    // Act: the slow run sends the first request; the other run is refused and puts the order
    // back to PAID; the user asks again; the second refund is made, its answer held; the slow
    // run hears its refusal; then the second run its answer; the follow-up looks run; the
    // second refund fails at the bank, and the gateway says so.
    const slowRun = p.reconcile(check, 1);
    await gate.firstSent;
    await p.reconcile(check, 1);
    await p.lifecycle.refund(demoAgent.ownerId, order.orderId, 'refund-2', {});
    const secondRun = p.reconcile(check, 1);
    await gate.secondMade;
    gate.releaseFirst();
    await slowRun;
    gate.releaseSecond();
    await secondRun;
    await p.runChecks();
    const second = `re_refund_${order.orderId}_2`;
    p.gateway.refunds.delete(`refund_${order.orderId}_2`);
    await p.handleEvent(p.refundFailed(order, second));

    // Assess: the order owes the money again and is held for a person, as a refund of its own
    // that failed is.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect(p.netCaptured(end)).toBe(end.amount);
    expect(end).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
      refundId: second,
    });
  });
});

/**
 * Refunds under the first key are refused (the first call when released); the first refund under
 * another key is made and answered when released; any later call goes to the gateway as it is.
 */
function gatedRefunds(gateway: { refund(request: RefundRequest): Promise<RefundOutcome> }) {
  const refund = gateway.refund.bind(gateway);
  const refusal: RefundOutcome = { kind: 'rejected', reason: 'charge_disputed' };
  const signal = () => {
    let resolve = () => {};
    const promise = new Promise<void>((done) => {
      resolve = done;
    });
    return { promise, resolve };
  };
  const [firstSent, firstReleased, secondMade, secondReleased] = [
    signal(),
    signal(),
    signal(),
    signal(),
  ];
  let calls = 0;
  gateway.refund = async (request) => {
    calls++;
    if (calls === 1) {
      firstSent.resolve();
      await firstReleased.promise;
      return refusal;
    }
    if (calls === 2) return refusal;
    const outcome = await refund(request);
    if (calls === 3) {
      secondMade.resolve();
      await secondReleased.promise;
    }
    return outcome;
  };
  return {
    firstSent: firstSent.promise,
    secondMade: secondMade.promise,
    releaseFirst: firstReleased.resolve,
    releaseSecond: secondReleased.resolve,
  };
}
