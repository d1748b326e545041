import { createHash } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhookPayload } from '#domain/webhook-signature.ts';
import { signLocalToken } from '../../local/auth.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { AgentClient } from '../support/http.ts';

let stack: LocalStack;
let token: string;
let existingOrderId: string;

/** Every item of the table, hashed: any write at all changes it. */
async function stateFingerprint(): Promise<string> {
  const scan = await stack.dynamodb.send(
    new ScanCommand({ TableName: stack.tableName, ConsistentRead: true }),
  );
  const items = (scan.Items ?? []).map((item) => JSON.stringify(item)).sort();
  return createHash('sha256').update(items.join('\n')).digest('hex');
}

beforeAll(async () => {
  // No consumers and no schedules: between two requests, only the request may change state.
  stack = await startLocalStack({ logLevel: 'SILENT', pollers: false, callbacks: false });
  token = await signLocalToken('demo-agent');
  const agent = await AgentClient.for(stack, 'demo-agent');
  existingOrderId = (await agent.place()).orderId;
});

afterAll(async () => {
  await stack?.stop();
});

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.constantFrom('', ' ', 'null', '{}', '[]', '{"amount":-1}', '\u0000', 'x'.repeat(70_000)),
);
const jsonish = fc.oneof(
  fc.json(),
  fc
    .record(
      {
        action: fc.oneof(fc.constant('order_coffee'), text),
        sessionId: fc.oneof(fc.constant('s-1'), text),
        items: fc.oneof(fc.constant(latteOrder.items), fc.anything()),
        amount: fc.oneof(fc.integer(), fc.double(), fc.constant(450), text),
        currency: fc.oneof(fc.constantFrom('CNY', 'XYZ', 'cny'), text),
        paymentMethod: fc.oneof(fc.constantFrom('wallet', 'card', 'invalid_method'), text),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
);
const body = fc.oneof(text, jsonish);
const header = fc.option(
  fc.string({ maxLength: 300 }).filter((value) => /^[\x20-\x7e]*$/.test(value)),
  {
    nil: undefined,
  },
);

async function send(
  path: string,
  init: { headers: Record<string, string | undefined>; body: string },
) {
  const headers = Object.fromEntries(
    Object.entries(init.headers).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method: 'POST',
    headers,
    body: init.body,
  });
  await response.arrayBuffer();
  return response.status;
}

/** Sends `request` and checks the answer is below 500 and, when refused, that nothing changed. */
async function holds(request: () => Promise<number>): Promise<void> {
  const before = await stateFingerprint();
  const status = await request();
  expect(status).toBeLessThan(500);
  if (status >= 400) {
    expect(await stateFingerprint()).toBe(before);
  }
}

describe('fuzzing the HTTP edges (real HTTP, local stack)', () => {
  it('intake answers every body and header set below 500, and a refusal changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(body, header, fc.boolean(), async (payload, key, authorized) => {
        await holds(() =>
          send('/v1/orders', {
            headers: {
              'idempotency-key': key,
              'content-type': 'application/json',
              authorization: authorized ? `Bearer ${token}` : key,
            },
            body: payload,
          }),
        );
      }),
      { numRuns: 80 },
    );
  });

  it('lifecycle answers every path, key and body below 500, and a refusal changes nothing', async () => {
    const id = fc.oneof(fc.constant(existingOrderId), fc.string({ maxLength: 40 }));
    const action = fc.constantFrom('confirm', 'cancel', 'refund');
    await fc.assert(
      fc.asyncProperty(id, action, body, header, async (orderId, verb, payload, key) => {
        await holds(() =>
          send(`/v1/orders/${encodeURIComponent(orderId)}/${verb}`, {
            headers: { 'idempotency-key': key, authorization: `Bearer ${token}` },
            body: payload,
          }),
        );
      }),
      { numRuns: 80 },
    );
  });

  it('the callback answers every body and signature below 500, and a refusal changes nothing', async () => {
    const signature = fc.oneof(
      header,
      body.map((payload) =>
        signWebhookPayload(payload, ['whsec_autopay_local'], Math.floor(Date.now() / 1000)),
      ),
    );
    const gateway = fc.oneof(fc.constant('simulator'), fc.string({ maxLength: 20 }));
    await fc.assert(
      fc.asyncProperty(gateway, body, signature, async (name, payload, signed) => {
        await holds(() =>
          send(`/v1/callbacks/${encodeURIComponent(name)}`, {
            headers: { 'stripe-signature': signed, 'content-type': 'application/json' },
            body: payload,
          }),
        );
      }),
      { numRuns: 80 },
    );
  });

  it('a validly signed event with any data still answers below 500', async () => {
    const event = fc.record({
      id: fc.string(),
      type: fc.constantFrom(
        'payment.succeeded',
        'payment.failed',
        'payment.pending',
        'refund.succeeded',
        'x',
      ),
      created: fc.oneof(fc.integer(), fc.double()),
      data: fc.record({
        paymentId: fc.string(),
        idempotencyKey: fc.oneof(fc.constant(existingOrderId), fc.string()),
        amount: fc.oneof(fc.integer(), fc.constant(450)),
        currency: fc.constantFrom('CNY', 'USD', 'x'),
      }),
    });
    await fc.assert(
      fc.asyncProperty(event, async (value) => {
        const payload = JSON.stringify(value);
        const signed = signWebhookPayload(
          payload,
          ['whsec_autopay_local'],
          Math.floor(Date.now() / 1000),
        );
        const status = await send('/v1/callbacks/simulator', {
          headers: { 'stripe-signature': signed },
          body: payload,
        });
        expect(status).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
  });
});
