import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderKey, spendKey } from '#adapters/table-keys.ts';
import { signWebhookPayload } from '#domain/webhook-signature.ts';
import { signOwnerToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { defaultGatewayApiKeys } from '../../local/simulators/gateway/keys.ts';
import { apiFetch } from '../support/contract.ts';
import { sqsDelivery } from '../support/deliveries.ts';
import { AgentClient, type OrderBody } from '../support/http.ts';

/*
 * Two deliveries of one payment message race, over the real handlers, emulators and
 * simulators. The queues are not polled: each delivery is handed to its function as Lambda
 * would, so the order of events is the test's. The first delivery passed the risk check,
 * charged, and died before writing; the second gets its own verdict and writes it; then the
 * first one's message comes back, the gateway's success callback arrives, and the user cancels.
 */

let stack: LocalRuntime;
let agent: AgentClient;
const agentId = 'demo-agent';

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    seed: 17,
    pollers: false,
    callbacks: false,
    // 4.50 is above the fail-open limit: a risk engine that does not answer holds it.
    environment: { RISK_FAIL_OPEN_LIMIT: '100', RISK_RETRY_DELAY_MS: '0' },
    gatewayFaults: { autoSettle: false },
  });
  agent = await AgentClient.for(stack, agentId);
});

afterAll(async () => {
  await stack?.stop();
});

/** The charge of a delivery that passed the risk check, made at the gateway under the orderId. */
async function chargeByADeliveryThatDied(orderId: string): Promise<string> {
  const response = await fetch(`${stack.gateway.url}/v1/payments`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${defaultGatewayApiKeys[0]}`,
      'idempotency-key': orderId,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ amount: 450, currency: 'CNY', paymentMethod: 'wallet' }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { id: string }).id;
}

async function successCallback(orderId: string, paymentId: string) {
  const body = JSON.stringify({
    id: `evt_${randomUUID()}`,
    type: 'payment.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: { paymentId, idempotencyKey: orderId, amount: 450, currency: 'CNY' },
  });
  const signature = signWebhookPayload(
    body,
    ['whsec_autopay_local'],
    Math.floor(Date.now() / 1000),
  );
  const response = await apiFetch(`${stack.apiUrl}/v1/callbacks/simulator`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature },
    body,
  });
  return (await response.json()) as { result: string; status: string };
}

async function cancelByTheUser(orderId: string) {
  const token = await signOwnerToken(agentId);
  const response = await apiFetch(`${stack.apiUrl}/v1/orders/${orderId}/cancel`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What the agent-day the order counted against has spent. */
async function spentOnTheDayOf(orderId: string): Promise<number> {
  const get = (key: { pk: string }) =>
    stack.dynamodb.send(new GetCommand({ TableName: stack.tableName, Key: key }));
  const order = await get(orderKey(orderId));
  const spend = await get(spendKey(agentId, String(order.Item?.spendDay)));
  return Number(spend.Item?.spent ?? 0);
}

describe('two deliveries of one payment message racing, on the local stack', () => {
  it('keeps the money on a PAID order when the second delivery held it for a risk timeout', async () => {
    // Prepare
    const placed = await agent.place();
    const before = await spentOnTheDayOf(placed.orderId);
    const message = { orderId: placed.orderId, agentId };
    const paymentId = await chargeByADeliveryThatDied(placed.orderId);

    // Act: the second delivery's risk check times out, three times.
    stack.risk.scriptNext([
      { fault: 'internal_error' },
      { fault: 'internal_error' },
      { fault: 'internal_error' },
    ]);
    await stack.invoke('paymentSubmission', sqsDelivery(message, 1));
    const held = await agent.get(placed.orderId);
    await stack.invoke('paymentSubmission', sqsDelivery(message, 2));
    const callback = await successCallback(placed.orderId, paymentId);
    const cancel = await cancelByTheUser(placed.orderId);

    // Assess
    expect(held).toMatchObject({ status: 'HELD_FOR_REVIEW', holdReason: 'RISK_UNAVAILABLE' });
    expect(callback).toMatchObject({ result: 'unchanged', status: 'PAID' });
    expect(cancel).toMatchObject({
      status: 409,
      body: { error: { code: 'ILLEGAL_TRANSITION', currentStatus: 'PAID' } },
    });
    const paid = await agent.get(placed.orderId);
    expect(statuses(paid)).toEqual(['PENDING_PAYMENT', 'HELD_FOR_REVIEW', 'PAID']);
    expect(stack.gateway.ledger().charges[placed.orderId]).toMatchObject({
      payments: 1,
      captured: 450,
      refunded: 0,
    });
    expect(await spentOnTheDayOf(placed.orderId)).toBe(before);
  });

  it('gives the money back when the second delivery failed the order on a risk reject', async () => {
    // Prepare
    const placed = await agent.place();
    const before = await spentOnTheDayOf(placed.orderId);
    const message = { orderId: placed.orderId, agentId };
    const paymentId = await chargeByADeliveryThatDied(placed.orderId);

    // Act: the second delivery is rejected; the reconciler takes the check the first one asks.
    stack.risk.setRules({ rejectAtOrAbove: 400 });
    await stack.invoke('paymentSubmission', sqsDelivery(message, 1));
    stack.risk.setRules({});
    await stack.invoke('paymentSubmission', sqsDelivery(message, 2));
    await stack.invoke('settlementReconciler', sqsDelivery({ ...message, check: 0 }, 1));
    const callback = await successCallback(placed.orderId, paymentId);
    const cancel = await cancelByTheUser(placed.orderId);

    // Assess
    expect(callback).toMatchObject({ result: 'unchanged', status: 'REFUNDED' });
    expect(cancel).toMatchObject({ status: 409, body: { error: { code: 'ILLEGAL_TRANSITION' } } });
    const refunded = await agent.get(placed.orderId);
    expect(statuses(refunded)).toEqual(['PENDING_PAYMENT', 'FAILED', 'REFUND_PENDING', 'REFUNDED']);
    expect(stack.gateway.ledger().charges[placed.orderId]).toMatchObject({
      payments: 1,
      captured: 450,
      refunded: 450,
    });
    // The day's budget was given back when the order failed, and not again when refunded.
    expect(await spentOnTheDayOf(placed.orderId)).toBe(before - 450);
  });
});

function statuses(order: OrderBody): string[] {
  return order.history.map((entry) => entry.to);
}
