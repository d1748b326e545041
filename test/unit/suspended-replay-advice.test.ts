import { describe, expect, it } from 'vitest';
import { AutopayApiError } from '../../client/autopay-client.ts';
import type { AutopayError } from '../../lambdas/domain/errors.ts';
import { errorResult } from '../../mcp/outcomes.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * place_order's own description tells the model that calling again after a lost answer is safe
 * and returns the first order. Intake answers a replay only while the agent may place orders: once
 * its user suspended it, the same call answers AGENT_SUSPENDED, though the order of the first call
 * stands, paid perhaps. The model must not then tell its user that nothing was placed or charged.
 */

const agentId = demoAgent.agentId;

describe('a placement replayed after its agent was suspended', () => {
  it("is not told that nothing was placed, while the first call's order is paid", async () => {
    // Prepare: the agent's order is placed and paid, but the agent never got the answer; its user
    // suspends it.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    p.agents.setSuspended(agentId, true);

    // Act: the agent calls again with the same order, as it is told it safely may.
    const refused = (await p
      .placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder })
      .catch((error: unknown) => error)) as AutopayError;
    const told = errorResult(
      new AutopayApiError(refused.status, refused.code, refused.message),
      'place',
    );

    // Assess: the order is paid; the advice sends the model to look it up rather than deny it.
    const text = told.content.map((part) => ('text' in part ? part.text : '')).join(' ');
    expect((await p.orders.get(order.orderId))?.status).toBe('PAID');
    expect(refused.code).toBe('AGENT_SUSPENDED');
    expect(text).not.toMatch(/nothing was placed/i);
    expect(text).toMatch(/list_orders/);
  });
});
