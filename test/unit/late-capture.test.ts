import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { secondsAfter } from '#domain/order-moves.ts';
import { type FakePipeline, fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * A void that does not hold: the gateway answers `voided`, then captures after all, and its
 * callback is lost. The reconciler looks the payment up an interval (300 s) after the void, then
 * the due index brings the order back for lookups 1 h and 24 h after it and at the end of the
 * capture window (7 days), each of which refunds what it finds; after the last the order leaves
 * the index.
 */

const agentId = 'demo-agent';
const minute = 60;
const hour = 3600;
const day = 24 * hour;

/** An order whose payment is pending at the gateway, and never settles by itself. */
async function pendingOrder(p: FakePipeline): Promise<Order> {
  const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
  p.gateway.nextStatus = 'pending';
  await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
  return order;
}

/** A pending payment that never settles, voided at its settlement deadline; the order FAILED. */
async function voidedOrder(p: FakePipeline): Promise<Order> {
  const order = await pendingOrder(p);
  // Every check up to the void, and the lookup an interval after it.
  await p.runChecks();
  return (await p.orders.get(order.orderId)) as Order;
}

/** The sweep every 5 minutes, with every check it schedules delivered, for `seconds`. */
async function sweepFor(p: FakePipeline, seconds: number): Promise<void> {
  for (let run = 0; run < seconds / 300; run++) {
    p.clock.advance(300);
    await p.sweep();
    await p.runChecks();
  }
}

/** The gateway captures the voided payment after all; its callback never comes. */
function captureDespiteVoid(p: FakePipeline, order: Order): void {
  const paymentId = p.gateway.charges.get(order.orderId)?.paymentId ?? '';
  p.gateway.charges.set(order.orderId, { kind: 'succeeded', paymentId });
}

describe('a capture that lands after the lookup that follows a void', () => {
  it('is found by a later lookup and given back: captured - refunded = 0', async () => {
    // Prepare: a pending payment that never settles is voided at its deadline; the lookup 300 s
    // later finds nothing.
    const p = fakePipeline();
    const order = await pendingOrder(p);
    await p.runChecks();
    expect(p.gateway.voided.size).toBe(1);
    expect((await p.orders.get(order.orderId))?.status).toBe('FAILED');

    // Act: ten minutes after the void the processor captures after all; the callback is lost.
    // The sweep runs for a week, and every check anything schedules is delivered.
    p.clock.advance(600);
    const { paymentId } = p.gateway.charges.get(order.orderId) ?? {};
    p.gateway.charges.set(order.orderId, { kind: 'succeeded', paymentId: paymentId ?? '' });
    for (let run = 0; run < 7 * 24 * 12; run++) {
      p.clock.advance(300);
      await p.sweep();
      await p.runChecks();
    }

    // Assess: money kept only on a PAID order.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({
      status: 'REFUNDED',
      kept: 0,
    });
  });

  it.each([
    ['just before the lookup an hour after the void', 55 * minute, hour],
    ['just before the lookup a day after the void', day - 5 * minute, day],
    ['on the last day of the capture window', 6 * day + 23 * hour, 7 * day],
  ])('is given back when it lands %s, by that lookup', async (_when, capturedAfter, foundBy) => {
    // Prepare
    const p = fakePipeline();
    const voided = await voidedOrder(p);
    const voidedAt = new Date(voided.voidedAt ?? '');
    const since = () => (p.clock.now().getTime() - voidedAt.getTime()) / 1000;

    // Act: the capture lands; the sweep runs on until the end of the window and after.
    await sweepFor(p, capturedAfter - since());
    captureDespiteVoid(p, voided);
    while (since() < 8 * day) await sweepFor(p, 300);

    // Assess: refunded by the lookup that followed the capture, alarmed, out of the index. The
    // refund's time is read from the order's history: a check delivered after it (the refund
    // looked at again) moves the fake clock on.
    const end = (await p.orders.get(voided.orderId)) as Order;
    const refundedAt = end.history.find((entry) => entry.to === 'REFUNDED')?.at ?? '';
    const refundedAfter = (new Date(refundedAt).getTime() - voidedAt.getTime()) / 1000;
    expect(end.status).toBe('REFUNDED');
    expect(end.compensation).toBe(true);
    expect(p.netCaptured(end)).toBe(0);
    expect(refundedAfter).toBe(foundBy);
    expect(p.told.lateSuccess).toBe(1);
    expect(end.dueAt).toBeUndefined();
  });
});

describe('a void that holds', () => {
  it('is looked up 5 min, 1 h, 24 h and 7 days after, then its order leaves the due index', async () => {
    // Prepare: record when the gateway is asked, counted from the void.
    const p = fakePipeline();
    const order = await pendingOrder(p);
    const lookedUpAt: number[] = [];
    const find = p.gateway.findByIdempotencyKey.bind(p.gateway);
    p.gateway.findByIdempotencyKey = (...args) => {
      const voidedAt =
        p.gateway.voided.size > 0 ? p.orders.orders.get(order.orderId)?.voidedAt : '';
      if (voidedAt) lookedUpAt.push((p.clock.now().getTime() - Date.parse(voidedAt)) / 1000);
      return find(...args);
    };
    await p.runChecks();
    const voided = (await p.orders.get(order.orderId)) as Order;
    expect(voided).toMatchObject({
      status: 'FAILED',
      lastError: 'SETTLEMENT_TIMEOUT',
      dueAt: secondsAfter(new Date(voided.voidedAt ?? ''), hour),
    });
    const writesAtVoid = p.orders.writes;

    // Act: the sweep every 5 minutes for eight days.
    await sweepFor(p, 8 * day);

    // Assess: four lookups, the order still FAILED and out of the index, nothing refunded; the
    // sweep wrote once per lookup it brought (the next lookup's time, then none).
    expect(lookedUpAt).toEqual([5 * minute, hour, day, 7 * day]);
    const end = (await p.orders.get(order.orderId)) as Order;
    expect(end).toMatchObject({ status: 'FAILED', version: voided.version });
    expect(end.dueAt).toBeUndefined();
    expect(p.orders.writes - writesAtVoid).toBe(3);
    expect(p.gateway.refunds.size).toBe(0);
    expect(p.told.lateSuccess).toBe(0);
  });

  it('starts its lookups from the callback that tells of it, when that comes before the reconciler writes', async () => {
    // Prepare: an order waiting for its settlement.
    const p = fakePipeline();
    const order = await pendingOrder(p);
    const paymentId = p.gateway.charges.get(order.orderId)?.paymentId ?? '';

    // Act: the gateway's `payment.failed` (voided) arrives first.
    await p.handleEvent({
      id: 'evt_void',
      type: 'payment.failed',
      created: Math.floor(p.clock.now().getTime() / 1000),
      data: {
        paymentId,
        idempotencyKey: order.orderId,
        amount: order.amount,
        currency: order.currency,
        declineCode: 'voided',
      },
    });

    // Assess
    const failed = (await p.orders.get(order.orderId)) as Order;
    expect(failed).toMatchObject({
      status: 'FAILED',
      lastError: 'SETTLEMENT_TIMEOUT',
      voidedAt: p.clock.now().toISOString(),
      dueAt: secondsAfter(p.clock.now(), hour),
    });
  });
});

describe('a paid order', () => {
  it('pays nothing for the lookups: never voided, never in the due index', async () => {
    // Prepare
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    const paid = (await p.orders.get(order.orderId)) as Order;
    const writes = p.orders.writes;

    // Act
    await sweepFor(p, day);

    // Assess
    expect(paid.status).toBe('PAID');
    expect(paid.voidedAt).toBeUndefined();
    expect(paid.dueAt).toBeUndefined();
    expect(p.orders.writes).toBe(writes);
    expect(p.checks.scheduled).toEqual([]);
  });
});
