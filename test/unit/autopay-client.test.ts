import { describe, expect, it } from 'vitest';
import { AutopayApiError, AutopayClient } from '../../client/autopay-client.ts';
import { intentKey } from '../../client/intent.ts';
import { latteOrder } from '../fixtures/orders.ts';

const order = { ...latteOrder, items: [...latteOrder.items] };
const stored = { orderId: 'ord_1', status: 'PAID', ...order };

interface Scripted {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** A client whose fetch answers from a script and records what it was asked, and its waits. */
function scripted(...answers: (Scripted | Error)[]) {
  const requests: Request[] = [];
  const waits: number[] = [];
  const client = new AutopayClient({
    baseUrl: 'https://autopay.invalid/',
    token: 'tok',
    sleep: async (ms) => void waits.push(ms),
    fetch: async (request) => {
      requests.push(request.clone());
      const answer = answers.shift();
      if (answer === undefined) throw new Error('the script ran out');
      if (answer instanceof Error) throw answer;
      return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
        status: answer.status,
        headers: { 'content-type': 'application/json', ...answer.headers },
      });
    },
  });
  return { client, requests, waits };
}

const apiError = (code: string, extra: Record<string, unknown> = {}) => ({
  error: { code, message: `${code} said`, requestId: 'req-1', ...extra },
});

describe('the typed client', () => {
  it("places an order under its intent's key, with the bearer token, and says whether it was a replay", async () => {
    const { client, requests } = scripted(
      { status: 202, body: stored },
      { status: 200, body: stored, headers: { 'idempotent-replayed': 'true' } },
    );

    const first = await client.placeOrder(order);
    const again = await client.placeOrder(order);

    expect(first).toEqual({ order: stored, replayed: false, idempotencyKey: intentKey(order) });
    expect(again.replayed).toBe(true);
    const [request] = requests;
    expect(request?.url).toBe('https://autopay.invalid/v1/orders');
    expect(request?.headers.get('authorization')).toBe('Bearer tok');
    expect(request?.headers.get('idempotency-key')).toBe(intentKey(order));
    expect(await request?.json()).toEqual(order);
  });

  it('uses the caller’s own key when given one', async () => {
    const { client, requests } = scripted({ status: 202, body: stored });

    await client.placeOrder(order, { idempotencyKey: 'mine-1' });

    expect(requests[0]?.headers.get('idempotency-key')).toBe('mine-1');
  });

  it('waits as long as Retry-After says before retrying a 429 or a 503, with the same key', async () => {
    const { client, requests, waits } = scripted(
      { status: 429, body: apiError('RATE_LIMITED'), headers: { 'retry-after': '3' } },
      { status: 503, body: apiError('SERVICE_UNAVAILABLE'), headers: { 'retry-after': '1' } },
      { status: 202, body: stored },
    );

    const placed = await client.placeOrder(order);

    expect(placed.order).toEqual(stored);
    expect(waits).toEqual([3000, 1000]);
    expect(new Set(requests.map((request) => request.headers.get('idempotency-key'))).size).toBe(1);
  });

  it('gives up after its retries with the API’s code and the wait it asked for', async () => {
    const throttled = {
      status: 429,
      body: apiError('RATE_LIMITED'),
      headers: { 'retry-after': '60' },
    };
    const { client, waits } = scripted(throttled, throttled, throttled);

    const refusal = await client.getOrder('ord_1').catch((error: unknown) => error);

    expect(refusal).toBeInstanceOf(AutopayApiError);
    expect(refusal).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfterSeconds: 60 });
    expect(waits).toEqual([10_000, 10_000]);
  });

  it('does not retry a refusal that a retry cannot change, and keeps its details', async () => {
    const { client, requests } = scripted({
      status: 409,
      body: apiError('ILLEGAL_TRANSITION', { currentStatus: 'PAID' }),
    });

    const refusal = await client.cancelOrder('ord_1').catch((error: unknown) => error);

    expect(refusal).toMatchObject({
      code: 'ILLEGAL_TRANSITION',
      currentStatus: 'PAID',
      requestId: 'req-1',
      message: 'ILLEGAL_TRANSITION said',
    });
    expect(requests).toHaveLength(1);
  });

  it.each([
    [401, 'Unauthorized', 'UNAUTHENTICATED'],
    [403, 'Forbidden', 'FORBIDDEN'],
    [404, 'Not Found', 'ROUTE_NOT_FOUND'],
    [413, 'Request Entity Too Large', 'PAYLOAD_TOO_LARGE'],
    [500, 'Internal Server Error', 'INTERNAL_ERROR'],
  ])('names API Gateway’s own %i answer %s with the code %s', async (status, message, code) => {
    const { client } = scripted({ status, body: { message } });

    const refusal = await client.getOrder('ord_1').catch((error: unknown) => error);

    expect(refusal).toMatchObject({ status, code, message });
  });

  it('retries a request that got no answer, then reports NETWORK_ERROR', async () => {
    const lost = new TypeError('fetch failed');
    const { client, waits } = scripted(lost, lost, lost);

    const refusal = await client.getOrder('ord_1').catch((error: unknown) => error);

    expect(refusal).toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
    expect(waits).toHaveLength(2);
  });

  it('refunds under a key of the order, so asking twice is one refund', async () => {
    const { client, requests } = scripted(
      { status: 202, body: stored },
      { status: 200, body: stored },
    );

    await client.refundOrder('ord_1', { reason: 'closed' });
    await client.refundOrder('ord_1', { reason: 'closed' });

    expect(requests.map((request) => request.headers.get('idempotency-key'))).toEqual([
      'refund_ord_1',
      'refund_ord_1',
    ]);
  });

  it('lists orders with the documented query', async () => {
    const { client, requests } = scripted({ status: 200, body: { orders: [stored] } });

    const page = await client.listOrders({ status: 'PAID', limit: 5, cursor: 'c1' });

    expect(page.orders).toEqual([stored]);
    expect(requests[0]?.url).toBe(
      'https://autopay.invalid/v1/orders?status=PAID&limit=5&cursor=c1',
    );
  });

  it("creates an agent under a fresh key per call that the call's own retries keep", async () => {
    const agent = { agentId: 'ag_1', name: 'Runner' };
    const settings = {
      name: 'Runner',
      trustedActions: ['order_coffee'],
      perOrderLimit: 500,
      dailyLimit: 2000,
      limitCurrency: 'CNY' as const,
    };
    const { client, requests } = scripted(
      { status: 503, body: apiError('SERVICE_UNAVAILABLE'), headers: { 'retry-after': '1' } },
      { status: 201, body: agent },
      { status: 201, body: { ...agent, agentId: 'ag_2' } },
    );

    const first = await client.createAgent(settings);
    const second = await client.createAgent(settings);

    const keys = requests.map((request) => request.headers.get('idempotency-key'));
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[1]);
    expect(first).toEqual({ agent, created: true, idempotencyKey: keys[0] });
    expect(second.idempotencyKey).toBe(keys[2]);
    expect(requests[0]?.url).toBe('https://autopay.invalid/v1/agents');
  });

  it('deletes a webhook endpoint on a 204, and throws the code of an endpoint that is gone', async () => {
    const { client, requests } = scripted(
      { status: 204 },
      { status: 404, body: apiError('WEBHOOK_ENDPOINT_NOT_FOUND') },
    );

    await client.deleteWebhookEndpoint('we_1');
    const gone = await client.deleteWebhookEndpoint('we_1').catch((error: unknown) => error);

    expect(requests[0]?.method).toBe('DELETE');
    expect(requests[0]?.url).toBe('https://autopay.invalid/v1/webhook-endpoints/we_1');
    expect(gone).toMatchObject({ status: 404, code: 'WEBHOOK_ENDPOINT_NOT_FOUND' });
  });

  it('suspends and resumes an agent on its own routes', async () => {
    const { client, requests } = scripted(
      { status: 200, body: { agentId: 'ag_1', suspended: true } },
      { status: 200, body: { agentId: 'ag_1', suspended: false } },
    );

    expect((await client.suspendAgent('ag_1')).suspended).toBe(true);
    expect((await client.resumeAgent('ag_1')).suspended).toBe(false);
    expect(requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      'POST https://autopay.invalid/v1/agents/ag_1/suspend',
      'POST https://autopay.invalid/v1/agents/ag_1/resume',
    ]);
  });
});
