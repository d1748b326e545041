import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAgentToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { CallCounter, SendOutage } from '../support/calls.ts';
import { apiFetch } from '../support/contract.ts';

let stack: LocalRuntime;
let demoToken: string;
let cautiousToken: string;
const counter = new CallCounter();
let outage: SendOutage;
let keySequence = 0;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string; requestId: string } };
}

async function call(
  method: string,
  path: string,
  options: {
    token?: string | undefined;
    key?: string;
    body?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...options.headers,
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.key !== undefined) headers['idempotency-key'] = options.key;
  const response = await apiFetch(`${stack.apiUrl}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

/** Each key its own intent (sessionId), so that no placement here is a duplicate of another. */
const placeOrder = (body: unknown, key = `e2e-${++keySequence}`, token = demoToken) =>
  call('POST', '/v1/orders', {
    token,
    key,
    body: JSON.stringify(
      typeof body === 'object' && body !== null && 'sessionId' in body
        ? { ...body, sessionId: key }
        : body,
    ),
  });

async function queuedOrderIds(): Promise<string[]> {
  const received = await stack.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: stack.queueUrls.paymentSubmission.url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      VisibilityTimeout: 600,
    }),
  );
  return (received.Messages ?? []).map((message) => JSON.parse(message.Body ?? '{}').orderId);
}

beforeAll(async () => {
  // No consumer of the payment queue runs here: the test reads the queue itself.
  stack = await startLocalRuntime({
    pollers: false,
    logLevel: 'WARN',
    // Not the guards under test here (test/e2e/guards.test.ts): a bucket no test here empties,
    // and the operators' switches read once, so each placement's requests can be counted.
    environment: {
      AGENT_RATE_PER_SECOND: '1000',
      AGENT_RATE_BURST: '1000',
      CONTROL_CACHE_SECONDS: '3600',
    },
  });
  demoToken = await signAgentToken('demo-agent');
  cautiousToken = await signAgentToken('cautious-agent');
  // The handler's own clients, loaded by the stack: count and fault-inject at the SDK boundary.
  const clients = await import('#adapters/aws-clients.ts');
  counter.attach(clients.dynamodb, 'DynamoDB').attach(clients.sqs, 'SQS');
  outage = new SendOutage(clients.sqs);
});

afterAll(async () => {
  await stack?.stop();
});

describe('order intake over HTTP on the local stack', () => {
  it('places a trusted order, queues it, and reads it back', async () => {
    // Act
    const placed = await placeOrder(latteOrder, 'first-order');
    const read = await call('GET', `/v1/orders/${placed.body.orderId}`, { token: demoToken });

    // Assess
    expect(placed.status).toBe(202);
    expect(placed.body).toMatchObject({ status: 'PENDING_PAYMENT', amount: 450, currency: 'CNY' });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(placed.body);
    expect(await queuedOrderIds()).toEqual([placed.body.orderId]);
  });

  it('costs two DynamoDB reads, two single-item writes and one SQS send per new trusted order', async () => {
    // Prepare
    counter.reset();

    // Act
    const placed = await placeOrder(latteOrder);

    // Assess
    expect(placed.status).toBe(202);
    // The agent and the order (a replay?); the claim on the agent-day item, the payment, the order.
    // The operators' switches are read at most every 2 s: not counted.
    expect(counter.callsExcept('CONTROL#')).toEqual([
      'DynamoDB.GetItem',
      'DynamoDB.GetItem',
      'DynamoDB.UpdateItem',
      'SQS.SendMessage',
      'DynamoDB.PutItem',
    ]);
    await queuedOrderIds();
  });

  it('costs two reads and two single-item writes (the agent-day bucket, the order), and no send, per order that waits for confirmation', async () => {
    counter.reset();
    const placed = await placeOrder(latteOrder, undefined, cautiousToken);
    expect(placed.body).toMatchObject({
      status: 'AWAITING_CONFIRMATION',
      reason: 'ACTION_NOT_TRUSTED',
    });
    expect(counter.callsExcept('CONTROL#')).toEqual([
      'DynamoDB.GetItem',
      'DynamoDB.GetItem',
      'DynamoDB.UpdateItem',
      'DynamoDB.PutItem',
    ]);
  });

  it('answers a replay with the same order, Idempotent-Replayed, and no change', async () => {
    // Prepare
    const first = await placeOrder(latteOrder, 'replay-key', cautiousToken);
    counter.reset();

    // Act
    const replay = await placeOrder(latteOrder, 'replay-key', cautiousToken);

    // Assess
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    // The order is read and answered: no write at all.
    expect(counter.callsExcept('CONTROL#')).toEqual(['DynamoDB.GetItem', 'DynamoDB.GetItem']);
  });

  it('refuses the same key with another body with 422 and leaves the order as it was', async () => {
    // Prepare
    const first = await placeOrder(latteOrder, 'reused-key');
    await queuedOrderIds();

    // Act
    const reused = await placeOrder({ ...latteOrder, amount: 900 }, 'reused-key');

    // Assess
    expect(reused.status).toBe(422);
    expect(reused.body.error?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const read = await call('GET', `/v1/orders/${first.body.orderId}`, { token: demoToken });
    expect(read.body).toEqual(first.body);
  });

  it('stores nothing when the queue send failed, and the retry with the same key pays it once', async () => {
    // Prepare
    outage.failing = 1;

    // Act
    const failed = await placeOrder(latteOrder, 'send-fails-once');
    const retried = await placeOrder(latteOrder, 'send-fails-once');

    // Assess
    expect(failed.status).toBe(503);
    expect(failed.body.error?.code).toBe('SERVICE_UNAVAILABLE');
    expect(failed.headers.get('retry-after')).toBe('1');
    // Nothing was stored for the failed attempt: the retry is the placement.
    expect(retried.status).toBe(202);
    expect(retried.body.status).toBe('PENDING_PAYMENT');
    expect(await queuedOrderIds()).toEqual([retried.body.orderId]);
  });

  it('holds an order over the per-order limit and says why', async () => {
    const placed = await placeOrder({ ...latteOrder, amount: 5001 });
    expect(placed.status).toBe(202);
    expect(placed.body).toMatchObject({
      status: 'AWAITING_CONFIRMATION',
      reason: 'OVER_ORDER_LIMIT',
    });
    expect(typeof placed.body.confirmBy).toBe('string');
  });

  const badBodies: ReadonlyArray<readonly [string, string, number, string]> = [
    ['a negative amount', JSON.stringify({ ...latteOrder, amount: -100 }), 400, 'INVALID_AMOUNT'],
    ['a zero amount', JSON.stringify({ ...latteOrder, amount: 0 }), 400, 'INVALID_AMOUNT'],
    ['a fractional amount', JSON.stringify({ ...latteOrder, amount: 4.5 }), 400, 'INVALID_AMOUNT'],
    ['a string amount', JSON.stringify({ ...latteOrder, amount: '450' }), 400, 'INVALID_AMOUNT'],
    [
      'an amount over the maximum',
      JSON.stringify({ ...latteOrder, amount: 1_000_001 }),
      400,
      'INVALID_AMOUNT',
    ],
    [
      'an unknown currency',
      JSON.stringify({ ...latteOrder, currency: 'XYZ' }),
      400,
      'UNSUPPORTED_CURRENCY',
    ],
    [
      'an unknown payment method',
      JSON.stringify({ ...latteOrder, paymentMethod: 'invalid_method' }),
      400,
      'INVALID_PAYMENT_METHOD',
    ],
    [
      'a lone surrogate in the sessionId (JSON "\\ud800")',
      JSON.stringify({ ...latteOrder, sessionId: 's-\ud800' }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a control character in an item',
      JSON.stringify({ ...latteOrder, items: [{ sku: 'latte\u0007', quantity: 1 }] }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a right-to-left override in an item size',
      JSON.stringify({
        ...latteOrder,
        items: [{ sku: 'latte', size: '\u202emuidem', quantity: 1 }],
      }),
      400,
      'VALIDATION_FAILED',
    ],
    ['malformed JSON', '{"action": "order_coffee",', 400, 'MALFORMED_JSON'],
    ['an empty body', '', 400, 'MALFORMED_JSON'],
    ['an unknown field', JSON.stringify({ ...latteOrder, discount: 5 }), 400, 'VALIDATION_FAILED'],
    [
      'a body over 64 KiB',
      JSON.stringify({ ...latteOrder, sessionId: 'x'.repeat(70_000) }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
  ];

  it.each(badBodies)(
    'refuses %s with its code and stores nothing',
    async (_, body, status, code) => {
      // Prepare
      const key = `bad-${++keySequence}`;
      counter.reset();

      // Act
      const answer = await call('POST', '/v1/orders', { token: demoToken, key, body });

      // Assess
      expect(answer.status).toBe(status);
      expect(answer.body.error).toMatchObject({ code, requestId: expect.any(String) });
      expect(answer.body.error?.message.length).toBeGreaterThan(0);
      expect(counter.calls.filter((c) => !c.endsWith('GetItem'))).toEqual([]);
      // The key is still free: a good body with it creates the order.
      expect((await placeOrder(latteOrder, key)).status).toBe(202);
      await queuedOrderIds();
    },
  );

  it('names the missing field', async () => {
    const { amount: _amount, ...body } = latteOrder;
    const answer = await placeOrder(body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'amount' });
  });

  it('requires an Idempotency-Key', async () => {
    const answer = await call('POST', '/v1/orders', {
      token: demoToken,
      body: JSON.stringify(latteOrder),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
  });

  it.each([
    ['no token', undefined],
    ['a forged token', `${'eyJhbGciOiJIUzI1NiJ9'}.eyJzdWIiOiJkZW1vLWFnZW50In0.forged`],
  ])('answers 401 to %s, as the JWT authorizer does', async (_, token) => {
    const answer = await call('POST', '/v1/orders', {
      token,
      key: 'k',
      body: JSON.stringify(latteOrder),
    });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({ message: 'Unauthorized' });
  });

  it('answers a malformed percent-encoding in the path with 400, as API Gateway does', async () => {
    // An HTTP API route's path parameter: the callbacks' function URL has none to decode.
    const answer = await call('GET', '/v1/orders/%ZZ', { token: demoToken });
    expect(answer.status).toBe(400);
  });

  it("answers another agent's order, and an unknown one, as 404 ORDER_NOT_FOUND", async () => {
    // Prepare
    const placed = await placeOrder(latteOrder);
    await queuedOrderIds();

    // Act
    const foreign = await call('GET', `/v1/orders/${placed.body.orderId}`, {
      token: cautiousToken,
    });
    const unknown = await call('GET', '/v1/orders/ord_00000000000000000000000000000000', {
      token: demoToken,
    });

    // Assess
    expect(foreign.status).toBe(404);
    expect(foreign.body.error?.code).toBe('ORDER_NOT_FOUND');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.code).toBe('ORDER_NOT_FOUND');
  });
});
