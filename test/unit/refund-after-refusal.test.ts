import { describe, expect, it } from 'vitest';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * A refund the gateway refused leaves the order PAID with REFUND_REJECTED and an alarm. The
 * cause may go away (a refusal the adapter could not tell from a proxy's 4xx once, a dispute
 * settled since): the user, or an operator with `npm run ops -- refund`, asks again under a new
 * Idempotency-Key, and the gateway is sent a refund under a key of its own, since the first
 * key would have it replay the refusal.
 */

const agentId = 'demo-agent';

describe('a refund the gateway refused once', () => {
  it('can be asked again under a new key, by the operator, and is sent under a gateway key of its own', async () => {
    // Prepare: a paid order; the gateway refuses the user's refund.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    p.gateway.refundScript.push({ kind: 'rejected', reason: 'invalid_state' });
    await p.lifecycle.refund(demoAgent.ownerId, order.orderId, 'user-refund-1', {});
    await p.runChecks();
    expect((await p.orders.get(order.orderId))?.status).toBe('PAID');

    // Act: the operator asks for the refund with the tool autopay gives operators.
    const asked = await p.lifecycle
      .refund(demoAgent.ownerId, order.orderId, 'operator-refund', {})
      .then(
        (result) => result.order.status,
        (error: { code?: string }) => error.code,
      );
    await p.runChecks();

    // Assess
    const end = await p.orders.get(order.orderId);
    expect({ asked, status: end?.status, gatewayKeys: [...p.gateway.refunds.keys()] }).toEqual({
      asked: 'REFUND_PENDING',
      status: 'REFUNDED',
      gatewayKeys: [`refund_${order.orderId}_2`],
    });
  });
});
