import { describe, expect, it } from 'vitest';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * An agent whose call timed out retries under a fresh key and rebuilds the same cart in another
 * order (a latte and a muffin, then a muffin and a latte: a set serialised anew, or a model
 * writing the call again). It is the same intent: were the items hashed as listed, the retry
 * would be paid too, and the user charged the cart's amount (here 980) twice.
 */

const agentId = 'demo-agent';
const latte = { sku: 'latte', size: 'medium', quantity: 1 } as const;
const muffin = { sku: 'muffin', quantity: 1 } as const;
const cart = { ...latteOrder, items: [latte, muffin], amount: 980 };

describe('the same cart placed again under a new key, its items listed in another order', () => {
  it('waits for the user as POSSIBLE_DUPLICATE instead of being paid a second time', async () => {
    // Prepare: the first placement is stored, queued and paid.
    const p = fakePipeline();
    const first = await p.placeOrder({ agentId, idempotencyKey: 'call-1', body: cart });
    await p.submit({ orderId: first.order.orderId, agentId }, firstDelivery);

    // Act: ten seconds later the same cart comes again, muffin first, under the retry's own key.
    p.clock.advance(10);
    const second = await p.placeOrder({
      agentId,
      idempotencyKey: 'call-1-retry',
      body: { ...cart, items: [muffin, latte] },
    });
    if (second.order.status === 'PENDING_PAYMENT') {
      await p.submit({ orderId: second.order.orderId, agentId }, firstDelivery);
    }

    // Assess: one cart, one charge.
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
