import { describe, expect, it } from 'vitest';
import { AutopayError } from '#domain/errors.ts';
import { notificationEventTypes } from '#domain/notifications.ts';
import { makeDeliverNotification, signatureHeader } from '#domain/webhook-delivery.ts';
import {
  endpointSecret,
  makeWebhookEndpoints,
  type WebhookUrlPolicy,
} from '#domain/webhook-endpoints.ts';
import { verifyWebhookSignature } from '#domain/webhook-signature.ts';
import { FixedClock } from '../fakes/in-memory.ts';
import { fixedKey, InMemoryWebhookEndpoints, ScriptedSender } from '../fakes/notifications.ts';

const clock = new FixedClock(new Date('2026-11-29T10:00:00.000Z'));

function endpointsWith(urlPolicy: WebhookUrlPolicy = 'https', maxPerUser = 3) {
  const store = new InMemoryWebhookEndpoints();
  return {
    store,
    endpoints: makeWebhookEndpoints({
      store,
      key: fixedKey,
      clock,
      policy: { urlPolicy, maxPerUser },
    }),
  };
}

async function codeOf(act: () => Promise<unknown>): Promise<string> {
  try {
    await act();
  } catch (error) {
    expect(error).toBeInstanceOf(AutopayError);
    expect((error as AutopayError).status).toBeLessThan(500);
    return (error as AutopayError).code;
  }
  throw new Error('expected a refusal');
}

describe('webhook endpoints', () => {
  it('registers an endpoint with a secret of its own, derived, and never stored', async () => {
    // Prepare
    const { store, endpoints } = endpointsWith();

    // Act
    const first = await endpoints.create('demo-user', 'k1', {
      url: 'https://example.com/a',
      events: ['order.paid'],
    });
    const second = await endpoints.create('demo-user', 'k2', {
      url: 'https://example.com/a',
      events: ['order.paid'],
    });

    // Assess
    expect(first.endpoint.endpointId).toMatch(/^we_[0-9a-f]{24}$/);
    expect(first.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(second.secret).not.toBe(first.secret);
    expect(first.secret).toBe(endpointSecret(await fixedKey.get(), first.endpoint.endpointId));
    expect(JSON.stringify([...store.byUser.values()].map((m) => [...m.values()]))).not.toContain(
      first.secret,
    );
  });

  it('answers a replay with the same endpoint and secret, and refuses the key with another body', async () => {
    // Prepare
    const { endpoints } = endpointsWith();
    const body = { url: 'https://example.com/a', events: ['order.paid'] };
    const first = await endpoints.create('demo-user', 'k1', body);

    // Act
    const again = await endpoints.create('demo-user', 'k1', body);
    const reused = await codeOf(() =>
      endpoints.create('demo-user', 'k1', { ...body, url: 'https://example.com/b' }),
    );

    // Assess
    expect(again).toEqual({ ...first, replayed: true });
    expect(reused).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it.each([
    ['http://example.com/a', 'https'],
    ['ftp://example.com/a', 'https-or-loopback'],
    ['https://user:pass@example.com/a', 'https'],
    ['not a url', 'https'],
    ['http://127.0.0.1:8080/a', 'https'],
    ['http://10.0.0.1/a', 'https-or-loopback'],
  ] as const)('refuses %s where the policy is %s', async (url, policy) => {
    const { endpoints } = endpointsWith(policy);
    expect(await codeOf(() => endpoints.create('u', 'k', { url, events: ['order.paid'] }))).toBe(
      'INVALID_WEBHOOK_URL',
    );
  });

  it.each(['http://127.0.0.1:8080/a', 'http://localhost/a', 'https://example.com/a'])(
    'takes %s on the local stack',
    async (url) => {
      const { endpoints } = endpointsWith('https-or-loopback');
      await expect(
        endpoints.create('u', 'k', { url, events: ['order.paid'] }),
      ).resolves.toMatchObject({
        replayed: false,
      });
    },
  );

  it('takes every event type there is, order.refund_failed among them', async () => {
    // Act
    const { endpoints } = endpointsWith();
    const created = await endpoints.create('u', 'k', {
      url: 'https://example.com/a',
      events: [...notificationEventTypes],
    });

    // Assess
    expect(created.endpoint.events).toContain('order.refund_failed');
  });

  it.each([[[]], [['order.shipped']], [['order.paid', 'order.paid']]])(
    'refuses the events %j',
    async (events) => {
      const { endpoints } = endpointsWith();
      expect(
        await codeOf(() => endpoints.create('u', 'k', { url: 'https://example.com/a', events })),
      ).toBe('INVALID_WEBHOOK_EVENTS');
    },
  );

  it('refuses a missing key, an unknown field, and more endpoints than the cap, storing nothing', async () => {
    // Prepare
    const { store, endpoints } = endpointsWith('https', 2);
    const body = (i: number) => ({ url: `https://example.com/${i}`, events: ['order.paid'] });

    // Act
    const noKey = await codeOf(() => endpoints.create('u', undefined, body(0)));
    const extra = await codeOf(() => endpoints.create('u', 'k0', { ...body(0), secret: 'x' }));
    await endpoints.create('u', 'k1', body(1));
    await endpoints.create('u', 'k2', body(2));
    const full = await codeOf(() => endpoints.create('u', 'k3', body(3)));

    // Assess
    expect([noKey, extra, full]).toEqual([
      'IDEMPOTENCY_KEY_REQUIRED',
      'VALIDATION_FAILED',
      'WEBHOOK_ENDPOINT_LIMIT_REACHED',
    ]);
    expect((await store.list('u')).length).toBe(2);
  });

  it("lists a user's endpoints oldest first and deletes only the user's own", async () => {
    // Prepare
    const { endpoints } = endpointsWith();
    const mine = await endpoints.create('u', 'k1', {
      url: 'https://example.com/a',
      events: ['order.paid'],
    });

    // Act
    const othersDelete = await codeOf(() => endpoints.remove('v', mine.endpoint.endpointId));
    await endpoints.remove('u', mine.endpoint.endpointId);

    // Assess
    expect(othersDelete).toBe('WEBHOOK_ENDPOINT_NOT_FOUND');
    expect(await endpoints.list('u')).toEqual([]);
  });
});

describe('delivering an event to an endpoint', () => {
  async function setUp(answers: ConstructorParameters<typeof ScriptedSender>[0] = []) {
    const { store, endpoints } = endpointsWith();
    const created = await endpoints.create('u', 'k1', {
      url: 'https://example.com/hook',
      events: ['order.paid'],
    });
    const sender = new ScriptedSender(answers);
    const deliver = makeDeliverNotification({
      endpoints: store,
      sender,
      key: fixedKey,
      clock,
      backoff: { baseSeconds: 2, maxSeconds: 900 },
    });
    const message = {
      eventId: 'evt_1',
      eventType: 'order.paid' as const,
      userId: 'u',
      endpointId: created.endpoint.endpointId,
      body: '{"id":"evt_1","type":"order.paid"}',
    };
    return { created, sender, deliver, message, endpoints };
  }

  it("POSTs the body signed with the endpoint's own secret", async () => {
    // Prepare
    const { created, sender, deliver, message } = await setUp();

    // Act
    const result = await deliver(message, 1);

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'delivered: 200' });
    const [post] = sender.posts;
    expect(post?.url).toBe('https://example.com/hook');
    expect(post?.body).toBe(message.body);
    expect(
      verifyWebhookSignature({
        header: post?.headers[signatureHeader],
        body: message.body,
        secrets: [created.secret],
        nowSeconds: clock.now().getTime() / 1000,
      }),
    ).toMatchObject({ secretIndex: 0 });
  });

  it('comes back later, with a growing backoff, after a 5xx, a 3xx or no answer', async () => {
    // Prepare
    const { deliver, message } = await setUp([
      { kind: 'answered', status: 500 },
      { kind: 'answered', status: 302 },
      { kind: 'unreachable', reason: 'no answer in 5000 ms' },
    ]);

    // Act
    const results = [
      await deliver(message, 1),
      await deliver(message, 5),
      await deliver(message, 12),
    ];

    // Assess
    expect(results.map((result) => result.kind)).toEqual(['retry', 'retry', 'retry']);
    const delays = results.map((result) => (result.kind === 'retry' ? result.delaySeconds : 0));
    expect(delays[0]).toBeLessThanOrEqual(2);
    expect(delays[1]).toBeGreaterThanOrEqual(16);
    expect(delays[2]).toBeGreaterThanOrEqual(450);
    expect(results[2]).toMatchObject({ reason: 'no answer in 5000 ms' });
  });

  it('drops the event of an endpoint deleted since, without a POST', async () => {
    // Prepare
    const { created, sender, deliver, message, endpoints } = await setUp();
    await endpoints.remove('u', created.endpoint.endpointId);

    // Act
    const result = await deliver(message, 1);

    // Assess
    expect(result.kind).toBe('done');
    expect(sender.posts).toEqual([]);
  });
});
