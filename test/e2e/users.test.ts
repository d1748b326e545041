import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAgentToken, signUserToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { apiFetch } from '../support/contract.ts';
import { sqsDelivery } from '../support/deliveries.ts';
import { AgentClient, type OrderBody } from '../support/http.ts';

/**
 * Users own agents, over real HTTP on the local stack: the user confirms what their cautious
 * agent ordered, another user can neither see nor touch it, an agent cannot act as a user, and a
 * suspended agent's new order is refused while its queued one is held instead of charged. Every
 * answer is also checked against docs/openapi.json.
 */
let stack: LocalRuntime;
const tokens = { demoUser: '', otherUser: '', cautious: '', demo: '' };
let sequence = 0;

beforeAll(async () => {
  // Payment submission is driven by hand, so the race of a suspension is deterministic.
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    seed: 12,
    pollers: false,
    callbacks: false,
  });
  tokens.demoUser = await signUserToken('demo-user');
  tokens.otherUser = await signUserToken('other-user');
  tokens.cautious = await signAgentToken('cautious-agent');
  tokens.demo = await signAgentToken('demo-agent');
});

afterAll(async () => {
  await stack?.stop();
});

async function call(
  method: string,
  path: string,
  token: string,
  body?: unknown,
  key?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await apiFetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

const codeOf = (answer: { body: Record<string, unknown> }) =>
  (answer.body.error as { code?: string } | undefined)?.code;

/** Hands the payment of an order to payment submission, as its queue's poller would. */
async function submitPayment(order: { orderId: string }, agentId: string): Promise<void> {
  await stack.invoke('paymentSubmission', sqsDelivery({ orderId: order.orderId, agentId }));
}

async function place(agentId: string): Promise<OrderBody> {
  const agent = await AgentClient.for(stack, agentId);
  return agent.place({}, `users-${agentId}-${++sequence}`);
}

/** A new agent of demo-user trusted to pay, and its order queued for payment, not yet sent. */
async function queueTrustedOrder(name: string, key: string) {
  const created = await call(
    'POST',
    '/v1/agents',
    tokens.demoUser,
    {
      name,
      trustedActions: ['order_coffee', 'submit_payment'],
      perOrderLimit: 5000,
      dailyLimit: 20000,
      limitCurrency: 'CNY',
    },
    key,
  );
  const agentId = String(created.body.agentId);
  const queued = await place(agentId);
  expect(queued.status).toBe('PENDING_PAYMENT');
  return { agentId, queued };
}

describe('the user confirms what their agent ordered', () => {
  it('cautious-agent orders, demo-user confirms with the user token, and it is PAID', async () => {
    // Prepare
    const placed = await place('cautious-agent');
    expect(placed.status).toBe('AWAITING_CONFIRMATION');

    // Act
    const confirmed = await call('POST', `/v1/orders/${placed.orderId}/confirm`, tokens.demoUser);
    await submitPayment(placed, 'cautious-agent');

    // Assess
    expect(confirmed.status).toBe(202);
    const read = await call('GET', `/v1/orders/${placed.orderId}`, tokens.demoUser);
    expect(read.body.status).toBe('PAID');
    expect(stack.gateway.ledger().charges[placed.orderId]).toMatchObject({ captured: 450 });
  });

  it('answers another user 404 for reading, confirming, cancelling or refunding it', async () => {
    // Prepare
    const placed = await place('cautious-agent');

    // Act
    const answers = await Promise.all([
      call('GET', `/v1/orders/${placed.orderId}`, tokens.otherUser),
      call('POST', `/v1/orders/${placed.orderId}/confirm`, tokens.otherUser),
      call('POST', `/v1/orders/${placed.orderId}/cancel`, tokens.otherUser),
      call('POST', `/v1/orders/${placed.orderId}/refund`, tokens.otherUser, {}, 'r-1'),
    ]);

    // Assess
    expect(answers.map((answer) => [answer.status, codeOf(answer)])).toEqual(
      Array(4).fill([404, 'ORDER_NOT_FOUND']),
    );
    const read = await call('GET', `/v1/orders/${placed.orderId}`, tokens.demoUser);
    expect(read.body.status).toBe('AWAITING_CONFIRMATION');
  });

  it('lists a user their agents’ orders and nobody else’s, newest first, a page at a time', async () => {
    // Prepare
    const first = await place('cautious-agent');
    const second = await place('demo-agent');
    const others = await place('other-agent');

    // Act
    const page = await call('GET', '/v1/orders?limit=2', tokens.demoUser);
    const next = await call(
      'GET',
      `/v1/orders?limit=2&cursor=${encodeURIComponent(String(page.body.cursor))}`,
      tokens.demoUser,
    );
    const theirs = await call('GET', '/v1/orders', tokens.otherUser);
    const cautiousOnly = await call('GET', '/v1/orders?agentId=cautious-agent', tokens.demoUser);
    const waiting = await call('GET', '/v1/orders?status=AWAITING_CONFIRMATION', tokens.demoUser);

    // Assess
    const ids = (answer: { body: Record<string, unknown> }) =>
      (answer.body.orders as OrderBody[]).map((order) => order.orderId);
    expect(ids(page)).toEqual([second.orderId, first.orderId]);
    expect(ids(next)).not.toContain(second.orderId);
    expect(ids(next).length).toBeGreaterThan(0);
    expect(ids(theirs)).toEqual([others.orderId]);
    expect(ids(cautiousOnly)).toContain(first.orderId);
    expect(ids(cautiousOnly)).not.toContain(second.orderId);
    expect(
      (waiting.body.orders as OrderBody[]).every(
        (order) => order.status === 'AWAITING_CONFIRMATION',
      ),
    ).toBe(true);
  });

  it('refuses a cursor that is not one the listing gave', async () => {
    const forged = Buffer.from(JSON.stringify({ gsiOwner: 'ORDERS#other-user' })).toString(
      'base64url',
    );
    const answer = await call('GET', `/v1/orders?cursor=${forged}`, tokens.demoUser);
    expect([answer.status, codeOf(answer)]).toEqual([400, 'INVALID_CURSOR']);
  });
});

describe('an agent cannot act as its user', () => {
  it('cannot confirm or refund, nor manage agents: the scopes refuse it', async () => {
    const placed = await place('cautious-agent');
    const answers = await Promise.all([
      call('POST', `/v1/orders/${placed.orderId}/confirm`, tokens.cautious),
      call('POST', `/v1/orders/${placed.orderId}/refund`, tokens.cautious, {}, 'r-2'),
      call('POST', '/v1/agents', tokens.cautious, { name: 'x' }, 'a-1'),
      call('GET', '/v1/agents', tokens.cautious),
      call('POST', '/v1/agents/cautious-agent/resume', tokens.cautious),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual(Array(5).fill(403));
    const read = await call('GET', `/v1/orders/${placed.orderId}`, tokens.demoUser);
    expect(read.body.status).toBe('AWAITING_CONFIRMATION');
  });

  it('cancels its own waiting order, harmlessly twice; another agent of the same user gets 404', async () => {
    // Prepare
    const placed = await place('cautious-agent');

    // Act
    const foreign = await call('POST', `/v1/orders/${placed.orderId}/cancel`, tokens.demo);
    const cancelled = await call('POST', `/v1/orders/${placed.orderId}/cancel`, tokens.cautious);
    const twice = await call('POST', `/v1/orders/${placed.orderId}/cancel`, tokens.cautious);
    const confirm = await call('POST', `/v1/orders/${placed.orderId}/confirm`, tokens.cautious);

    // Assess
    expect(placed.status).toBe('AWAITING_CONFIRMATION');
    expect([foreign.status, codeOf(foreign)]).toEqual([404, 'ORDER_NOT_FOUND']);
    expect([cancelled.status, cancelled.body.status]).toEqual([200, 'CANCELLED']);
    expect([twice.status, twice.body.status]).toEqual([200, 'CANCELLED']);
    expect(confirm.status).toBe(403);
    const read = await call('GET', `/v1/orders/${placed.orderId}`, tokens.demoUser);
    expect(read.body.status).toBe('CANCELLED');
    expect(stack.gateway.ledger().charges[placed.orderId]).toBeUndefined();
  });

  it('cannot cancel its own order once its payment has started', async () => {
    const placed = await place('demo-agent');

    const answer = await call('POST', `/v1/orders/${placed.orderId}/cancel`, tokens.demo);

    expect(placed.status).toBe('PENDING_PAYMENT');
    expect([answer.status, codeOf(answer)]).toEqual([409, 'ILLEGAL_TRANSITION']);
    expect(answer.body.error).toMatchObject({ currentStatus: 'PENDING_PAYMENT' });
  });

  it("lists only its own orders, and another agent's are not found", async () => {
    const mine = await place('demo-agent');
    const own = await call('GET', '/v1/orders', tokens.demo);
    const another = await call('GET', '/v1/orders?agentId=cautious-agent', tokens.demo);
    const orders = own.body.orders as OrderBody[];
    expect(orders.map((order) => order.orderId)).toContain(mine.orderId);
    expect(orders.every((order) => order.orderId !== undefined)).toBe(true);
    expect([another.status, codeOf(another)]).toEqual([404, 'AGENT_NOT_FOUND']);
  });

  it('cannot place an order with a user token', async () => {
    const answer = await call('POST', '/v1/orders', tokens.demoUser, {}, 'u-1');
    expect(answer.status).toBe(403);
  });
});

describe('the user manages their agents', () => {
  const settings = {
    name: 'Lunch runner',
    trustedActions: ['order_coffee', 'submit_payment'],
    perOrderLimit: 5000,
    dailyLimit: 20000,
    limitCurrency: 'CNY',
  };

  it('creates an agent once per Idempotency-Key, and it can order at once', async () => {
    // Act
    const created = await call('POST', '/v1/agents', tokens.demoUser, settings, 'agent-1');
    const replay = await call('POST', '/v1/agents', tokens.demoUser, settings, 'agent-1');
    const reused = await call(
      'POST',
      '/v1/agents',
      tokens.demoUser,
      { ...settings, name: 'Other' },
      'agent-1',
    );

    // Assess
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ownerId: 'demo-user', suspended: false, version: 1 });
    expect(replay.status).toBe(200);
    expect(replay.body.agentId).toBe(created.body.agentId);
    expect([reused.status, codeOf(reused)]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    const agentId = String(created.body.agentId);
    const order = await place(agentId);
    expect(order.status).toBe('PENDING_PAYMENT');
  });

  it('changes trust and limits for the next order, keeps every change, and hides it from others', async () => {
    // Prepare
    const created = await call('POST', '/v1/agents', tokens.demoUser, settings, 'agent-2');
    const agentId = String(created.body.agentId);

    // Act
    const patched = await call('PATCH', `/v1/agents/${agentId}`, tokens.demoUser, {
      trustedActions: ['order_coffee'],
      rateLimit: { perSecond: 2, burst: 5 },
    });
    const next = await place(agentId);
    const invalid = await call('PATCH', `/v1/agents/${agentId}`, tokens.demoUser, {
      perOrderLimit: -1,
    });
    const foreign = await call('GET', `/v1/agents/${agentId}`, tokens.otherUser);
    const listed = await call('GET', '/v1/agents', tokens.demoUser);

    // Assess
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ version: 2, rateLimit: { perSecond: 2, burst: 5 } });
    expect((patched.body.history as Array<{ action: string; by: string }>).at(-1)).toMatchObject({
      action: 'UPDATE',
      by: 'demo-user',
    });
    expect(next).toMatchObject({ status: 'AWAITING_CONFIRMATION', reason: 'ACTION_NOT_TRUSTED' });
    expect([invalid.status, codeOf(invalid)]).toEqual([400, 'INVALID_AMOUNT']);
    expect([foreign.status, codeOf(foreign)]).toEqual([404, 'AGENT_NOT_FOUND']);
    const ids = (listed.body.agents as Array<{ agentId: string }>).map((agent) => agent.agentId);
    expect(ids[0]).toBe(agentId);
  });
});

describe('a suspended agent', () => {
  it('has its new orders refused and its queued order held, not charged; resumed, it orders again', async () => {
    // Prepare: a trusted order is queued for payment, not yet sent to the gateway.
    const { agentId, queued } = await queueTrustedOrder('Suspended soon', 'agent-3');

    // Act
    const suspended = await call('POST', `/v1/agents/${agentId}/suspend`, tokens.demoUser);
    const agent = await AgentClient.for(stack, agentId);
    const refused = await apiFetch(`${stack.apiUrl}/v1/orders`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await signAgentToken(agentId)}`,
        'content-type': 'application/json',
        'idempotency-key': 'after-suspension',
      },
      body: JSON.stringify({
        action: 'order_coffee',
        sessionId: 's',
        items: [{ sku: 'latte', quantity: 1 }],
        amount: 450,
        currency: 'CNY',
        paymentMethod: 'wallet',
      }),
    });
    await submitPayment(queued, agentId);

    // Assess
    expect(suspended.body.suspended).toBe(true);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'AGENT_SUSPENDED',
    );
    const held = await agent.get(queued.orderId);
    expect(held).toMatchObject({ status: 'HELD_FOR_REVIEW', holdReason: 'AGENT_SUSPENDED' });
    expect(stack.gateway.ledger().charges[queued.orderId]).toBeUndefined();

    const resumed = await call('POST', `/v1/agents/${agentId}/resume`, tokens.demoUser);
    expect(resumed.body.suspended).toBe(false);
    expect((await place(agentId)).status).toBe('PENDING_PAYMENT');
  });
});

describe('an agent its user restrains while its order is queued', () => {
  it('has the order held with the reason, not charged, and the user confirming it has it paid', async () => {
    // Prepare: a trusted order is queued for payment, not yet sent to the gateway.
    const { agentId, queued } = await queueTrustedOrder('Restrained soon', 'agent-4');

    // Act: the user lowers the per-order limit below the order's amount.
    const patched = await call('PATCH', `/v1/agents/${agentId}`, tokens.demoUser, {
      perOrderLimit: 100,
    });
    await submitPayment(queued, agentId);
    const agent = await AgentClient.for(stack, agentId);
    const held = await agent.get(queued.orderId);
    const confirmed = await call('POST', `/v1/orders/${queued.orderId}/confirm`, tokens.demoUser);
    await submitPayment(queued, agentId);

    // Assess
    expect(patched.status).toBe(200);
    expect(held).toMatchObject({ status: 'HELD_FOR_REVIEW', holdReason: 'OVER_ORDER_LIMIT' });
    expect(confirmed.status).toBe(202);
    expect((await agent.get(queued.orderId)).status).toBe('PAID');
    expect(stack.gateway.ledger().charges[queued.orderId]).toMatchObject({ captured: 450 });
  });
});
