import { describe, expect, it } from 'vitest';
import type { AgentProfile } from '#domain/agent.ts';
import { eventOfChange } from '#domain/notifications.ts';
import type { HoldReason, Order } from '#domain/order.ts';
import { userPrincipal } from '#domain/principal.ts';
import { spendKeyOf } from '../fakes/in-memory.ts';
import { type FakePipeline, fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * A change of an agent's trust or limits applies to its orders not yet sent to the gateway:
 * payment submission reads the agent right before every charge, and an order paid at once that
 * the agent's profile would no longer pay without asking (its action or paying no longer trusted,
 * another limit currency, a per-order limit below the amount) is held for its user to confirm or
 * cancel, as a suspension holds it. The daily limit is not asked again: intake claimed the
 * order's share of it atomically.
 */

const agentId = demoAgent.agentId;
const owner = demoAgent.ownerId;

/** The user's change to the agent, made after the order was queued and before its delivery. */
function changeAgent(p: FakePipeline, change: Partial<AgentProfile>): void {
  const get = p.agents.get.bind(p.agents);
  p.agents.get = async (id) => {
    const agent = await get(id);
    return agent && { ...agent, ...change };
  };
}

async function placeThenChange(change: Partial<AgentProfile>) {
  const p = fakePipeline();
  const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
  changeAgent(p, change);
  return { p, order };
}

async function deliverAfter(change: Partial<AgentProfile>) {
  const { p, order } = await placeThenChange(change);
  await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
  const end = (await p.orders.get(order.orderId)) as Order;
  return { status: end.status, holdReason: end.holdReason, charges: p.gateway.chargeCount() };
}

function spentToday(p: FakePipeline): number {
  return p.orders.spent.get(spendKeyOf({ agentId, day: '2026-11-23' })) ?? 0;
}

describe('an order paid at once whose agent its user restrains while the payment waits', () => {
  it.each<[string, Partial<AgentProfile>, HoldReason]>([
    [
      'takes `submit_payment` from its trusted actions',
      { trustedActions: ['order_coffee'] },
      'ACTION_NOT_TRUSTED',
    ],
    [
      "takes the order's action from its trusted actions",
      { trustedActions: ['submit_payment'] },
      'ACTION_NOT_TRUSTED',
    ],
    ['sets its limits in another currency', { limitCurrency: 'USD' }, 'LIMIT_CURRENCY_MISMATCH'],
    ['lowers its per-order limit below the amount', { perOrderLimit: 100 }, 'OVER_ORDER_LIMIT'],
  ])('is held for its user, not charged, when the user %s', async (_change, change, reason) => {
    // Prepare, Act
    const end = await deliverAfter(change);

    // Assess
    expect(end).toEqual({ status: 'HELD_FOR_REVIEW', holdReason: reason, charges: 0 });
  });

  it('is charged when the per-order limit is lowered to its amount, or the daily limit below it', async () => {
    // Prepare, Act: intake claimed the order's share of the day's budget; it stands.
    const end = await deliverAfter({ perOrderLimit: latteOrder.amount, dailyLimit: 100 });

    // Assess
    expect(end).toEqual({ status: 'PAID', holdReason: undefined, charges: 1 });
  });

  it('costs one read of the agent and one write, as a suspension hold does', async () => {
    // Prepare
    const { p, order } = await placeThenChange({ perOrderLimit: 100 });
    const reads = p.agents.reads;
    const writes = p.orders.writes;

    // Act
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Assess: the hold enters the due index for an operator, as any review does.
    expect(p.agents.reads - reads).toBe(1);
    expect(p.orders.writes - writes).toBe(1);
    expect((await p.orders.get(order.orderId))?.dueAt).toBe('2026-11-24T09:30:00.000Z');
  });

  it('tells its user, with the reason, as `order.held_for_review`', async () => {
    // Prepare
    const { p, order } = await placeThenChange({ trustedActions: ['order_coffee'] });
    const before = (await p.orders.get(order.orderId)) as Order;

    // Act
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    const after = (await p.orders.get(order.orderId)) as Order;
    const told = eventOfChange({ kind: 'order', before, after, sequenceNumber: '1' });

    // Assess
    expect(told?.event).toMatchObject({
      type: 'order.held_for_review',
      data: { reason: 'ACTION_NOT_TRUSTED', order: { holdReason: 'ACTION_NOT_TRUSTED' } },
    });
  });

  it('is paid once its user confirms it, restrained agent or not, keeping its claim on the day', async () => {
    // Prepare
    const { p, order } = await placeThenChange({ perOrderLimit: 100 });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Act
    await p.lifecycle.confirm(owner, order.orderId);
    const result = await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Assess: looked up first, since a racing delivery may have charged it before the hold.
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
    expect(p.gateway.calls).toEqual([`lookup:${order.orderId}`, `charge:${order.orderId}`]);
    expect(spentToday(p)).toBe(latteOrder.amount);
  });

  it('is never charged once its user cancels it, and gives its claim on the day back', async () => {
    // Prepare
    const { p, order } = await placeThenChange({ limitCurrency: 'USD' });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    expect(spentToday(p)).toBe(latteOrder.amount);

    // Act
    await p.lifecycle.cancel(userPrincipal(owner), order.orderId);
    const redelivered = await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Assess
    expect(redelivered.kind).toBe('done');
    expect((await p.orders.get(order.orderId))?.status).toBe('CANCELLED');
    expect(p.gateway.chargeCount()).toBe(0);
    expect(spentToday(p)).toBe(0);
  });

  it('is paid, not held, when an earlier delivery whose answer was lost had charged it', async () => {
    // Prepare: the first delivery charges and loses the answer; then the user restrains the agent.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.gateway.chargeScript.push('charge-then-unknown');
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    changeAgent(p, { trustedActions: ['order_coffee'] });

    // Act
    const result = await p.submit(
      { orderId: order.orderId, agentId },
      { ...firstDelivery, receiveCount: 2 },
    );

    // Assess: the gateway is asked before the hold, and the money it took is the order's payment.
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
    expect(p.gateway.calls).toEqual([`charge:${order.orderId}`, `lookup:${order.orderId}`]);
    expect(p.gateway.chargeCount()).toBe(1);
  });

  it('is held after the lookup when an earlier delivery whose outcome is unknown charged nothing', async () => {
    // Prepare: the first delivery times out before reaching the gateway.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.gateway.chargeScript.push({ kind: 'unknown', detail: 'timed out' });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    changeAgent(p, { perOrderLimit: 100 });

    // Act
    const result = await p.submit(
      { orderId: order.orderId, agentId },
      { ...firstDelivery, receiveCount: 2 },
    );

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'HELD_FOR_REVIEW' });
    expect(p.gateway.calls).toEqual([`charge:${order.orderId}`, `lookup:${order.orderId}`]);
    expect(p.gateway.chargeCount()).toBe(0);
  });
});
