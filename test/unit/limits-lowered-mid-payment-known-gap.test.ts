import { describe, expect, it } from 'vitest';
import type { AgentProfile } from '#domain/agent.ts';
import type { Order } from '#domain/order.ts';
import { type FakePipeline, fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * Known gap. The API says a change of an agent's trust or limits "applies to the agent's next
 * order (intake and payment read the agent on every order)", and payment submission reads the
 * agent right before every charge; but it only holds the order when the agent is suspended. An
 * order paid at once that waits in the payment queue (payments paused by an operator, a gateway
 * outage retried for hours within the 24 h payment window, the breaker open) is charged after
 * its user took away the agent's right to pay on its own, or lowered its per-order limit below
 * the order's amount: the money is taken without the consent the order was placed under. The
 * agent's item is already read there, so holding such an order (as a suspension does, for its
 * user to confirm or cancel) costs no read and no write more; it needs a hold reason of its own
 * in the API, the notifications and the MCP tool's answers.
 */

const agentId = demoAgent.agentId;

/** The user's change to the agent, made after the order was queued and before its delivery. */
function changeAgent(p: FakePipeline, change: Partial<AgentProfile>): void {
  const get = p.agents.get.bind(p.agents);
  p.agents.get = async (id) => {
    const agent = await get(id);
    return agent && { ...agent, ...change };
  };
}

async function deliverAfter(change: Partial<AgentProfile>) {
  const p = fakePipeline();
  const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
  changeAgent(p, change);
  await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
  const end = (await p.orders.get(order.orderId)) as Order;
  return { status: end.status, charges: p.gateway.chargeCount() };
}

describe('an order paid at once whose agent its user restrains while the payment waits', () => {
  it.fails('is held for its user, not charged, once the agent may no longer pay on its own', async () => {
    // Prepare, Act: the user takes `submit_payment` from the agent's trusted actions.
    const end = await deliverAfter({ trustedActions: ['order_coffee'] });

    // Assess
    expect(end).toEqual({ status: 'HELD_FOR_REVIEW', charges: 0 });
  });

  it.fails("is held for its user, not charged, once its amount is over the agent's per-order limit", async () => {
    // Prepare, Act: the user lowers the per-order limit from 50.00 to 1.00 CNY.
    const end = await deliverAfter({ perOrderLimit: 100 });

    // Assess
    expect(end).toEqual({ status: 'HELD_FOR_REVIEW', charges: 0 });
  });
});
