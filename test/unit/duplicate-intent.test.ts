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

type Body = Parameters<ReturnType<typeof fakePipeline>['placeOrder']>[0]['body'];

/** The first placement paid, the retry placed ten seconds later: what became of the retry. */
async function placeAndRetry(first: Body, retry: Body) {
  // Prepare: the first placement is stored, queued and paid.
  const p = fakePipeline();
  const placed = await p.placeOrder({ agentId, idempotencyKey: 'call-1', body: first });
  await p.submit({ orderId: placed.order.orderId, agentId }, firstDelivery);

  // Act: ten seconds later the same order comes again under the retry's own key.
  p.clock.advance(10);
  const second = await p.placeOrder({ agentId, idempotencyKey: 'call-1-retry', body: retry });
  if (second.order.status === 'PENDING_PAYMENT') {
    await p.submit({ orderId: second.order.orderId, agentId }, firstDelivery);
  }
  return {
    firstOrderId: placed.order.orderId,
    retried: {
      status: second.order.status,
      reason: second.order.confirmationReason,
      duplicateOf: second.order.duplicateOf,
      charges: p.gateway.chargeCount(),
    },
  };
}

/** A retry that waits for its user, the first order charged once. */
function waitingAsDuplicateOf(firstOrderId: string) {
  return {
    status: 'AWAITING_CONFIRMATION',
    reason: 'POSSIBLE_DUPLICATE',
    duplicateOf: firstOrderId,
    charges: 1,
  };
}

describe('the same intent placed again under a new key', () => {
  it('waits for the user as POSSIBLE_DUPLICATE instead of being paid a second time', async () => {
    const { firstOrderId, retried } = await placeAndRetry(latteOrder, latteOrder);

    // Assess: one coffee, one charge; the second placement waits for the user to say it is meant.
    expect(retried).toEqual(waitingAsDuplicateOf(firstOrderId));
  });

  // The retry may rebuild the same cart in another order (a set serialised anew, or a model
  // writing the call again): hashed as listed, it would be paid too, the cart's 980 charged twice.
  it('is the same intent with the cart listed in another order, its fields too', async () => {
    const latte = { sku: 'latte', size: 'medium', quantity: 1 } as const;
    const muffin = { sku: 'muffin', quantity: 1 } as const;
    const cart = { ...latteOrder, items: [latte, muffin], amount: 980 };
    const reordered = { ...cart, items: [{ quantity: 1, sku: 'muffin' }, latte] };

    const { firstOrderId, retried } = await placeAndRetry(cart, reordered);

    // Assess: one cart, one charge.
    expect(retried).toEqual(waitingAsDuplicateOf(firstOrderId));
  });
});
