import { describe, expect, it } from 'vitest';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * The gateway adapter reads any 4xx it did not expect (a 404 or a 400 from a proxy during the
 * gateway's deploy, say) as the refund refused for good. The order goes back to PAID with
 * REFUND_REJECTED and an alarm asks a person to settle it by hand; but the order keeps the
 * user's refund key, so every later refund through autopay, the operator's
 * `npm run ops -- refund` included, answers 409. What is left is a refund at the gateway's
 * dashboard, which autopay records as foreign while the order stays PAID with its money back.
 */

const agentId = 'demo-agent';

describe('a refund the gateway refused once', () => {
  it('can be asked again, by the operator, once the cause is gone', async () => {
    // Prepare: a paid order; the user's refund meets a 4xx the adapter reads as a refusal.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    p.gateway.refundScript.push({ kind: 'rejected', reason: 'http 404' });
    await p.lifecycle.refund(agentId, order.orderId, 'user-refund-1', {});
    await p.runChecks();
    expect((await p.orders.get(order.orderId))?.status).toBe('PAID');

    // Act: the operator asks for the refund with the tool autopay gives operators.
    const asked = await p.lifecycle.refund(agentId, order.orderId, 'operator-refund', {}).then(
      (result) => result.order.status,
      (error: { code?: string }) => error.code,
    );
    await p.runChecks();

    // Assess
    const end = await p.orders.get(order.orderId);
    expect({ asked, status: end?.status }).toEqual({
      asked: 'REFUND_PENDING',
      status: 'REFUNDED',
    });
  });
});
