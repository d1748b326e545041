import { describe, expect, it } from 'vitest';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * An agent places an order, its HTTP call times out before the 202 comes back (the order was
 * stored and queued), and the agent's tool layer retries the call under a fresh Idempotency-Key,
 * as many HTTP clients and agent frameworks do. The same intent under a new key within 300 s
 * waits for the user (POSSIBLE_DUPLICATE): one coffee, one charge, unless the user says so.
 */

const agentId = 'demo-agent';

describe('the same intent placed again under a new key', () => {
  it('waits for the user as POSSIBLE_DUPLICATE instead of being paid a second time', async () => {
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
    expect({
      status: second.order.status,
      reason: second.order.confirmationReason,
      duplicateOf: second.order.duplicateOf,
      charges: p.gateway.chargeCount(),
    }).toEqual({
      status: 'AWAITING_CONFIRMATION',
      reason: 'POSSIBLE_DUPLICATE',
      duplicateOf: first.order.orderId,
      charges: 1,
    });
  });
});
