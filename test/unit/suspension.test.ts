import { describe, expect, it } from 'vitest';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { cautiousAgent, demoAgent, latteOrder } from '../fixtures/orders.ts';

const agentId = demoAgent.agentId;

describe('a suspended agent', () => {
  it('has its new order refused with AGENT_SUSPENDED, and nothing is stored or queued', async () => {
    // Prepare
    const p = fakePipeline();
    p.agents.setSuspended(agentId, true);

    // Act
    const placing = p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });

    // Assess
    await expect(placing).rejects.toMatchObject({ code: 'AGENT_SUSPENDED', status: 403 });
    expect(p.orders.writes).toBe(0);
    expect(p.payments.sent).toEqual([]);
  });

  it('has its queued order held for its user instead of charged', async () => {
    // Prepare: the order was queued before the user suspended the agent.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.agents.setSuspended(agentId, true);

    // Act
    const result = await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'HELD_FOR_REVIEW' });
    expect(await p.orders.get(order.orderId)).toMatchObject({
      status: 'HELD_FOR_REVIEW',
      holdReason: 'AGENT_SUSPENDED',
    });
    expect(p.gateway.calls).toEqual([]);
  });

  it('pays the held order once its user confirms it, suspended or not', async () => {
    // Prepare
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.agents.setSuspended(agentId, true);
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Act
    await p.lifecycle.confirm(demoAgent.ownerId, order.orderId);
    const result = await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
    // Looked up first: a racing delivery may have charged it before the hold.
    expect(p.gateway.calls).toEqual([`lookup:${order.orderId}`, `charge:${order.orderId}`]);
  });

  it('pays an order its user confirmed while it waited, with one confirmation', async () => {
    // Prepare: an order of an agent not trusted to pay waits for its user; the user suspends the
    // agent, then confirms that order.
    const p = fakePipeline();
    const cautious = cautiousAgent.agentId;
    const { order } = await p.placeOrder({
      agentId: cautious,
      idempotencyKey: 'k-1',
      body: latteOrder,
    });
    p.agents.setSuspended(cautious, true);
    await p.lifecycle.confirm(cautiousAgent.ownerId, order.orderId);

    // Act
    const result = await p.submit({ orderId: order.orderId, agentId: cautious }, firstDelivery);

    // Assess: the confirmation is the user's consent to this order, as one out of a hold is.
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
  });

  it('costs payment submission one read of the agent, and no write, when it is not suspended', async () => {
    // Prepare
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    const reads = p.agents.reads;
    const writes = p.orders.writes;

    // Act
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Assess
    expect(p.agents.reads - reads).toBe(1);
    expect(p.orders.writes - writes).toBe(1);
  });
});
