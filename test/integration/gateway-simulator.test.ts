import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  GatewayApiKey,
  GatewayEvent,
  GatewayNewApiKey,
  GatewayPayment,
  GatewayRefund,
  GatewayWebhookSecret,
  Ledger,
} from '../../local/simulators/gateway/contract.ts';
import type { ScriptedGatewayFault } from '../../local/simulators/gateway/fault-settings.ts';
import {
  type GatewaySimulator,
  startGatewaySimulator,
} from '../../local/simulators/gateway/server.ts';

const apiKey = 'sk_test_gateway';
const secrets = ['whsec_previous', 'whsec_current'];
const coffee = { amount: 1250, currency: 'CNY', paymentMethod: 'wallet' };

interface Delivery {
  body: string;
  signature: string;
  event: GatewayEvent;
}

/** A stand-in for autopay's callback endpoint: records what arrives, answers as told. */
class CallbackReceiver {
  readonly deliveries: Delivery[] = [];
  /** Statuses for the next deliveries, then 200. */
  readonly statuses: number[] = [];
  readonly #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    // A reset of the gateway aborts deliveries in flight; that is not this test's concern.
    req.on('error', () => undefined);
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['stripe-signature'] ?? '');
      this.deliveries.push({ body, signature, event: JSON.parse(body) as GatewayEvent });
      res.writeHead(this.statuses.shift() ?? 200).end();
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' ? address?.port : ''}/callbacks`;
  }

  async waitFor(count: number): Promise<Delivery[]> {
    for (let waited = 0; this.deliveries.length < count; waited += 10) {
      if (waited > 5_000) throw new Error(`Got ${this.deliveries.length} of ${count} callbacks.`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.deliveries;
  }

  types(): string[] {
    return this.deliveries.map((delivery) => delivery.event.type);
  }

  clear(): void {
    this.deliveries.length = 0;
    this.statuses.length = 0;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

/** Verifies a Stripe-Signature header the way autopay must: any v1 made with the secret. */
function signedWith(header: string, body: string, secret: string): boolean {
  const fields = header.split(',').map((field) => field.split('=') as [string, string]);
  const timestamp = fields.find(([name]) => name === 't')?.[1];
  const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return fields.some(([name, value]) => name === 'v1' && value === expected);
}

let gateway: GatewaySimulator;
const receiver = new CallbackReceiver();
let keys = 0;

function newKey(): string {
  keys += 1;
  return `order-${keys}`;
}

function call(path: string, init: RequestInit = {}, timeoutMs = 5_000): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      ...init.headers,
    },
    signal: AbortSignal.timeout(timeoutMs),
  });
}

function create(key: string, body: object = coffee, timeoutMs = 5_000): Promise<Response> {
  const init = { method: 'POST', headers: { 'idempotency-key': key }, body: JSON.stringify(body) };
  return call('/v1/payments', init, timeoutMs);
}

function refund(key: string, body: object): Promise<Response> {
  const init = { method: 'POST', headers: { 'idempotency-key': key }, body: JSON.stringify(body) };
  return call('/v1/refunds', init);
}

async function createPending(key: string): Promise<GatewayPayment> {
  gateway.scriptNext([{ fault: 'pending' }]);
  return (await (await create(key)).json()) as GatewayPayment;
}

function chargesFor(key: string): number {
  return gateway.ledger().charges[key]?.payments ?? 0;
}

beforeAll(async () => {
  await receiver.start();
  gateway = await startGatewaySimulator({
    apiKeys: [apiKey],
    webhookSecrets: secrets,
    callbackUrl: receiver.url,
    seed: 7,
    faults: { hangMs: 2_000, settleAfterMs: 50 },
  });
});

afterEach(() => {
  gateway.reset();
  receiver.clear();
});

afterAll(async () => {
  await gateway.stop();
  await receiver.stop();
});

describe('gateway simulator: authentication and validation', () => {
  it('answers 401 authentication_error without a valid API key, and charges nothing', async () => {
    // Prepare
    const key = newKey();
    const init = { method: 'POST', headers: { 'idempotency-key': key }, body: '{}' };

    // Act
    const missing = await fetch(`${gateway.url}/v1/payments`, init);
    const wrong = await fetch(`${gateway.url}/v1/payments`, {
      ...init,
      headers: { ...init.headers, authorization: 'Bearer sk_wrong' },
    });

    // Assess
    expect(missing.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { type: 'authentication_error' } });
    expect(chargesFor(key)).toBe(0);
  });

  it('answers 400 invalid_request_error without an Idempotency-Key or with a bad body', async () => {
    // Act
    const noKey = await call('/v1/payments', { method: 'POST', body: JSON.stringify(coffee) });
    const floatAmount = await create(newKey(), { ...coffee, amount: 12.5 });
    const badCurrency = await create(newKey(), { ...coffee, currency: 'cny' });

    // Assess
    expect([noKey.status, floatAmount.status, badCurrency.status]).toEqual([400, 400, 400]);
    expect(await floatAmount.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(gateway.ledger().payments).toEqual([]);
  });
});

describe('gateway simulator: payments and idempotency', () => {
  it('creates a SUCCESS payment and sends a signed payment.succeeded callback', async () => {
    // Prepare
    const key = newKey();

    // Act
    const response = await create(key, { ...coffee, reference: 'coffee-1' });

    // Assess
    expect(response.status).toBe(200);
    const payment = (await response.json()) as GatewayPayment;
    expect(payment).toMatchObject({ idempotencyKey: key, status: 'SUCCESS', ...coffee });
    expect(payment.id).toMatch(/^pay_/);
    expect(payment.created).toBeCloseTo(Date.now() / 1000, -1);
    const [delivery] = await receiver.waitFor(1);
    expect(delivery?.event).toMatchObject({
      type: 'payment.succeeded',
      data: { paymentId: payment.id, idempotencyKey: key, amount: 1250, currency: 'CNY' },
    });
    expect(gateway.ledger().charges[key]).toEqual({
      payments: 1,
      captured: 1250,
      refunded: 0,
      voided: false,
      status: 'SUCCESS',
    });
  });

  it('replays the stored payment for a repeated key, concurrent repeats included', async () => {
    // Prepare
    const key = newKey();
    const first = (await (await create(key)).json()) as GatewayPayment;

    // Act
    const repeats = await Promise.all([create(key), create(key), create(key)]);

    // Assess
    for (const repeat of repeats) {
      expect(repeat.status).toBe(200);
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');
      expect(((await repeat.json()) as GatewayPayment).id).toBe(first.id);
    }
    expect(chargesFor(key)).toBe(1);
    expect(gateway.ledger().payments).toHaveLength(1);
  });

  it('answers 422 idempotency_error for a known key with another amount', async () => {
    // Prepare
    const key = newKey();
    await create(key);

    // Act
    const response = await create(key, { ...coffee, amount: 9_900 });

    // Assess
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ error: { type: 'idempotency_error' } });
    expect(chargesFor(key)).toBe(1);
  });

  it('finds a payment by id and by idempotency key, and answers 404 or [] otherwise', async () => {
    // Prepare
    const key = newKey();
    const payment = (await (await create(key)).json()) as GatewayPayment;

    // Act
    const byId = await call(`/v1/payments/${payment.id}`);
    const byKey = await call(`/v1/payments?idempotencyKey=${key}`);
    const unknownId = await call('/v1/payments/pay_unknown');
    const unknownKey = await call('/v1/payments?idempotencyKey=never-used');

    // Assess
    expect(await byId.json()).toEqual(payment);
    expect(await byKey.json()).toEqual({ data: [payment] });
    expect(unknownId.status).toBe(404);
    expect(await unknownId.json()).toMatchObject({ error: { type: 'not_found' } });
    expect(await unknownKey.json()).toEqual({ data: [] });
  });

  it('answers a scripted decline with FAILED, its decline code and payment.failed', async () => {
    // Prepare
    const key = newKey();
    gateway.scriptNext([{ fault: 'decline', declineCode: 'insufficient_funds' }]);

    // Act
    const payment = (await (await create(key)).json()) as GatewayPayment;

    // Assess
    expect(payment).toMatchObject({ status: 'FAILED', declineCode: 'insufficient_funds' });
    const [delivery] = await receiver.waitFor(1);
    expect(delivery?.event).toMatchObject({
      type: 'payment.failed',
      data: { declineCode: 'insufficient_funds' },
    });
    expect(gateway.ledger().charges[key]).toMatchObject({ payments: 1, captured: 0 });
  });
});

describe('gateway simulator: charge then timeout', () => {
  it('charges once although the client times out, and a retry with the key replays it', async () => {
    // Prepare
    const key = newKey();
    gateway.scriptNext([{ fault: 'charge_then_timeout' }]);

    // Act
    const lost = create(key, coffee, 1_000);
    await expect(lost).rejects.toThrow(/timeout|abort/i);
    const chargedMeanwhile = gateway.ledger().charges[key];
    const retry = await create(key);

    // Assess
    expect(chargedMeanwhile).toMatchObject({ payments: 1, captured: 1250, status: 'SUCCESS' });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toMatchObject({ idempotencyKey: key, status: 'SUCCESS' });
    expect(chargesFor(key)).toBe(1);
  });

  it('refunds although the client times out when refundThenTimeoutRate is 1, and the key replays it', async () => {
    // Prepare
    const key = newKey();
    const payment = (await (await create(key)).json()) as GatewayPayment;
    gateway.setFaults({ refundThenTimeoutRate: 1 });
    const init = {
      method: 'POST',
      headers: { 'idempotency-key': 'refund-lost' },
      body: JSON.stringify({ paymentId: payment.id }),
    };

    // Act
    const lost = call('/v1/refunds', init, 1_000);
    await expect(lost).rejects.toThrow(/timeout|abort/i);
    const refundedMeanwhile = gateway.ledger().charges[key];
    gateway.setFaults({ refundThenTimeoutRate: 0 });
    const retry = await call('/v1/refunds', init);

    // Assess
    expect(refundedMeanwhile).toMatchObject({ captured: 1250, refunded: 1250 });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(gateway.ledger().refunds).toHaveLength(1);
  });
});

describe('gateway simulator: transport faults charge nothing', () => {
  it.each<{
    name: string;
    fault: ScriptedGatewayFault;
    status: number;
    type: string;
    retryAfter: string | null;
  }>([
    {
      name: 'an error',
      fault: { fault: 'error', status: 503 },
      status: 503,
      type: 'api_error',
      retryAfter: null,
    },
    {
      name: 'a throttle',
      fault: { fault: 'throttle', retryAfterSeconds: 7 },
      status: 429,
      type: 'rate_limit_error',
      retryAfter: '7',
    },
  ])('answers $name with its status and no charge', async ({ fault, status, type, retryAfter }) => {
    // Prepare
    const key = newKey();
    gateway.scriptNext([fault]);

    // Act
    const response = await create(key);

    // Assess
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error: { type } });
    expect(response.headers.get('retry-after')).toBe(retryAfter);
    expect(gateway.ledger().charges[key]).toMatchObject({ payments: 0, status: null });
  });

  it('drops the connection on a reset: fetch rejects and nothing is charged', async () => {
    // Prepare
    const key = newKey();
    gateway.scriptNext([{ fault: 'reset' }]);

    // Act
    const attempt = create(key);

    // Assess
    await expect(attempt).rejects.toThrow(TypeError);
    expect(chargesFor(key)).toBe(0);
  });

  it('never answers a hung request: the client aborts and nothing is charged', async () => {
    // Prepare
    const key = newKey();
    gateway.scriptNext([{ fault: 'hang' }]);

    // Act
    const attempt = create(key, coffee, 300);

    // Assess
    await expect(attempt).rejects.toThrow(/timeout|abort/i);
    expect(chargesFor(key)).toBe(0);
  });

  it('draws transport faults for lookups too, unless they are kept to creates', async () => {
    // Prepare
    const key = newKey();
    await create(key);
    gateway.setFaults({ errorRate: 1, errorStatuses: [502] });

    // Act
    const everywhere = await call(`/v1/payments?idempotencyKey=${key}`);
    gateway.setFaults({ transportFaultsOnlyOnCreate: true });
    const createsOnly = await call(`/v1/payments?idempotencyKey=${key}`);
    const failedCreate = await create(newKey());

    // Assess
    expect(everywhere.status).toBe(502);
    expect(createsOnly.status).toBe(200);
    expect(failedCreate.status).toBe(502);
    expect(gateway.ledger().payments).toHaveLength(1);
  });

  it('draws the same faults again from the same seed', async () => {
    // Prepare
    gateway.setFaults({ errorRate: 0.5 });
    const draw = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i += 1) statuses.push((await create(newKey())).status);
      return statuses;
    };

    // Act
    const first = await draw();
    gateway.reset();
    gateway.setFaults({ errorRate: 0.5 });
    const second = await draw();

    // Assess
    expect(second).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(1);
  });
});

describe('gateway simulator: pending payments, voids and callbacks', () => {
  it('settles a PENDING payment by itself and signs its callbacks with every secret', async () => {
    // Prepare
    const key = newKey();

    // Act
    const payment = await createPending(key);
    const deliveries = await receiver.waitFor(2);
    const settled = (await (await call(`/v1/payments/${payment.id}`)).json()) as GatewayPayment;

    // Assess
    expect(payment.status).toBe('PENDING');
    expect(settled.status).toBe('SUCCESS');
    // Separate events travel independently: on a busy machine the later one may overtake.
    expect(receiver.types().sort()).toEqual(['payment.pending', 'payment.succeeded']);
    for (const { signature, body } of deliveries) {
      expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
      expect(secrets.every((secret) => signedWith(signature, body, secret))).toBe(true);
      expect(signedWith(signature, body, 'whsec_someone_else')).toBe(false);
      const timestamp = Number(/^t=(\d+)/.exec(signature)?.[1]);
      expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(300);
    }
  });

  it('settles as FAILED with settlement_failed when pendingSuccessRate is 0', async () => {
    // Prepare
    gateway.setFaults({ pendingSuccessRate: 0 });

    // Act
    const payment = await createPending(newKey());
    await receiver.waitFor(2);

    // Assess
    expect(gateway.ledger().payments[0]).toMatchObject({
      id: payment.id,
      status: 'FAILED',
      declineCode: 'settlement_failed',
    });
    expect(receiver.types().sort()).toEqual(['payment.failed', 'payment.pending']);
  });

  it('voids a PENDING payment, idempotently, and it never settles afterwards', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false });
    const key = newKey();
    const payment = await createPending(key);

    // Act
    const first = await call(`/v1/payments/${payment.id}/void`, { method: 'POST' });
    const again = await call(`/v1/payments/${payment.id}/void`, { method: 'POST' });
    const lateSettlement = gateway.settle(payment.id, 'SUCCESS');

    // Assess
    expect(await first.json()).toMatchObject({ status: 'VOIDED', amountVoided: 1250 });
    expect(again.status).toBe(200);
    await expect(lateSettlement).rejects.toMatchObject({ type: 'invalid_state' });
    expect(gateway.ledger().charges[key]).toMatchObject({ voided: true, captured: 0 });
  });

  it('refuses to void a captured payment, and answers 404 for an unknown one', async () => {
    // Prepare
    const payment = (await (await create(newKey())).json()) as GatewayPayment;

    // Act
    const captured = await call(`/v1/payments/${payment.id}/void`, { method: 'POST' });
    const unknown = await call('/v1/payments/pay_unknown/void', { method: 'POST' });

    // Assess
    expect(captured.status).toBe(409);
    expect(await captured.json()).toMatchObject({ error: { type: 'invalid_state' } });
    expect(unknown.status).toBe(404);
  });

  it('delivers every callback twice when duplicateRate is 1', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false, callbacks: { duplicateRate: 1 } });
    const payment = await createPending(newKey());
    await receiver.waitFor(2);

    // Act
    await gateway.settle(payment.id, 'SUCCESS');
    await receiver.waitFor(4);

    // Assess
    const ids = receiver.deliveries.map((delivery) => delivery.event.id);
    expect(receiver.types()).toEqual([
      'payment.pending',
      'payment.pending',
      'payment.succeeded',
      'payment.succeeded',
    ]);
    expect(new Set(ids).size).toBe(2);
    expect(gateway.ledger().callbacksSent).toBe(4);
  });

  it('sends no callback at all when lostRate is 1', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false, callbacks: { lostRate: 1 } });
    const payment = await createPending(newKey());

    // Act
    await gateway.settle(payment.id, 'SUCCESS');

    // Assess
    expect(receiver.deliveries).toEqual([]);
    expect(gateway.ledger().callbacksSent).toBe(0);
  });

  it('delivers the settlement before payment.pending when outOfOrderRate is 1', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false, callbacks: { outOfOrderRate: 1 } });
    const payment = await createPending(newKey());

    // Act
    await gateway.settle(payment.id, 'SUCCESS');

    // Assess
    expect(receiver.types()).toEqual(['payment.succeeded', 'payment.pending']);
  });

  it('retries a callback the receiver refused, signed afresh', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false });
    const payment = await createPending(newKey());
    await receiver.waitFor(1);
    receiver.statuses.push(500);

    // Act
    await gateway.settle(payment.id, 'SUCCESS');

    // Assess
    expect(receiver.types()).toEqual(['payment.pending', 'payment.succeeded', 'payment.succeeded']);
    const [, refused, retried] = receiver.deliveries;
    expect(retried?.body).toBe(refused?.body);
    expect(gateway.ledger().callbacksSent).toBe(3);
  });
});

describe('gateway simulator: refunds', () => {
  it('refunds idempotently, up to the captured amount and never beyond', async () => {
    // Prepare
    const key = newKey();
    const payment = (await (await create(key)).json()) as GatewayPayment;

    // Act
    const part = await refund('refund-1', { paymentId: payment.id, amount: 500 });
    const replay = await refund('refund-1', { paymentId: payment.id, amount: 500 });
    const rest = await refund('refund-2', { paymentId: payment.id });
    const beyond = await refund('refund-3', { paymentId: payment.id, amount: 1 });

    // Assess
    const first = (await part.json()) as GatewayRefund;
    expect(first).toMatchObject({ paymentId: payment.id, amount: 500, status: 'SUCCEEDED' });
    expect(first.id).toMatch(/^re_/);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as GatewayRefund).id).toBe(first.id);
    expect(await rest.json()).toMatchObject({ amount: 750, currency: 'CNY' });
    expect(beyond.status).toBe(409);
    const ledger = gateway.ledger();
    expect(ledger.refunds).toHaveLength(2);
    expect(ledger.charges[key]).toMatchObject({ captured: 1250, refunded: 1250 });
    // Callbacks for separate events travel independently, so they may arrive in any order.
    const deliveries = await receiver.waitFor(3);
    const refunded = deliveries.find((delivery) => delivery.event.data.refundId === first.id);
    expect(refunded?.event).toMatchObject({
      type: 'refund.succeeded',
      data: { paymentId: payment.id, amount: 500, idempotencyKey: key },
    });
  });

  it('fails a refund after it succeeded: the money comes back and a signed refund.failed follows', async () => {
    // Prepare
    const key = newKey();
    const payment = (await (await create(key)).json()) as GatewayPayment;
    gateway.setFaults({ refundFailAfterMs: 50 });
    gateway.scriptNext([{ fault: 'refund_fails_later' }]);

    // Act
    const made = (await (
      await refund('refund-fails', { paymentId: payment.id })
    ).json()) as GatewayRefund;
    const deliveries = await receiver.waitFor(3);

    // Assess: it succeeded first, then failed, and the ledger counts it refunded no more.
    expect(made).toMatchObject({ status: 'SUCCEEDED', amount: 1250 });
    expect(deliveries.map((d) => d.event.type)).toContain('refund.failed');
    expect(deliveries.find((d) => d.event.type === 'refund.failed')?.event.data).toMatchObject({
      paymentId: payment.id,
      idempotencyKey: key,
      amount: 1250,
      refundId: made.id,
      failureReason: 'expired_or_canceled_card',
    });
    const ledger = gateway.ledger();
    expect(ledger.refunds).toMatchObject([{ id: made.id, status: 'FAILED' }]);
    expect(ledger.charges[key]).toMatchObject({ captured: 1250, refunded: 0 });
    expect(ledger.failedRefunds).toBe(1);
  });

  it('refuses to refund a payment that is not SUCCESS', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false });
    const payment = await createPending(newKey());

    // Act
    const response = await refund('refund-pending', { paymentId: payment.id });

    // Assess
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_state' } });
    expect(gateway.ledger().refunds).toEqual([]);
  });
});

describe('gateway simulator: late successes, stuck payments and stray refund events', () => {
  async function voidPayment(id: string): Promise<GatewayPayment> {
    return (await (
      await call(`/v1/payments/${id}/void`, { method: 'POST' })
    ).json()) as GatewayPayment;
  }

  async function lookUp(id: string): Promise<GatewayPayment> {
    return (await (await call(`/v1/payments/${id}`)).json()) as GatewayPayment;
  }

  it('captures a voided payment anyway when lateSuccessRate is 1, and says so', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false, lateSuccessRate: 1, lateSuccessAfterMs: 20 });
    const key = newKey();
    const payment = await createPending(key);
    await receiver.waitFor(1);

    // Act
    const voided = await voidPayment(payment.id);
    await receiver.waitFor(2);

    // Assess: the void answered VOIDED, then the money was taken and announced.
    expect(voided).toMatchObject({ status: 'VOIDED', amountVoided: 1250 });
    expect(receiver.types()).toEqual(['payment.pending', 'payment.succeeded']);
    expect(await lookUp(payment.id)).toMatchObject({ status: 'SUCCESS', amountVoided: 0 });
    const ledger = gateway.ledger();
    expect(ledger.charges[key]).toMatchObject({ captured: 1250, voided: false, status: 'SUCCESS' });
    expect(ledger.lateSuccesses).toBe(1);
  });

  it('captures after a scripted late_success only, the next void holding', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false, lateSuccessAfterMs: 20 });
    const held = await createPending(newKey());
    const late = await createPending(newKey());
    await receiver.waitFor(2);

    // Act
    await voidPayment(held.id);
    gateway.scriptNext([{ fault: 'late_success' }]);
    await voidPayment(late.id);
    await receiver.waitFor(3);

    // Assess
    expect(receiver.deliveries[2]?.event).toMatchObject({
      type: 'payment.succeeded',
      data: { paymentId: late.id },
    });
    expect(await lookUp(held.id)).toMatchObject({ status: 'VOIDED' });
    expect(gateway.ledger().lateSuccesses).toBe(1);
  });

  it('captures a voided payment later, unannounced, with slowLateSuccessRate and lateSuccessCallbackLostRate at 1', async () => {
    // Prepare
    gateway.setFaults({
      autoSettle: false,
      lateSuccessRate: 1,
      lateSuccessAfterMs: 0,
      slowLateSuccessRate: 1,
      slowLateSuccessAfterMs: { min: 50, max: 50 },
      lateSuccessCallbackLostRate: 1,
    });
    const key = newKey();
    const payment = await createPending(key);
    await receiver.waitFor(1);

    // Act
    await voidPayment(payment.id);
    const meanwhile = await lookUp(payment.id);
    await vi.waitFor(() => expect(gateway.inFlight()).toBe(0), { timeout: 5_000, interval: 10 });

    // Assess: voided until the slow capture came; the capture was never announced.
    expect(meanwhile).toMatchObject({ status: 'VOIDED' });
    expect(await lookUp(payment.id)).toMatchObject({ status: 'SUCCESS', amountVoided: 0 });
    expect(receiver.types()).toEqual(['payment.pending']);
    const ledger = gateway.ledger();
    expect(ledger.charges[key]).toMatchObject({ captured: 1250, status: 'SUCCESS' });
    expect(ledger).toMatchObject({
      lateSuccesses: 1,
      slowLateSuccesses: 1,
      lateSuccessCallbacksLost: 1,
    });
  });

  it('captures after a scripted late_success when it says, announcing it or not as it says', async () => {
    // Prepare
    gateway.setFaults({ autoSettle: false, lateSuccessAfterMs: 0 });
    const announced = await createPending(newKey());
    const silent = await createPending(newKey());
    await receiver.waitFor(2);

    // Act
    gateway.scriptNext([
      { fault: 'late_success', afterMs: 30 },
      { fault: 'late_success', afterMs: 30, callbackLost: true },
    ]);
    await voidPayment(announced.id);
    await voidPayment(silent.id);
    await vi.waitFor(() => expect(gateway.inFlight()).toBe(0), { timeout: 5_000, interval: 10 });

    // Assess
    expect(receiver.deliveries.slice(2).map((delivery) => delivery.event)).toEqual([
      expect.objectContaining({
        type: 'payment.succeeded',
        data: expect.objectContaining({ paymentId: announced.id }),
      }),
    ]);
    expect(await lookUp(silent.id)).toMatchObject({ status: 'SUCCESS' });
    expect(gateway.ledger()).toMatchObject({
      lateSuccesses: 2,
      slowLateSuccesses: 2,
      lateSuccessCallbacksLost: 1,
    });
  });

  it('leaves a pending payment to settle() or a void when neverSettleRate is 1', async () => {
    // Prepare: the stuck payment's timer would fire before the second one's.
    gateway.setFaults({ neverSettleRate: 1 });
    const stuck = await createPending(newKey());
    gateway.setFaults({ neverSettleRate: 0 });
    const settling = await createPending(newKey());

    // Act
    await receiver.waitFor(3);
    const types = receiver.types();
    const voided = await voidPayment(stuck.id);

    // Assess
    expect(types.sort()).toEqual(['payment.pending', 'payment.pending', 'payment.succeeded']);
    expect(
      receiver.deliveries.find((d) => d.event.type === 'payment.succeeded')?.event,
    ).toMatchObject({ data: { paymentId: settling.id } });
    expect(voided).toMatchObject({ status: 'VOIDED' });
  });

  it.each([
    { stray: 'foreign', first: true, sameId: false, amount: 1250 },
    { stray: 'partial', first: false, sameId: true, amount: 625 },
    { stray: 'both', first: true, sameId: false, amount: 625 },
  ] as const)(
    'sends a $stray stray refund.succeeded (first: $first) beside the real one, not in the ledger',
    async ({ stray, first, sameId, amount }) => {
      // Prepare
      const key = newKey();
      const payment = (await (await create(key)).json()) as GatewayPayment;
      gateway.scriptNext([{ fault: 'stray_refund', stray, first }]);

      // Act
      const real = (await (
        await refund(newKey(), { paymentId: payment.id })
      ).json()) as GatewayRefund;
      await receiver.waitFor(3);

      // Assess
      const refunds = receiver.deliveries.filter((d) => d.event.type === 'refund.succeeded');
      const [fake, genuine] = first ? refunds : [...refunds].reverse();
      expect(genuine?.event.data).toMatchObject({ refundId: real.id, amount: 1250 });
      expect(fake?.event.id).not.toBe(genuine?.event.id);
      expect(fake?.event.data.refundId === real.id).toBe(sameId);
      expect(fake?.event.data).toMatchObject({
        paymentId: payment.id,
        amount,
        idempotencyKey: key,
      });
      expect(
        secrets.every((secret) => signedWith(fake?.signature ?? '', fake?.body ?? '', secret)),
      ).toBe(true);
      const ledger = gateway.ledger();
      expect(ledger.refunds).toEqual([real]);
      expect(ledger.charges[key]).toMatchObject({ captured: 1250, refunded: 1250 });
      expect(ledger.strayRefundEvents).toBe(1);
    },
  );

  it('draws a stray refund event for every refund when strayRefundRate is 1', async () => {
    // Prepare
    gateway.setFaults({ callbacks: { strayRefundRate: 1 } });
    const payment = (await (await create(newKey())).json()) as GatewayPayment;

    // Act
    const real = (await (
      await refund(newKey(), { paymentId: payment.id })
    ).json()) as GatewayRefund;
    await receiver.waitFor(3);

    // Assess: one event is the real refund, the other is not what the ledger holds.
    const refunds = receiver.deliveries
      .filter((d) => d.event.type === 'refund.succeeded')
      .map((d) => d.event.data);
    expect(refunds).toContainEqual(expect.objectContaining({ refundId: real.id, amount: 1250 }));
    expect(refunds.filter((r) => r.refundId !== real.id || r.amount !== 1250)).toHaveLength(1);
    expect(gateway.ledger().strayRefundEvents).toBe(1);
  });

  it('counts settlements and callbacks still to come in inFlight, but not a stuck payment', async () => {
    // Prepare
    gateway.setFaults({ neverSettleRate: 1, callbacks: { enabled: false } });
    await createPending(newKey());
    gateway.setFaults({ neverSettleRate: 0, callbacks: { enabled: true } });

    // Act
    await createPending(newKey());
    const busy = gateway.inFlight();
    await receiver.waitFor(2);
    for (const deadline = Date.now() + 5_000; gateway.inFlight() > 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    // Assess
    expect(busy).toBeGreaterThan(0);
    expect(gateway.inFlight()).toBe(0);
  });

  it('refuses a scripted stray_refund whose first is not a boolean', async () => {
    // Act
    const response = await fetch(`${gateway.url}/admin/faults/next`, {
      method: 'POST',
      body: JSON.stringify([{ fault: 'stray_refund', first: 'yes' }]),
      signal: AbortSignal.timeout(5_000),
    });

    // Assess
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { message: expect.stringMatching(/first/) },
    });
  });
});

describe('gateway simulator: administration and configuration', () => {
  it('serves the ledger, faults, scripted faults, settlement and reset over HTTP', async () => {
    // Prepare
    const admin = (path: string, method = 'GET', body?: unknown) =>
      fetch(`${gateway.url}/admin/${path}`, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(5_000),
      });
    const put = await admin('faults', 'PUT', { autoSettle: false, callbacks: { delayMs: 5 } });
    const queued = await admin('faults/next', 'POST', [{ fault: 'pending' }]);
    const payment = (await (await create(newKey())).json()) as GatewayPayment;

    // Act
    const settled = await admin(`payments/${payment.id}/settle`, 'POST', { status: 'FAILED' });
    const ledger = (await (await admin('ledger')).json()) as Ledger;
    const misspelt = await admin('faults', 'PUT', { hangrate: 1 });
    const reset = await admin('reset', 'POST');
    const faults = await (await admin('faults')).json();

    // Assess
    expect(await put.json()).toMatchObject({ autoSettle: false, callbacks: { delayMs: 5 } });
    expect(await queued.json()).toEqual({ queued: 1 });
    expect(await settled.json()).toMatchObject({ status: 'FAILED' });
    expect(ledger.requests).toEqual({ total: 1, byRoute: { 'POST /v1/payments': 1 } });
    expect(misspelt.status).toBe(400);
    expect(reset.status).toBe(204);
    expect(faults).toMatchObject({ autoSettle: true, settleAfterMs: 50 });
    expect(gateway.ledger().payments).toEqual([]);
  });

  it('takes faults from options over GATEWAY_FAULTS over GATEWAY_FAULTS_FILE', async () => {
    // Prepare
    const directory = mkdtempSync(join(tmpdir(), 'gateway-faults-'));
    const file = join(directory, 'faults.json');
    writeFileSync(file, JSON.stringify({ declineCode: 'from_file', retryAfterSeconds: 9 }));
    const saved = { json: process.env.GATEWAY_FAULTS, file: process.env.GATEWAY_FAULTS_FILE };
    process.env.GATEWAY_FAULTS_FILE = file;
    process.env.GATEWAY_FAULTS = JSON.stringify({ declineCode: 'from_env' });

    try {
      // Act
      const fromEnvironment = await startGatewaySimulator();
      const fromOptions = await startGatewaySimulator({ faults: { declineCode: 'from_options' } });
      const environmentFaults = fromEnvironment.faults();
      const optionFaults = fromOptions.faults();
      await Promise.all([fromEnvironment.stop(), fromOptions.stop()]);

      // Assess
      expect(environmentFaults).toMatchObject({ declineCode: 'from_env', retryAfterSeconds: 9 });
      expect(environmentFaults.hangMs).toBe(30_000);
      expect(optionFaults).toMatchObject({ declineCode: 'from_options', retryAfterSeconds: 1 });
    } finally {
      for (const [name, value] of [
        ['GATEWAY_FAULTS', saved.json],
        ['GATEWAY_FAULTS_FILE', saved.file],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(directory, { recursive: true });
    }
  });

  it('drops hung connections and stops promptly when stopped', async () => {
    // Prepare
    const own = await startGatewaySimulator({ apiKeys: [apiKey], seed: 1 });
    own.scriptNext([{ fault: 'hang' }]);
    const hung = fetch(`${own.url}/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'idempotency-key': 'hung' },
      body: JSON.stringify(coffee),
      signal: AbortSignal.timeout(10_000),
    });
    while (own.ledger().requests.total === 0) await new Promise((r) => setTimeout(r, 10));

    // Act
    const started = Date.now();
    await own.stop();

    // Assess
    await expect(hung).rejects.toThrow(TypeError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('gateway simulator: spared charges', () => {
  it('charges a spared order with no fault on its own API, spared over HTTP', async () => {
    // Prepare
    const key = newKey();
    const spare = (body: unknown) =>
      fetch(`${gateway.url}/admin/faults/spare`, {
        method: 'POST',
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
    const spared = await spare({ orderIds: [key] });
    const refused = await spare({ orderIds: [''] });
    gateway.scriptNext([{ fault: 'error', status: 503 }]);

    // Act
    const charged = await create(key);
    const other = await create(newKey());

    // Assess
    expect(spared.status).toBe(204);
    expect(refused.status).toBe(400);
    expect(charged.status).toBe(200);
    expect(await charged.json()).toMatchObject({ status: 'SUCCESS' });
    expect(gateway.ledger().charges[key]).toMatchObject({ captured: coffee.amount });
    expect(other.status).toBe(503);
  });

  it("charges a spared order with no fault on Stripe's API, by its metadata[orderId]", async () => {
    // Prepare
    const orderId = newKey();
    gateway.spareCharges([orderId]);
    gateway.scriptNext([{ fault: 'error', status: 503 }]);
    const intent = (order: string) =>
      fetch(`${gateway.stripeUrl}/v1/payment_intents`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/x-www-form-urlencoded',
          'idempotency-key': `pi-${order}`,
        },
        body: new URLSearchParams({
          amount: String(coffee.amount),
          currency: 'cny',
          confirm: 'true',
          off_session: 'true',
          customer: 'cus_local',
          payment_method: 'pm_card_visa',
          'metadata[orderId]': order,
        }).toString(),
        signal: AbortSignal.timeout(5_000),
      });

    // Act
    const charged = await intent(orderId);
    const other = await intent(newKey());

    // Assess
    expect(charged.status).toBe(200);
    expect(await charged.json()).toMatchObject({ status: 'succeeded' });
    expect(gateway.ledger().charges[orderId]).toMatchObject({ captured: coffee.amount });
    expect(other.status).toBe(503);
  });
});

describe('gateway simulator: API keys and webhook secrets', () => {
  const originalSecret = 'whsec_original_0123456789';
  const successor = 'whsec_successor_0123456789';
  const fingerprintOf = (secret: string) =>
    createHash('sha256').update(secret).digest('hex').slice(0, 16);
  /** Its own simulator, so keys and secrets changed here never reach the other tests. */
  let own: GatewaySimulator;

  beforeEach(async () => {
    own = await startGatewaySimulator({
      apiKeys: [apiKey],
      webhookSecrets: [originalSecret],
      callbackUrl: receiver.url,
      seed: 11,
    });
  });

  afterEach(async () => {
    await own.stop();
  });

  function manage(path: string, init: RequestInit = {}, key = apiKey): Promise<Response> {
    return fetch(`${own.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...init.headers,
      },
      signal: AbortSignal.timeout(5_000),
    });
  }

  function createKey(idempotencyKey: string, key = apiKey): Promise<Response> {
    return manage(
      '/v1/keys',
      { method: 'POST', headers: { 'idempotency-key': idempotencyKey } },
      key,
    );
  }

  function registerSecret(secret: string): Promise<Response> {
    return manage('/v1/webhook-secrets', { method: 'POST', body: JSON.stringify({ secret }) });
  }

  async function listSecrets(): Promise<GatewayWebhookSecret[]> {
    return (
      (await (await manage('/v1/webhook-secrets')).json()) as { data: GatewayWebhookSecret[] }
    ).data;
  }

  function charge(): Promise<Response> {
    return manage('/v1/payments', {
      method: 'POST',
      headers: { 'idempotency-key': newKey() },
      body: JSON.stringify(coffee),
    });
  }

  it('creates a key idempotently, and the new key authenticates a payment lookup', async () => {
    // Prepare
    const idempotencyKey = 'rotation-token-1';

    // Act
    const [first, concurrent] = await Promise.all([
      createKey(idempotencyKey),
      createKey(idempotencyKey),
    ]);
    const replay = await createKey(idempotencyKey);
    const created = (await first.json()) as GatewayNewApiKey;
    const lookup = await manage('/v1/payments?idempotencyKey=never-used', {}, created.secret);
    const withoutKey = await manage('/v1/keys', { method: 'POST' });

    // Assess
    expect(first.status).toBe(200);
    expect(created.id).toMatch(/^key_[0-9a-f]+$/);
    expect(created.secret).toMatch(/^sk_local_[0-9a-f]{32,}$/);
    expect(created.fingerprint).toBe(fingerprintOf(created.secret));
    expect(created.created).toBeCloseTo(Date.now() / 1000, -1);
    expect(await concurrent.json()).toEqual(created);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual(created);
    expect(lookup.status).toBe(200);
    expect(await lookup.json()).toEqual({ data: [] });
    expect(withoutKey.status).toBe(400);
    expect(await withoutKey.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(own.ledger().keys).toEqual({ active: 2, revoked: 0 });
  });

  it('refuses a third valid key with 409 key_limit and creates nothing', async () => {
    // Prepare
    const second = (await (await createKey('rotation-token-1')).json()) as GatewayNewApiKey;

    // Act
    const third = await createKey('rotation-token-2');
    const replayOfSecond = await createKey('rotation-token-1');

    // Assess
    expect(third.status).toBe(409);
    expect(await third.json()).toMatchObject({ error: { type: 'key_limit' } });
    expect(((await replayOfSecond.json()) as GatewayNewApiKey).id).toBe(second.id);
    expect(own.ledger().keys).toEqual({ active: 2, revoked: 0 });
  });

  it('lists the valid keys, the configured one included, with fingerprints and no secrets', async () => {
    // Prepare
    const created = (await (await createKey('rotation-token-1')).json()) as GatewayNewApiKey;

    // Act
    const response = await manage('/v1/keys');
    const text = await response.text();

    // Assess
    const { data } = JSON.parse(text) as { data: GatewayApiKey[] };
    expect(data).toEqual([
      {
        id: expect.stringMatching(/^key_/),
        fingerprint: fingerprintOf(apiKey),
        created: expect.any(Number),
        active: true,
      },
      { id: created.id, fingerprint: created.fingerprint, created: created.created, active: true },
    ]);
    expect(text).not.toContain(apiKey);
    expect(text).not.toContain(created.secret);
    expect(text).not.toContain('"secret"');
  });

  it('revokes a key at once, the one making the request included, and idempotently', async () => {
    // Prepare
    const created = (await (await createKey('rotation-token-1')).json()) as GatewayNewApiKey;

    // Act
    const revoked = await manage(`/v1/keys/${created.id}`, { method: 'DELETE' }, created.secret);
    const afterwards = await manage('/v1/payments?idempotencyKey=never-used', {}, created.secret);
    const again = await manage(`/v1/keys/${created.id}`, { method: 'DELETE' });
    const unknown = await manage('/v1/keys/key_unknown', { method: 'DELETE' });
    const listed = (await (await manage('/v1/keys')).json()) as { data: GatewayApiKey[] };
    const successorKey = await createKey('rotation-token-2');
    const ledger = (await (await fetch(`${own.url}/admin/ledger`)).json()) as Ledger;

    // Assess
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toEqual({ id: created.id, revoked: true });
    expect(afterwards.status).toBe(401);
    expect(await afterwards.json()).toMatchObject({ error: { type: 'authentication_error' } });
    expect(again.status).toBe(200);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { type: 'not_found' } });
    expect(listed.data.map((key) => key.fingerprint)).toEqual([fingerprintOf(apiKey)]);
    expect(successorKey.status).toBe(200);
    expect(ledger.keys).toEqual({ active: 2, revoked: 1 });
  });

  it('answers 401 on the management routes without a valid key', async () => {
    // Act
    const statuses = await Promise.all([
      fetch(`${own.url}/v1/keys`),
      createKey('rotation-token-1', 'sk_wrong'),
      manage('/v1/webhook-secrets', {}, 'sk_wrong'),
    ]).then((responses) => responses.map((response) => response.status));

    // Assess
    expect(statuses).toEqual([401, 401, 401]);
    expect(own.ledger().keys).toEqual({ active: 1, revoked: 0 });
  });

  it('treats setApiKeys as a replacement: keys left out are revoked, kept ones keep their id', async () => {
    // Prepare
    const before = (await (await manage('/v1/keys')).json()) as { data: GatewayApiKey[] };
    const rotated = 'sk_local_rotated_key_not_secret';

    // Act
    own.setApiKeys([apiKey, rotated]);
    const both = (await (await manage('/v1/keys')).json()) as { data: GatewayApiKey[] };
    own.setApiKeys([rotated]);
    const oldKey = await manage('/v1/keys');
    const newKeyAnswer = await manage('/v1/keys', {}, rotated);

    // Assess
    expect(both.data.map((key) => key.id)[0]).toBe(before.data[0]?.id);
    expect(both.data.map((key) => key.fingerprint)).toEqual([
      fingerprintOf(apiKey),
      fingerprintOf(rotated),
    ]);
    expect(oldKey.status).toBe(401);
    expect(newKeyAnswer.status).toBe(200);
    expect(own.ledger().keys).toEqual({ active: 1, revoked: 1 });
  });

  it('signs every callback with each registered secret, registering idempotently', async () => {
    // Prepare
    const first = await registerSecret(successor);

    // Act
    const again = await registerSecret(successor);
    const listed = await listSecrets();
    await charge();
    const [delivery] = await receiver.waitFor(1);

    // Assess
    const registered = (await first.json()) as GatewayWebhookSecret;
    expect(registered).toEqual({
      id: expect.stringMatching(/^whs_/),
      fingerprint: fingerprintOf(successor),
      created: expect.any(Number),
    });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(registered);
    expect(listed.map((secret) => secret.fingerprint)).toEqual([
      fingerprintOf(originalSecret),
      fingerprintOf(successor),
    ]);
    expect(JSON.stringify(listed)).not.toContain(successor);
    expect(delivery?.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(signedWith(delivery?.signature ?? '', delivery?.body ?? '', originalSecret)).toBe(true);
    expect(signedWith(delivery?.signature ?? '', delivery?.body ?? '', successor)).toBe(true);
  });

  it('stops signing with a deleted secret, and refuses to delete the last one', async () => {
    // Prepare
    const added = (await (await registerSecret(successor)).json()) as GatewayWebhookSecret;
    const original = (await listSecrets()).find((secret) => secret.id !== added.id);

    // Act
    const deleted = await manage(`/v1/webhook-secrets/${original?.id}`, { method: 'DELETE' });
    const again = await manage(`/v1/webhook-secrets/${original?.id}`, { method: 'DELETE' });
    await charge();
    const [delivery] = await receiver.waitFor(1);
    const last = await manage(`/v1/webhook-secrets/${added.id}`, { method: 'DELETE' });
    const unknown = await manage('/v1/webhook-secrets/whs_unknown', { method: 'DELETE' });
    const tooShort = await registerSecret('short');

    // Assess
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: original?.id, deleted: true });
    expect(again.status).toBe(200);
    expect(delivery?.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(signedWith(delivery?.signature ?? '', delivery?.body ?? '', successor)).toBe(true);
    expect(signedWith(delivery?.signature ?? '', delivery?.body ?? '', originalSecret)).toBe(false);
    expect(last.status).toBe(409);
    expect(await last.json()).toMatchObject({ error: { type: 'last_secret' } });
    expect(unknown.status).toBe(404);
    expect(tooShort.status).toBe(400);
    expect((await listSecrets()).map((secret) => secret.id)).toEqual([added.id]);
  });

  it('keeps the management routes free of transport faults, scripted ones for any route too', async () => {
    // Prepare
    own.scriptNext([{ fault: 'error', status: 503, route: 'any' }]);
    own.setFaults({ latencyMs: { min: 2_000, max: 2_000 } });

    // Act
    const started = Date.now();
    const listed = await manage('/v1/keys');
    const created = await createKey('rotation-token-1');
    const registered = await registerSecret(successor);
    const elapsed = Date.now() - started;
    own.setFaults({ latencyMs: { min: 0, max: 0 } });
    const lookup = await manage('/v1/payments?idempotencyKey=never-used');
    own.setFaults({ errorRate: 1, resetRate: 1 });
    const revoked = await manage(`/v1/keys/${((await created.json()) as GatewayNewApiKey).id}`, {
      method: 'DELETE',
    });

    // Assess
    expect([listed.status, created.status, registered.status, revoked.status]).toEqual([
      200, 200, 200, 200,
    ]);
    expect(elapsed).toBeLessThan(1_000);
    expect(lookup.status).toBe(503);
    expect(own.ledger().requests.byRoute).toMatchObject({
      'POST /v1/keys': 1,
      'DELETE /v1/keys/{id}': 1,
    });
  });

  it('keeps the valid keys and secrets over a reset, and forgets the revoked ones', async () => {
    // Prepare
    const created = (await (await createKey('rotation-token-1')).json()) as GatewayNewApiKey;
    await manage(`/v1/keys/${created.id}`, { method: 'DELETE' });
    const secret = (await (await registerSecret(successor)).json()) as GatewayWebhookSecret;

    // Act
    own.reset();
    const listed = (await (await manage('/v1/keys')).json()) as { data: GatewayApiKey[] };
    const revokedAgain = await manage(`/v1/keys/${created.id}`, { method: 'DELETE' });

    // Assess
    expect(listed.data.map((key) => key.fingerprint)).toEqual([fingerprintOf(apiKey)]);
    expect(revokedAgain.status).toBe(404);
    expect((await listSecrets()).map((entry) => entry.id)).toContain(secret.id);
    expect(own.ledger().keys).toEqual({ active: 1, revoked: 0 });
  });
});
