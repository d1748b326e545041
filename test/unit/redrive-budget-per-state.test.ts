import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { type FakePipeline, fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * The sweep's redrive budget (SWEEP_REDRIVE_LIMIT, 10) is counted per state: it restarts when
 * the order changes state. A gateway outage of two and a half hours spends the budget while the
 * order waits in PENDING_PAYMENT (one redrive each 15 minutes). The gateway comes back, the
 * charge goes out PENDING, and the settlement checks are dead-lettered while the gateway's
 * lookups fail for a few minutes more. At the settlement deadline the sweep, the backstop for
 * exactly that, still has the settlement's own budget: it asks for the final check, and the
 * capture whose callback was lost is found and the order PAID.
 */

const agentId = 'demo-agent';

async function stored(p: FakePipeline, orderId: string): Promise<Order> {
  const order = await p.orders.get(orderId);
  if (order === undefined) throw new Error(`no order ${orderId}`);
  return order;
}

/** Advances to the order's deadline and runs the sweep there, as its schedule would. */
async function sweepWhenDue(p: FakePipeline, orderId: string): Promise<void> {
  const { dueAt } = await stored(p, orderId);
  if (dueAt !== undefined) {
    p.clock.advance(Math.max(0, (Date.parse(dueAt) - p.clock.now().getTime()) / 1000));
  }
  await p.sweep();
}

describe('a redrive budget spent waiting for the gateway in PENDING_PAYMENT', () => {
  it('leaves the settlement of the payment that then went out its own budget, and the order ends PAID', async () => {
    // Prepare: the first delivery meets the outage, which puts the order in the due index; it
    // waits the outage out there; every message the sweep sends meets it.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.gateway.chargeScript.push({ kind: 'unavailable', detail: 'HTTP 503' });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    for (let outage = 0; outage < 10; outage++) await sweepWhenDue(p, order.orderId);
    expect(p.payments.sent).toHaveLength(11);

    // The gateway is back: the payment goes out PENDING; its checks are dead-lettered.
    p.gateway.nextStatus = 'pending';
    await p.submit({ orderId: order.orderId, agentId }, { ...firstDelivery, receiveCount: 2 });
    expect((await stored(p, order.orderId)).status).toBe('AWAITING_SETTLEMENT');
    const deadLettered = p.checks.scheduled.length;

    // Act: the sweep meets the overdue settlement; the gateway captures, the callback is lost;
    // whatever the sweep asks of the reconciler is delivered, for a week.
    await sweepWhenDue(p, order.orderId);
    p.gateway.settle(order.orderId, 'succeeded');
    for (let day = 0; day < 7; day++) {
      for (const check of p.checks.scheduled.splice(deadLettered)) {
        await p.reconcile({ orderId: check.orderId, check: check.check }, 1);
      }
      p.clock.advance(24 * 3600);
      await p.sweep();
    }

    // Assess: the money the gateway took is the order's payment, and the order says so.
    const end = await stored(p, order.orderId);
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({ status: 'PAID', kept: 450 });
  });
});
