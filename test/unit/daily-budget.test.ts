import { describe, expect, it } from 'vitest';
import { spendClaimOf } from '#domain/agent.ts';
import { userPrincipal } from '#domain/principal.ts';
import { spendKeyOf } from '../fakes/in-memory.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

const agentId = 'demo-agent';
/** demo-agent may auto-pay 50.00 an order and 200.00 a day. */
const fifty = { ...latteOrder, amount: 5000 };
const today = spendKeyOf({ agentId, day: '2026-11-23' });

describe("an agent's daily auto-pay budget", () => {
  it('is given back when a card is declined, so the day is not lost to it', async () => {
    // Prepare: four orders of 50.00 take the whole day; the gateway declines the last one.
    const p = fakePipeline();
    const placed = [];
    for (const key of ['d1', 'd2', 'd3', 'd4']) {
      const body = { ...fifty, sessionId: key };
      placed.push((await p.placeOrder({ agentId, idempotencyKey: key, body })).order);
    }
    for (const [index, order] of placed.entries()) {
      p.gateway.nextStatus = index === 3 ? 'declined' : 'succeeded';
      await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    }

    // Act
    const next = await p.placeOrder({
      agentId,
      idempotencyKey: 'd5',
      body: { ...fifty, sessionId: 'd5' },
    });

    // Assess
    expect(next.order.status).toBe('PENDING_PAYMENT');
    expect(p.orders.spent.get(today)).toBe(20000);
    const declined = await p.orders.get(placed[3]?.orderId ?? '');
    expect(declined).toMatchObject({ status: 'FAILED', spendReleased: true });
  });

  it('is given back once when a held order is cancelled, however often the cancel is sent', async () => {
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.risk.script.push({ kind: 'assessed', level: 'review', requestId: 'r-1' });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    await p.lifecycle.cancel(userPrincipal(demoAgent.ownerId), order.orderId);
    await p.lifecycle.cancel(userPrincipal(demoAgent.ownerId), order.orderId);

    expect(p.orders.spent.get(today)).toBe(0);
  });

  it('names the agent-day an auto-paid order counted against, and none for a confirmed one', async () => {
    const p = fakePipeline();

    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });

    expect(spendClaimOf(order)).toEqual({ agentId, day: '2026-11-23', amount: 450 });
    expect(spendClaimOf({ ...order, spendDay: undefined })).toBeUndefined();
  });
});
