import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import type { Order } from '#domain/order.ts';
import { terminalStatuses } from '#domain/order-state.ts';
import { signWebhookPayload } from '#domain/webhook-signature.ts';
import { signOwnerToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { defaultGatewayApiKeys } from '../../local/simulators/gateway/keys.ts';
import { sqsDelivery } from '../support/deliveries.ts';
import { AgentClient } from '../support/http.ts';

/*
 * A refund made at the gateway outside autopay (the merchant's support refunding from the
 * gateway's dashboard) is real money going back. When the gateway refuses autopay's own refund,
 * and before autopay sends a compensation, it asks the gateway how much of the payment was
 * refunded already: a payment refunded in full leaves the order REFUNDED, recorded as another's
 * refund. The queues are not polled: each delivery is handed to its function as Lambda would,
 * so the order of events is the test's.
 */

let stack: LocalRuntime;
let agent: AgentClient;
const agentId = 'demo-agent';

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'SILENT',
    seed: 23,
    pollers: false,
    // The gateway's events are delivered by the test, at the moment it says.
    callbacks: false,
    gatewayFaults: { autoSettle: false },
  });
  agent = await AgentClient.for(stack, agentId);
});

afterAll(async () => {
  await stack?.stop();
});

/** A call of the gateway's own API, as its dashboard or a delivery of ours makes it. */
async function gatewayPost(path: string, key: string, body: object) {
  const response = await fetch(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${defaultGatewayApiKeys[0]}`,
      'idempotency-key': key,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { id: string; amount: number };
}

/** The gateway's signed `refund.succeeded` for a refund it made of the order's payment. */
async function refundEvent(orderId: string, paymentId: string, refund: { id: string }) {
  const body = JSON.stringify({
    id: `evt_${randomUUID()}`,
    type: 'refund.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: { paymentId, idempotencyKey: orderId, amount: 450, currency: 'CNY', refundId: refund.id },
  });
  const now = Math.floor(Date.now() / 1000);
  const response = await fetch(`${stack.apiUrl}/v1/callbacks/simulator`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signWebhookPayload(body, ['whsec_autopay_local'], now),
    },
    body,
  });
  expect(response.status).toBe(200);
}

async function refundByTheUser(orderId: string) {
  const token = await signOwnerToken(agentId);
  const response = await fetch(`${stack.apiUrl}/v1/orders/${orderId}/refund`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'idempotency-key': `refund-${randomUUID()}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ reason: 'The coffee shop was closed' }),
  });
  expect(response.status).toBe(202);
}

async function stored(orderId: string): Promise<Order> {
  const order = await new DynamoDbOrderRepository(stack.dynamodb, stack.tableName).get(orderId);
  if (order === undefined) throw new Error(`no order ${orderId}`);
  return order;
}

/** What the gateway keeps of the order's money: captured minus refunded. */
function kept(orderId: string): number {
  const entry = stack.gateway.ledger().charges[orderId];
  return (entry?.captured ?? 0) - (entry?.refunded ?? 0);
}

describe('a refund made at the gateway outside autopay', () => {
  it("while the user's refund is out: the order ends REFUNDED, recorded as another's refund", async () => {
    // Prepare: a paid order whose user asks for the money back.
    const placed = await agent.place();
    const message = { orderId: placed.orderId, agentId };
    await stack.invoke('paymentSubmission', sqsDelivery(message));
    const paid = await stored(placed.orderId);
    expect(paid.status).toBe('PAID');
    await refundByTheUser(placed.orderId);

    // Act: support refunds the payment from the dashboard before the reconciler sends ours;
    // its event arrives, then the reconciler runs the refund the user asked for.
    const paymentId = paid.gatewayRef ?? '';
    const support = await gatewayPost('/v1/refunds', `dashboard-${randomUUID()}`, { paymentId });
    await refundEvent(placed.orderId, paymentId, support);
    await stack.invoke('settlementReconciler', sqsDelivery({ ...message, check: 0 }));

    // Assess: the money invariant, and the refund recorded as the README says any other is.
    const end = await stored(placed.orderId);
    expect(kept(placed.orderId), `kept while ${end.status}`).toBe(
      end.status === 'PAID' ? end.amount : 0,
    );
    expect(end.history.map((entry) => entry.cause)).toContain('REFUND_OBSERVED');
    expect(end.status).toBe('REFUNDED');
  });

  it('before the compensation of a late charge: the order ends REFUNDED, owing nothing', async () => {
    // Prepare: a delivery charged and died; a racing one failed the order on a risk reject.
    const placed = await agent.place();
    const message = { orderId: placed.orderId, agentId };
    const payment = await gatewayPost('/v1/payments', placed.orderId, {
      amount: 450,
      currency: 'CNY',
      paymentMethod: 'wallet',
    });
    stack.risk.setRules({ rejectAtOrAbove: 400 });
    await stack.invoke('paymentSubmission', sqsDelivery(message));
    stack.risk.setRules({});
    expect((await stored(placed.orderId)).status).toBe('FAILED');

    // Act: support sees a charge for a failed order and refunds it from the dashboard; then the
    // reconciler's lookup finds the charge and compensates, and sends the compensation.
    const support = await gatewayPost('/v1/refunds', `dashboard-${randomUUID()}`, {
      paymentId: payment.id,
    });
    await refundEvent(placed.orderId, payment.id, support);
    await stack.invoke('settlementReconciler', sqsDelivery({ ...message, check: 0 }));
    await stack.invoke('settlementReconciler', sqsDelivery({ ...message, check: 0 }));

    // Assess: the money is back with the user, so the order owes nothing and is finished; it
    // is not left REFUND_PENDING, out of the sweep, with an alarm for a refund nobody can make.
    const end = await stored(placed.orderId);
    expect(kept(placed.orderId)).toBe(0);
    expect({ status: end.status, finished: terminalStatuses.has(end.status) }).toEqual({
      status: 'REFUNDED',
      finished: true,
    });
  });
});
