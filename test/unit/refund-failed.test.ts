import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { fakePipeline, firstDelivery, refundAskedOrder } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * A refund of ours that the gateway fails after it succeeded (the card was closed): the money is
 * back with the merchant. The order owes it again (REFUND_PENDING, REFUND_FAILED), an alarm goes
 * off, and nothing more is sent: a refund only goes back to the card that paid, and under the
 * order's key the gateway would replay the success. A person pays the user back.
 */

const agentId = 'demo-agent';

const ownRefundId = (order: Order) => `re_refund_${order.orderId}`;

describe('a refund of ours that the gateway fails after it succeeded', () => {
  it('moves a REFUNDED order back to owing the refund, held for a person, and alarms once', async () => {
    // Prepare
    const p = fakePipeline();
    const order = await refundAskedOrder(p);
    await p.runChecks();
    expect((await p.orders.get(order.orderId))?.status).toBe('REFUNDED');

    // Act: Stripe tells it twice (refund.failed and refund.updated), and once more.
    const outcomes = [
      await p.handleEvent(p.refundFailed(order, ownRefundId(order), 'evt_f1')),
      await p.handleEvent(p.refundFailed(order, ownRefundId(order), 'evt_u1')),
      await p.handleEvent(p.refundFailed(order, ownRefundId(order), 'evt_f1')),
    ];

    // Assess
    const end = await p.orders.get(order.orderId);
    expect(outcomes).toEqual([
      { result: 'applied', status: 'REFUND_PENDING' },
      { result: 'unchanged', status: 'REFUND_PENDING' },
      { result: 'unchanged', status: 'REFUND_PENDING' },
    ]);
    expect(end).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
      refundId: ownRefundId(order),
      refundFailure: 'expired_or_canceled_card',
    });
    expect(end?.dueAt).toBeUndefined();
    expect(end?.history.at(-1)).toMatchObject({
      from: 'REFUNDED',
      to: 'REFUND_PENDING',
      cause: 'REFUND_FAILED',
      errorCode: 'REFUND_FAILED',
    });
    expect(p.told.refundFailed).toBe(1);
  });

  it('sends no refund again for the held order, whoever asks the reconciler', async () => {
    // Prepare
    const p = fakePipeline();
    const order = await refundAskedOrder(p);
    await p.runChecks();
    await p.handleEvent(p.refundFailed(order, ownRefundId(order)));
    const held = await p.orders.get(order.orderId);
    const calls = p.gateway.calls.length;

    // Act
    const result = await p.reconcile({ orderId: order.orderId, check: 0 }, 1);

    // Assess
    expect(result).toEqual({
      kind: 'done',
      detail: 'refund failed at the gateway: held for a person',
    });
    expect(p.gateway.calls.slice(calls)).toEqual([]);
    expect(await p.orders.get(order.orderId)).toEqual(held);
  });

  it('holds the order when the failure is told before the success is recorded, and keeps it held', async () => {
    // Prepare: the refund is made; its failure arrives before the reconciler records it.
    const p = fakePipeline();
    const order = await refundAskedOrder(p);

    // Act
    const failed = await p.handleEvent(p.refundFailed(order, ownRefundId(order)));
    await p.runChecks();
    const lateSuccess = await p.handleEvent({
      ...p.refundFailed(order, ownRefundId(order), 'evt_s1'),
      type: 'refund.succeeded',
    });

    // Assess
    const end = await p.orders.get(order.orderId);
    expect(failed).toEqual({ result: 'applied', status: 'REFUND_PENDING' });
    expect(lateSuccess).toEqual({ result: 'unchanged', status: 'REFUND_PENDING' });
    // It owes the money rather than keeping it: its auto-pay budget is given back, as a refund's.
    expect(end).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
      spendReleased: true,
    });
    expect(end?.history.map((entry) => entry.cause)).toEqual([
      'INTAKE',
      'GATEWAY_SUCCEEDED',
      'REFUND_REQUESTED',
      'REFUND_FAILED',
    ]);
  });

  it('does not record the success of a refund whose failure came first, when the answer arrives late', async () => {
    // Prepare: the refund is made and its answer is lost; its failure is told; the reconciler
    // sends it again under the same key and the gateway replays the success.
    const p = fakePipeline();
    const order = await refundAskedOrder(p);
    p.gateway.refundScript.push({ kind: 'unknown', detail: 'timeout' });
    await p.runChecks();
    await p.gateway.refund({
      paymentId: p.gateway.charges.get(order.orderId)?.paymentId ?? '',
      amount: order.amount,
      currency: order.currency,
      idempotencyKey: `refund_${order.orderId}`,
    });
    await p.handleEvent(p.refundFailed(order, ownRefundId(order)));

    // Act
    await p.runChecks();

    // Assess
    expect(await p.orders.get(order.orderId)).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
    });
  });

  it('finds the failure by looking the refund up again when its events were lost', async () => {
    // Prepare: refunded; the gateway then fails the refund and no event of it arrives.
    const p = fakePipeline();
    const order = await refundAskedOrder(p);
    await p.runChecks();
    p.gateway.refunds.delete(`refund_${order.orderId}`);

    // Act: the check the reconciler scheduled when it recorded the refund.
    const looked = await p.reconcile({ orderId: order.orderId, check: 0 }, 1);
    const again = await p.reconcile({ orderId: order.orderId, check: 0 }, 1);

    // Assess
    expect([looked, again]).toEqual([
      { kind: 'done', detail: 'refund failed' },
      { kind: 'done', detail: 'refund failed at the gateway: held for a person' },
    ]);
    expect(await p.orders.get(order.orderId)).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
      refundFailure: 'unknown',
    });
    expect(p.told.refundFailed).toBe(1);
  });

  it('holds the order when the gateway answers a refund sent again that it failed since', async () => {
    // Prepare: the refund's answer was lost; it failed since, and its event was lost too.
    const p = fakePipeline();
    const order = await refundAskedOrder(p);
    p.gateway.refundScript.push({
      kind: 'failed',
      refundId: 're_lost',
      reason: 'lost_or_stolen_card',
    });

    // Act
    await p.runChecks();

    // Assess
    expect(await p.orders.get(order.orderId)).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
      refundId: 're_lost',
      refundFailure: 'lost_or_stolen_card',
    });
    expect(p.told.refundFailed).toBe(1);
  });

  it("ignores the failure of a refund that is not the order's own, with its reason", async () => {
    // Prepare
    const p = fakePipeline();
    const order = await refundAskedOrder(p);
    await p.runChecks();
    const refunded = await p.orders.get(order.orderId);

    // Act: another party's refund of the payment failed; so did one for another payment.
    const foreign = await p.handleEvent(p.refundFailed(order, 're_someone_else'));
    const otherPayment = await p.handleEvent({
      ...p.refundFailed(order, ownRefundId(order)),
      data: { ...p.refundFailed(order, ownRefundId(order)).data, paymentId: 'pay_other' },
    });

    // Assess
    expect([foreign, otherPayment]).toEqual([
      { result: 'unchanged', status: 'REFUNDED' },
      { result: 'unchanged', status: 'REFUNDED' },
    ]);
    expect(await p.orders.get(order.orderId)).toEqual(refunded);
    expect(p.told.refundFailed).toBe(0);
  });

  it('changes nothing on a PAID order that was never refunded', async () => {
    // Prepare
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Act
    const outcome = await p.handleEvent(p.refundFailed(order, 're_1'));

    // Assess
    expect(outcome).toEqual({ result: 'unchanged', status: 'PAID' });
  });
});
