import { describe, expect, it } from 'vitest';
import type { AgentProfile } from '#domain/agent.ts';
import type { Order } from '#domain/order.ts';
import { userPrincipal } from '#domain/principal.ts';
import { spendKeyOf } from '../fakes/in-memory.ts';
import { type FakePipeline, fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * The user restrains the agent while one delivery's charge is out: a second delivery of the same
 * message holds the order for the restraint. Whether the first delivery's answer comes late or
 * never, and whether the user then confirms or cancels the held order, the money ends kept on a
 * PAID order or given back, charged once, and the day's budget holds what was kept.
 */

const agentId = demoAgent.agentId;
const owner = userPrincipal(demoAgent.ownerId);

function restrain(p: FakePipeline, change: Partial<AgentProfile>): void {
  const get = p.agents.get.bind(p.agents);
  p.agents.get = async (id) => {
    const agent = await get(id);
    return agent && { ...agent, ...change };
  };
}

async function heldWhileCharging(late: boolean) {
  const p = fakePipeline();
  const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
  const request = { orderId: order.orderId, agentId };
  const slow = p.gateway.holdNextAnswer();
  const first = p.submit(request, firstDelivery);
  await slow.charged;
  restrain(p, { perOrderLimit: 100 });
  const second = await p.submit(request, firstDelivery);
  expect(second).toEqual({ kind: 'done', detail: 'HELD_FOR_REVIEW' });
  if (late) {
    slow.release();
    await first;
  }
  return { p, order };
}

async function settle(p: FakePipeline, order: Order) {
  await p.runChecks();
  const end = (await p.orders.get(order.orderId)) as Order;
  const spent = p.orders.spent.get(spendKeyOf({ agentId, day: '2026-11-23' })) ?? 0;
  return {
    status: end.status,
    charges: p.gateway.chargeCount(),
    net: p.netCaptured(end),
    spent,
  };
}

describe('a restraint hold racing a delivery whose charge is out', () => {
  it.each([true, false])('answer comes late=%s, the user confirms: PAID once', async (late) => {
    const { p, order } = await heldWhileCharging(late);
    const now = (await p.orders.get(order.orderId)) as Order;
    if (now.status === 'HELD_FOR_REVIEW') {
      await p.lifecycle.confirm(demoAgent.ownerId, order.orderId);
      await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    }
    const end = await settle(p, order);
    expect(end).toEqual({
      status: 'PAID',
      charges: 1,
      net: latteOrder.amount,
      spent: latteOrder.amount,
    });
  });

  it.each([true, false])(
    'answer comes late=%s, the user cancels: the money kept only if PAID',
    async (late) => {
      const { p, order } = await heldWhileCharging(late);
      await p.lifecycle.cancel(owner, order.orderId).catch(() => undefined);
      await p.submit({ orderId: order.orderId, agentId }, { ...firstDelivery, receiveCount: 2 });
      const end = await settle(p, order);
      expect(end.charges).toBe(1);
      expect(end.net).toBe(end.status === 'PAID' ? latteOrder.amount : 0);
      expect(end.spent).toBe(end.status === 'PAID' ? latteOrder.amount : 0);
    },
  );
});

describe('a restraint hold racing a delivery whose charge is declined late', () => {
  it('leaves the order held; confirmed, it is looked up, FAILED, and its claim on the day given back', async () => {
    // Prepare: the first delivery's charge is declined, its answer held while the user restrains
    // the agent and a second delivery holds the order.
    const p = fakePipeline();
    p.gateway.nextStatus = 'declined';
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    const request = { orderId: order.orderId, agentId };
    const slow = p.gateway.holdNextAnswer();
    const first = p.submit(request, firstDelivery);
    await slow.charged;
    restrain(p, { trustedActions: ['order_coffee'] });
    await p.submit(request, firstDelivery);
    slow.release();

    // Act
    const late = await first;
    await p.runChecks();
    const held = (await p.orders.get(order.orderId)) as Order;
    await p.lifecycle.confirm(demoAgent.ownerId, order.orderId);
    const confirmed = await p.submit(request, firstDelivery);

    // Assess: the decline cannot end a held order (the lookup after the hold finds it and leaves
    // the order held); the user's confirmation looks it up again, and charges nothing.
    expect(late).toEqual({ kind: 'done', detail: 'already HELD_FOR_REVIEW' });
    expect(held.status).toBe('HELD_FOR_REVIEW');
    expect(confirmed).toEqual({ kind: 'done', detail: 'FAILED' });
    expect(p.gateway.calls).toEqual([
      `charge:${order.orderId}`,
      `lookup:${order.orderId}`,
      `lookup:${order.orderId}`,
    ]);
    expect(await settle(p, order)).toEqual({ status: 'FAILED', charges: 1, net: 0, spent: 0 });
  });
});

describe('a restraint hold after a lost answer whose charge the lookup missed', () => {
  it('is looked up a little later and found PAID, not left held with the money taken', async () => {
    // Prepare: the first delivery charges and loses the answer; the redelivery's lookup misses
    // the charge (Stripe's search lags), and the user has restrained the agent meanwhile.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    const request = { orderId: order.orderId, agentId };
    p.gateway.chargeScript.push('charge-then-unknown');
    await p.submit(request, firstDelivery);
    restrain(p, { limitCurrency: 'USD' });
    p.gateway.lookupScript.push({ kind: 'not-found' });
    const redelivered = await p.submit(request, { ...firstDelivery, receiveCount: 2 });
    expect(redelivered).toEqual({ kind: 'done', detail: 'HELD_FOR_REVIEW' });

    // Act: the checks scheduled so far, delivered when due; no sweep.
    await p.runChecks();

    // Assess: found within the settlement interval, not when the review falls due a day later.
    expect(p.clock.now().toISOString() < '2026-11-23T10:00:00.000Z').toBe(true);
    expect(await settle(p, order)).toEqual({
      status: 'PAID',
      charges: 1,
      net: latteOrder.amount,
      spent: latteOrder.amount,
    });
  });
});
