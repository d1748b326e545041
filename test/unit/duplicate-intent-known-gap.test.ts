import { describe, expect, it } from 'vitest';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * An agent places an order, its HTTP call times out before the 202 comes back (the order was
 * stored and queued), and the agent's tool layer retries the call under a fresh Idempotency-Key,
 * as many HTTP clients and agent frameworks do. DESIGN §5 says "the same intent under a new key
 * within 300 s waits for the user (POSSIBLE_DUPLICATE)"; intake has no such guard, so both
 * orders are auto-paid and the user pays twice for one coffee.
 */

const agentId = 'demo-agent';

describe('the same intent placed again under a new key', () => {
  // Known gap: intake has no POSSIBLE_DUPLICATE guard yet. Once it has, this fails: flip it to it().
  it.fails('is paid a second time: no POSSIBLE_DUPLICATE guard makes it wait for the user', async () => {
    // Prepare: the first placement is stored, queued and paid.
    const p = fakePipeline();
    const first = await p.placeOrder({ agentId, idempotencyKey: 'call-1', body: latteOrder });
    await p.submit({ orderId: first.order.orderId, agentId }, firstDelivery);

    // Act: ten seconds later the same order comes again under the retry's own key.
    p.clock.advance(10);
    const second = await p.placeOrder({
      agentId,
      idempotencyKey: 'call-1-retry',
      body: latteOrder,
    });
    if (second.order.status === 'PENDING_PAYMENT') {
      await p.submit({ orderId: second.order.orderId, agentId }, firstDelivery);
    }

    // Assess: one coffee, one charge; the second placement waits for the user to say it is meant.
    expect({ status: second.order.status, charges: p.gateway.chargeCount() }).toEqual({
      status: 'AWAITING_CONFIRMATION',
      charges: 1,
    });
  });
});
