import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signWebhookPayload } from '#domain/webhook-signature.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { defaultGatewayApiKeys } from '../../local/simulators/gateway/keys.ts';
import { apiFetch, askRefund } from '../support/contract.ts';
import { AgentClient, type OrderBody } from '../support/http.ts';

let stack: LocalRuntime;
let agent: AgentClient;
let cautious: AgentClient;

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    seed: 11,
    scheduleSeconds: 1,
    environment: {
      SETTLEMENT_FIRST_CHECK_SECONDS: '5',
      SETTLEMENT_INTERVAL_SECONDS: '1',
      SETTLEMENT_CHECKS: '3',
      CONFIRMATION_WINDOW_SECONDS: '3',
      BACKOFF_MAX_SECONDS: '1',
    },
    gatewayFaults: { autoSettle: false },
  });
  agent = await AgentClient.for(stack, 'demo-agent');
  cautious = await AgentClient.for(stack, 'cautious-agent');
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.gateway.setFaults({ callbacks: { enabled: true } });
});

async function pendingOrder(): Promise<OrderBody> {
  stack.gateway.scriptNext([{ fault: 'pending' }]);
  const placed = await agent.place();
  return agent.waitForStatus(placed.orderId, 'AWAITING_SETTLEMENT');
}

const chargesFor = (orderId: string) => stack.gateway.ledger().charges[orderId];

describe('settlement on the local stack', () => {
  it('settles a PENDING payment by the gateway callback', async () => {
    // Prepare
    const waiting = await pendingOrder();

    // Act
    await stack.gateway.settle(String(waiting.gatewayRef), 'SUCCESS');
    const paid = await agent.waitForStatus(waiting.orderId, 'PAID', 3_000);

    // Assess: paid well before the first reconciliation check, five seconds out.
    expect(paid.history.map((entry) => entry.to)).toEqual([
      'PENDING_PAYMENT',
      'AWAITING_SETTLEMENT',
      'PAID',
    ]);
    expect(chargesFor(waiting.orderId)).toMatchObject({ payments: 1, captured: 450 });
  });

  it('settles by reconciliation when the callbacks never come', async () => {
    // Prepare
    stack.gateway.setFaults({ callbacks: { enabled: false } });
    const waiting = await pendingOrder();

    // Act
    await stack.gateway.settle(String(waiting.gatewayRef), 'SUCCESS');
    const paid = await agent.waitForStatus(waiting.orderId, 'PAID', 20_000);

    // Assess
    expect(paid.status).toBe('PAID');
    expect(chargesFor(waiting.orderId)).toMatchObject({ payments: 1, captured: 450 });
  });

  it('fails a payment by reconciliation when the gateway says it failed', async () => {
    stack.gateway.setFaults({ callbacks: { enabled: false } });
    const waiting = await pendingOrder();
    await stack.gateway.settle(String(waiting.gatewayRef), 'FAILED');
    const failed = await agent.waitForStatus(waiting.orderId, 'FAILED', 20_000);
    expect(failed.declineCode).toBe('settlement_failed');
  });

  it('voids a payment that never settles and fails the order with SETTLEMENT_TIMEOUT', async () => {
    // Act
    const waiting = await pendingOrder();
    const failed = await agent.waitForStatus(waiting.orderId, 'FAILED', 30_000);

    // Assess
    expect(failed.lastError).toBe('SETTLEMENT_TIMEOUT');
    expect(failed.history.at(-1)).toMatchObject({
      from: 'AWAITING_SETTLEMENT',
      to: 'FAILED',
      errorCode: 'SETTLEMENT_TIMEOUT',
    });
    expect(chargesFor(waiting.orderId)).toMatchObject({ voided: true, captured: 0 });
  });

  it('refunds money taken after the order expired', async () => {
    // Prepare: an order its user never confirms expires.
    const placed = await cautious.place();
    await cautious.waitForStatus(placed.orderId, 'EXPIRED', 15_000);

    // Act: the gateway charges it anyway (a late or stray charge) and says so by callback.
    const charged = await fetch(`${stack.gateway.url}/v1/payments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${defaultGatewayApiKeys[0]}`,
        'idempotency-key': placed.orderId,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ amount: 450, currency: 'CNY', paymentMethod: 'wallet' }),
    });
    expect(charged.status).toBe(200);
    const refunded = await cautious.waitForStatus(placed.orderId, 'REFUNDED', 20_000);

    // Assess
    expect(refunded.history.map((entry) => entry.to)).toEqual([
      'AWAITING_CONFIRMATION',
      'EXPIRED',
      'REFUND_PENDING',
      'REFUNDED',
    ]);
    expect(chargesFor(placed.orderId)).toMatchObject({ captured: 450, refunded: 450 });
  });

  it('pays an order of a cautious agent once its user confirms', async () => {
    // Act
    const placed = await cautious.place();
    expect(placed.status).toBe('AWAITING_CONFIRMATION');
    const confirm = await apiFetch(`${stack.apiUrl}/v1/orders/${placed.orderId}/confirm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await userTokenOf('cautious-agent')}` },
    });
    const paid = await cautious.waitForStatus(placed.orderId, 'PAID');

    // Assess
    expect(confirm.status).toBe(202);
    expect(paid.history.map((entry) => entry.to)).toEqual([
      'AWAITING_CONFIRMATION',
      'PENDING_PAYMENT',
      'PAID',
    ]);
  });

  it('lets only the user confirm: an agent confirming its own order gets 403 and nothing changes', async () => {
    // Prepare
    const placed = await cautious.place();
    const { signAgentToken } = await import('../../local/runtime/auth.ts');

    // Act
    const byAgent = await apiFetch(`${stack.apiUrl}/v1/orders/${placed.orderId}/confirm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await signAgentToken('cautious-agent')}` },
    });

    // Assess
    expect(byAgent.status).toBe(403);
    expect(await byAgent.json()).toEqual({ message: 'Forbidden' });
    expect((await cautious.get(placed.orderId)).status).toBe('AWAITING_CONFIRMATION');
  });

  it('refuses a confirmation after the window has passed, with 409 and the order EXPIRED', async () => {
    const placed = await cautious.place();
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    const confirm = await apiFetch(`${stack.apiUrl}/v1/orders/${placed.orderId}/confirm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await userTokenOf('cautious-agent')}` },
    });
    expect(confirm.status).toBe(409);
    expect(await confirm.json()).toMatchObject({
      error: { code: 'CONFIRMATION_EXPIRED', currentStatus: 'EXPIRED' },
    });
    expect((await cautious.get(placed.orderId)).status).toBe('EXPIRED');
  });
});

describe('refunds over HTTP', () => {
  const refund = (orderId: string, token: string, key: string) =>
    askRefund(stack.apiUrl, orderId, token, key);

  it('refunds a paid order for its user, and the gateway gives all the money back', async () => {
    // Prepare
    const placed = await agent.place();
    await agent.waitForStatus(placed.orderId, 'PAID');

    // Act
    const answer = await refund(placed.orderId, await userTokenOf('demo-agent'), 'refund-1');
    const refunded = await agent.waitForStatus(placed.orderId, 'REFUNDED', 20_000);

    // Assess
    expect(answer.status).toBe(202);
    expect(await answer.json()).toMatchObject({ status: 'REFUND_PENDING' });
    expect(refunded.history.map((entry) => entry.to)).toEqual([
      'PENDING_PAYMENT',
      'PAID',
      'REFUND_PENDING',
      'REFUNDED',
    ]);
    expect(chargesFor(placed.orderId)).toMatchObject({ captured: 450, refunded: 450 });
  });

  it('lets only the user refund: an agent refunding its own order gets 403 and nothing changes', async () => {
    // Prepare
    const placed = await agent.place();
    await agent.waitForStatus(placed.orderId, 'PAID');
    const { signAgentToken } = await import('../../local/runtime/auth.ts');

    // Act
    const byAgent = await refund(placed.orderId, await signAgentToken('demo-agent'), 'refund-1');

    // Assess
    expect(byAgent.status).toBe(403);
    expect(await byAgent.json()).toEqual({ message: 'Forbidden' });
    const after = await agent.get(placed.orderId);
    expect(after.status).toBe('PAID');
    expect(after.history.map((entry) => entry.to)).toEqual(['PENDING_PAYMENT', 'PAID']);
    expect(chargesFor(placed.orderId)).toMatchObject({ captured: 450, refunded: 0 });
  });
});

describe('the callback endpoint over HTTP', () => {
  const post = (body: string, headers: Record<string, string>, gateway = 'simulator') =>
    apiFetch(`${stack.apiUrl}/v1/callbacks/${gateway}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  async function eventFor(order: OrderBody, type = 'payment.succeeded') {
    return JSON.stringify({
      id: `evt_${order.orderId}`,
      type,
      created: Math.floor(Date.now() / 1000),
      data: {
        paymentId: order.gatewayRef,
        idempotencyKey: order.orderId,
        amount: 450,
        currency: 'CNY',
      },
    });
  }

  it.each([
    ['no signature', () => ({}), 'SIGNATURE_MISSING'],
    ['a malformed header', () => ({ 'stripe-signature': 'garbage' }), 'SIGNATURE_MISSING'],
    [
      'the wrong secret',
      (body: string) => ({ 'stripe-signature': sign(body, 'whsec_wrong') }),
      'SIGNATURE_INVALID',
    ],
    [
      'a tampered body',
      (body: string) => ({ 'stripe-signature': sign(body.replace('450', '451')) }),
      'SIGNATURE_INVALID',
    ],
    [
      'a stale timestamp',
      (body: string) => ({ 'stripe-signature': sign(body, undefined, -301) }),
      'TIMESTAMP_OUT_OF_TOLERANCE',
    ],
  ] as const)('refuses %s with 400 and changes nothing', async (_, headers, code) => {
    // Prepare
    const waiting = await pendingOrder();
    const body = await eventFor(waiting);

    // Act
    const answer = await post(body, headers(body));

    // Assess
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({ error: { code } });
    expect((await agent.get(waiting.orderId)).status).toBe('AWAITING_SETTLEMENT');
  });

  it('applies a signed event once; a duplicate answers 200 and changes nothing', async () => {
    const waiting = await pendingOrder();
    const body = await eventFor(waiting);
    const first = await post(body, { 'stripe-signature': sign(body) });
    const second = await post(body, { 'stripe-signature': sign(body) });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ result: 'applied', status: 'PAID' });
    expect(await second.json()).toMatchObject({ result: 'unchanged', status: 'PAID' });
    const paid = await agent.get(waiting.orderId);
    expect(paid.history.filter((entry) => entry.to === 'PAID')).toHaveLength(1);
  });

  it('acknowledges an event for an unknown order as ignored', async () => {
    const body = JSON.stringify({
      id: 'evt_x',
      type: 'payment.succeeded',
      created: 1,
      data: {
        paymentId: 'pay_x',
        idempotencyKey: `ord_${'f'.repeat(32)}`,
        amount: 1,
        currency: 'CNY',
      },
    });
    const answer = await post(body, { 'stripe-signature': sign(body) });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ result: 'ignored' });
  });

  it('changes nothing when the amount differs from the order', async () => {
    const waiting = await pendingOrder();
    const body = (await eventFor(waiting)).replace('"amount":450', '"amount":1');
    const answer = await post(body, { 'stripe-signature': sign(body) });
    expect(await answer.json()).toMatchObject({ result: 'mismatch' });
    expect((await agent.get(waiting.orderId)).status).toBe('AWAITING_SETTLEMENT');
  });

  it('answers 404 UNKNOWN_GATEWAY for a gateway that is not ours', async () => {
    const answer = await post('{}', { 'stripe-signature': sign('{}') }, 'other');
    expect(answer.status).toBe(404);
    expect(await answer.json()).toMatchObject({ error: { code: 'UNKNOWN_GATEWAY' } });
  });

  it.each([
    ['GET', '/v1/callbacks/simulator'],
    ['POST', '/v1/callbacks/simulator/extra'],
    ['POST', '/v1/callbacks/'],
  ])(
    'answers %s %s, which its function URL would pass on, with 404 ROUTE_NOT_FOUND',
    async (method, path) => {
      // Act
      const answer = await apiFetch(`${stack.apiUrl}${path}`, {
        method,
        ...(method === 'GET' ? {} : { body: '{}', headers: { 'stripe-signature': sign('{}') } }),
      });

      // Assess
      expect(answer.status).toBe(404);
      expect(await answer.json()).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' } });
    },
  );
});

function sign(body: string, secret = 'whsec_autopay_local', skewSeconds = 0): string {
  return signWebhookPayload(body, [secret], Math.floor(Date.now() / 1000) + skewSeconds);
}

/** The token of the agent's user, who may confirm the agent's orders. */
async function userTokenOf(agentId: string): Promise<string> {
  const { signOwnerToken } = await import('../../local/runtime/auth.ts');
  return signOwnerToken(agentId);
}
