import { createHash, randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhookPayload } from '#domain/webhook-signature.ts';
import { signAgentToken, signOwnerToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { apiFetch } from '../support/contract.ts';
import { AgentClient } from '../support/http.ts';

let stack: LocalRuntime;
let token: string;
let userToken: string;
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
  stack = await startLocalRuntime({ logLevel: 'SILENT', pollers: false, callbacks: false });
  token = await signAgentToken('demo-agent');
  userToken = await signOwnerToken('demo-agent');
  const agent = await AgentClient.for(stack, 'demo-agent');
  existingOrderId = (await agent.place()).orderId;
});

afterAll(async () => {
  await stack?.stop();
});

/**
 * What no text field may hold: controls, unpaired surrogates (JSON.stringify writes them as
 * `\ud800`) and bidirectional controls. Mixed into every string the properties send.
 */
const forbidden = fc.constantFrom(
  ...['\u0000', '\u0007', '\t', '\n', '\u001b', '\u007f', '\u0085', '\u009b'],
  ...['\ud800', '\udbff', '\udc00', '\udfff', '\u061c', '\u200e', '\u200f'],
  ...['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'],
);
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.string({
    unit: fc.oneof(forbidden, fc.string({ minLength: 1, maxLength: 1 })),
    maxLength: 50,
  }),
  fc.constantFrom('', ' ', 'null', '{}', '[]', '{"amount":-1}', '\u0000', 'x'.repeat(70_000)),
);
const jsonish = fc.oneof(
  fc.json(),
  fc
    .record(
      {
        action: fc.oneof(fc.constant('order_coffee'), text),
        sessionId: fc.oneof(fc.constant('s-1'), text),
        items: fc.oneof(
          fc.constant(latteOrder.items),
          fc.array(fc.record({ sku: text, size: text, quantity: fc.constant(1) }), {
            minLength: 1,
            maxLength: 3,
          }),
          fc.anything(),
        ),
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
/** Header values travel as bytes: printable ASCII, and C1 controls as obs-text (0x80-0x9f). */
const header = fc.option(
  fc
    .string({
      unit: fc.oneof(
        fc.constantFrom('\u0085', '\u009b'),
        fc.string({ minLength: 1, maxLength: 1 }),
      ),
      maxLength: 300,
    })
    .filter((value) => /^[\x20-\x7e\x80-\x9f]*$/.test(value)),
  { nil: undefined },
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
  const response = await apiFetch(`${stack.apiUrl}${path}`, {
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

  it('intake refuses a good order with a forbidden character in any text field, storing nothing', async () => {
    const field = fc.constantFrom('action', 'sessionId', 'sku', 'size');
    await fc.assert(
      fc.asyncProperty(field, forbidden, fc.nat(), async (name, character, at) => {
        // Prepare
        const [item] = latteOrder.items;
        const texts: Record<string, string> = {
          action: latteOrder.action,
          sessionId: latteOrder.sessionId,
          sku: item.sku,
          size: item.size,
        };
        const original = texts[name] ?? '';
        const cut = at % (original.length + 1);
        texts[name] = `${original.slice(0, cut)}${character}${original.slice(cut)}`;
        const order = {
          ...latteOrder,
          action: texts.action,
          sessionId: texts.sessionId,
          items: [{ ...item, sku: texts.sku, size: texts.size }],
        };
        const before = await stateFingerprint();

        // Act
        const response = await apiFetch(`${stack.apiUrl}/v1/orders`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'idempotency-key': `fuzz-${randomUUID()}`,
          },
          body: JSON.stringify(order),
        });

        // Assess
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
          'VALIDATION_FAILED',
        );
        expect(await stateFingerprint()).toBe(before);
      }),
      { numRuns: 40 },
    );
  });

  it('lifecycle answers every path, key and body below 500, and a refusal changes nothing', async () => {
    const id = fc.oneof(fc.constant(existingOrderId), fc.string({ maxLength: 40 }));
    const action = fc.constantFrom('confirm', 'cancel', 'refund');
    // The agent's token is refused the user's routes; the user's reaches their handlers.
    const bearer = fc.constantFrom(token, userToken);
    await fc.assert(
      fc.asyncProperty(
        id,
        action,
        body,
        header,
        bearer,
        async (orderId, verb, payload, key, credential) => {
          await holds(() =>
            send(`/v1/orders/${encodeURIComponent(orderId)}/${verb}`, {
              headers: { 'idempotency-key': key, authorization: `Bearer ${credential}` },
              body: payload,
            }),
          );
        },
      ),
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
      id: text,
      type: fc.constantFrom(
        'payment.succeeded',
        'payment.failed',
        'payment.pending',
        'refund.succeeded',
        'x',
      ),
      created: fc.oneof(fc.integer(), fc.double()),
      data: fc.record({
        paymentId: text,
        idempotencyKey: fc.oneof(fc.constant(existingOrderId), text),
        declineCode: fc.option(text, { nil: undefined }),
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
