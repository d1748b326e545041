import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentIntentKey, StripePaymentGateway } from '#adapters/stripe-payment-gateway.ts';
import {
  type GatewaySimulator,
  startGatewaySimulator,
} from '../../local/simulators/gateway/server.ts';

const key = 'sk_test_autopay_local';
let gateway: GatewaySimulator;
let adapter: StripePaymentGateway;
let stripe: Stripe;

beforeAll(async () => {
  gateway = await startGatewaySimulator({ apiKeys: [key], seed: 5, faults: { autoSettle: false } });
  adapter = new StripePaymentGateway({
    name: 'stripe',
    baseUrl: gateway.stripeUrl,
    timeoutMs: 2_000,
    apiKey: { get: async () => key, refresh: async () => {} },
    payers: { default: { customer: 'cus_local', paymentMethod: 'pm_card_visa' } },
  });
  const base = new URL(gateway.stripeUrl);
  stripe = new Stripe(key, { host: base.hostname, port: Number(base.port), protocol: 'http' });
});

afterAll(async () => {
  await gateway?.stop();
});

const orderId = (n: number) => `ord_${String(n).padStart(32, '0')}`;

/** Order `n`, paid 450 CNY through the adapter, and its refund as settlement sends it. */
async function paidOrderRefund(n: number) {
  const charged = await adapter.charge({
    idempotencyKey: orderId(n),
    amount: 450,
    currency: 'CNY',
    paymentMethod: 'card',
  });
  const paymentId = (charged as { paymentId: string }).paymentId;
  const request = {
    paymentId,
    amount: 450,
    currency: 'CNY',
    idempotencyKey: `refund_${orderId(n)}`,
    orderId: orderId(n),
  };
  return { paymentId, request };
}

describe('the Stripe adapter against the simulated Stripe API', () => {
  it('charges a zero-decimal currency in its own units, lower-cased, under a key from the orderId', async () => {
    // Act
    const outcome = await adapter.charge({
      idempotencyKey: orderId(1),
      amount: 500,
      currency: 'JPY',
      paymentMethod: 'card',
      agentId: 'any-agent',
    });
    const again = await adapter.charge({
      idempotencyKey: orderId(1),
      amount: 500,
      currency: 'JPY',
      paymentMethod: 'card',
      agentId: 'any-agent',
    });

    // Assess: the replay is the same intent, and one payment was made.
    expect(outcome).toMatchObject({ kind: 'succeeded' });
    expect(again).toEqual(outcome);
    const paymentId = (outcome as { paymentId: string }).paymentId;
    expect(await stripe.paymentIntents.retrieve(paymentId)).toMatchObject({
      amount: 500,
      currency: 'jpy',
      metadata: { orderId: orderId(1) },
    });
    expect(gateway.ledger().charges[orderId(1)]).toMatchObject({ payments: 1, captured: 500 });
    expect(paymentIntentKey(orderId(1))).toContain(orderId(1));
  });

  it('finds the payment by its id, or by metadata.orderId without one', async () => {
    // Prepare
    const charged = await adapter.charge({
      idempotencyKey: orderId(2),
      amount: 450,
      currency: 'CNY',
      paymentMethod: 'card',
    });
    const paymentId = (charged as { paymentId: string }).paymentId;

    // Act
    const byId = await adapter.findByIdempotencyKey(orderId(2), paymentId);
    const bySearch = await adapter.findByIdempotencyKey(orderId(2));
    const none = await adapter.findByIdempotencyKey(orderId(99));

    // Assess
    expect(byId).toEqual({
      kind: 'found',
      outcome: { kind: 'succeeded', paymentId },
      amountRefunded: 0,
    });
    expect(bySearch).toMatchObject({ kind: 'found', outcome: { kind: 'succeeded', paymentId } });
    expect(none).toEqual({ kind: 'not-found' });
  });

  it('reads a refused cancel of a succeeded intent as settled, and a second refund of the order as its first', async () => {
    // Prepare
    const charged = await adapter.charge({
      idempotencyKey: orderId(3),
      amount: 450,
      currency: 'CNY',
      paymentMethod: 'card',
    });
    const paymentId = (charged as { paymentId: string }).paymentId;
    const request = { paymentId, amount: 450, currency: 'CNY', orderId: orderId(3) };

    // Act
    const voided = await adapter.void(paymentId);
    const refunded = await adapter.refund({ ...request, idempotencyKey: `refund_${orderId(3)}` });
    const replayed = await adapter.refund({ ...request, idempotencyKey: `refund_${orderId(3)}` });
    const second = await adapter.refund({ ...request, idempotencyKey: `refund_${orderId(3)}_2` });

    // Assess
    expect(voided).toEqual({ kind: 'settled', outcome: { kind: 'succeeded', paymentId } });
    expect(refunded).toMatchObject({ kind: 'refunded' });
    expect(replayed).toEqual(refunded);
    // Refused (charge_already_refunded), and the refusal is the order's own refund's doing.
    expect(second).toEqual(refunded);
    expect(gateway.ledger().charges[orderId(3)]).toMatchObject({ captured: 450, refunded: 450 });
  });

  // A part of a Stripe payment refunded outside autopay (the merchant's support, from Stripe's
  // dashboard: no metadata.orderId) makes autopay's own refund of the order's whole amount ask for
  // more than is left. Stripe refuses it with a 400 invalid_request_error `amount_too_large`, which
  // no retry changes. Read as a transient failure, settlement would retry the same refused refund
  // until the message dead-letters, stranding the order in REFUND_PENDING with the rest of the
  // payment (here 250 of 450) still taken. Read as a refusal, settlement looks the payment up and
  // raises REFUND_REJECTED, as for the simulator protocol's 409 invalid_state.
  it('reads amount_too_large, a refund of a payment partly refunded in the dashboard, as a refusal', async () => {
    // Prepare: a paid order of 450; support refunds 200 of it from the dashboard.
    const charged = await adapter.charge({
      idempotencyKey: orderId(6),
      amount: 450,
      currency: 'CNY',
      paymentMethod: 'card',
    });
    const paymentId = (charged as { paymentId: string }).paymentId;
    await stripe.refunds.create({ payment_intent: paymentId, amount: 200 });

    // Act: the user's refund of the order, as settlement sends it.
    const refund = await adapter.refund({
      paymentId,
      amount: 450,
      currency: 'CNY',
      idempotencyKey: `refund_${orderId(6)}`,
      orderId: orderId(6),
    });

    // Assess: a refusal, not something to retry; 250 is still taken.
    expect(refund).toEqual({ kind: 'rejected', reason: 'amount_too_large' });
    expect(gateway.ledger().charges[orderId(6)]).toMatchObject({ captured: 450, refunded: 200 });
  });

  // Stripe saves the first answer under an idempotency key: a refund created `pending` is
  // answered `pending` on every replay, whatever became of it. One that failed since was accepted
  // and then failed (its money back in the balance), not refused: the order is held for a person,
  // never sent back to PAID as REFUND_REJECTED.
  it('reads a refund that was pending and failed since as failed, not rejected, on a replay', async () => {
    // Prepare
    const { paymentId, request } = await paidOrderRefund(7);
    gateway.scriptNext([{ fault: 'refund_pending_fails' }]);

    // Act: sent, then sent again under the same key as settlement does, until it is not pending.
    const first = await adapter.refund(request);
    let later = await adapter.refund(request);
    for (let tries = 0; later.kind === 'unavailable' && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      later = await adapter.refund(request);
    }
    const replayed = await stripe.refunds.create(
      { payment_intent: paymentId, amount: 450, metadata: { orderId: orderId(7) } },
      { idempotencyKey: request.idempotencyKey },
    );

    // Assess: the replay still says pending; the refund itself failed; no money left.
    expect(first).toMatchObject({ kind: 'unavailable' });
    expect(later).toEqual({
      kind: 'failed',
      refundId: replayed.id,
      reason: 'expired_or_canceled_card',
    });
    expect(replayed.status).toBe('pending');
    expect(await stripe.refunds.retrieve(replayed.id)).toMatchObject({
      status: 'failed',
      failure_reason: 'expired_or_canceled_card',
    });
    expect(gateway.ledger().charges[orderId(7)]).toMatchObject({ captured: 450, refunded: 0 });
  });

  // Stripe keeps a key's answer for 24 hours at least; a refund may stay pending for longer
  // (`pending_reason: insufficient_funds`). Past the key's window the same key asks for a second
  // refund (here: another key, which is what Stripe then sees), and the first refund's hold
  // refuses it. That refusal is the order's own refund under way, not a refund that can never
  // be made: read as a refusal, settlement would put the user's order back to PAID, and the
  // first refund would give the money back anyway.
  it('reads a refusal that its own pending refund causes as that refund, not as a refusal', async () => {
    // Prepare: the order's refund is taken pending.
    const charged = await adapter.charge({
      idempotencyKey: orderId(8),
      amount: 450,
      currency: 'CNY',
      paymentMethod: 'card',
    });
    const paymentId = (charged as { paymentId: string }).paymentId;
    const request = { paymentId, amount: 450, currency: 'CNY', orderId: orderId(8) };
    gateway.scriptNext([{ fault: 'refund_pending' }]);
    const first = await adapter.refund({ ...request, idempotencyKey: `refund_${orderId(8)}` });

    // Act: asked under a key Stripe no longer knows, while pending, then once it succeeded.
    const stillPending = await adapter.refund({ ...request, idempotencyKey: 'pruned-1' });
    let settled = await adapter.refund({ ...request, idempotencyKey: 'pruned-2' });
    for (let tries = 0; settled.kind === 'unavailable' && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      settled = await adapter.refund({ ...request, idempotencyKey: `pruned-${tries + 3}` });
    }

    // Assess: one refund, read as pending and then as refunded, never as refused.
    expect(first).toMatchObject({ kind: 'unavailable' });
    expect(stillPending).toMatchObject({ kind: 'unavailable' });
    const refunds = await stripe.refunds.list({ payment_intent: paymentId });
    expect(refunds.data).toHaveLength(1);
    expect(settled).toEqual({ kind: 'refunded', refundId: refunds.data[0]?.id });
    expect(gateway.ledger().charges[orderId(8)]).toMatchObject({ captured: 450, refunded: 450 });
  });

  // Stripe saves a request's first answer under its idempotency key, a 500 included, and replays
  // it until it prunes the key, at least 24 hours later; it promises nothing of whether the 500'd
  // request made the refund. The adapter reads the payment's refunds on such an answer: the one
  // carrying the order's metadata.orderId is the outcome at once.
  it('adopts at once the refund that a request answered 500 under its key made', async () => {
    // Prepare: the refund is made and answered 500.
    const { paymentId, request } = await paidOrderRefund(9);
    gateway.scriptNext([{ fault: 'refund_saved_error' }]);

    // Act: sent, and sent again at once under the same key (the 500 replayed).
    const first = await adapter.refund(request);
    const replayed = await adapter.refund(request);

    // Assess: the one refund that was made, as the order's, both times.
    const refunds = await stripe.refunds.list({ payment_intent: paymentId });
    expect(refunds.data).toHaveLength(1);
    expect(refunds.data[0]?.metadata).toEqual({ orderId: orderId(9) });
    expect(first).toEqual({ kind: 'refunded', refundId: refunds.data[0]?.id });
    expect(replayed).toEqual(first);
    expect(gateway.ledger()).toMatchObject({
      charges: { [orderId(9)]: { captured: 450, refunded: 450 } },
      refundSavedErrors: 1,
    });
  });

  it('reads a request answered 500 under its key that made no refund as unknown until the key is pruned, then makes the refund', async () => {
    // Prepare: a key window of a quarter of a second; the 500 comes before any refund is made.
    const { paymentId, request } = await paidOrderRefund(10);
    gateway.setFaults({ idempotencyKeyWindowMs: 250 });
    gateway.scriptNext([{ fault: 'refund_saved_error_unmade' }]);

    try {
      // Act: sent, sent again at once under the same key, then once the key is pruned.
      const first = await adapter.refund(request);
      const replayed = await adapter.refund(request);
      const before = await stripe.refunds.list({ payment_intent: paymentId });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const afresh = await adapter.refund(request);

      // Assess: the 500 twice with no refund to read (a POST's 500: unknown, retried), then the
      // refund made afresh under the pruned key.
      expect(first).toMatchObject({ kind: 'unknown' });
      expect(replayed).toEqual(first);
      expect(before.data).toHaveLength(0);
      const refunds = await stripe.refunds.list({ payment_intent: paymentId });
      expect(refunds.data).toHaveLength(1);
      expect(afresh).toEqual({ kind: 'refunded', refundId: refunds.data[0]?.id });
      expect(gateway.ledger()).toMatchObject({
        charges: { [orderId(10)]: { captured: 450, refunded: 450 } },
        refundSavedErrors: 2,
        refundSavedErrorsUnmade: 1,
      });
    } finally {
      gateway.setFaults({ idempotencyKeyWindowMs: 24 * 3_600_000 });
    }
  });

  it('says a payer is missing as a misconfiguration, and a wrong key as unauthorized', async () => {
    // Prepare
    const noPayers = new StripePaymentGateway({
      name: 'stripe',
      baseUrl: gateway.stripeUrl,
      timeoutMs: 2_000,
      apiKey: { get: async () => key, refresh: async () => {} },
      payers: {},
    });
    const wrongKey = new StripePaymentGateway({
      name: 'stripe',
      baseUrl: gateway.stripeUrl,
      timeoutMs: 2_000,
      apiKey: { get: async () => 'sk_test_wrong', refresh: async () => {} },
      payers: { default: { customer: 'cus_local', paymentMethod: 'pm_card_visa' } },
    });
    const request = {
      idempotencyKey: orderId(4),
      amount: 1,
      currency: 'CNY',
      paymentMethod: 'card',
    } as const;

    // Act
    const missing = await noPayers.charge(request);
    const refused = await wrongKey.charge(request);

    // Assess
    expect(missing).toMatchObject({ kind: 'misconfigured' });
    expect(refused).toEqual({ kind: 'unauthorized' });
    expect(gateway.ledger().charges[orderId(4)]).toBeUndefined();
  });

  it("takes the key as Stripe does, as a bearer token or as Basic auth's user name (curl -u key:)", async () => {
    // Act
    const search = (authorization: string) =>
      fetch(`${gateway.stripeUrl}/v1/payment_intents/search?query=metadata['orderId']:'x'`, {
        headers: { authorization },
      });
    const basic = await search(`Basic ${Buffer.from(`${key}:`).toString('base64')}`);
    const wrong = await search(`Basic ${Buffer.from('sk_test_wrong:').toString('base64')}`);

    // Assess
    expect(basic.status).toBe(200);
    expect(await basic.json()).toMatchObject({ object: 'search_result', data: [] });
    expect(wrong.status).toBe(401);
  });
});

// A refund request answered 500 is read from the payment's refunds: only the order's own refund
// under way or succeeded is adopted, not an earlier request's that failed, nor one made outside
// autopay (no metadata), on the same payment.
describe('a refund answered 500 beside other refunds of the same payment', () => {
  /** Order `n` paid, and a first refund of it that was pending and failed. */
  async function failedEarlierRefund(n: number) {
    const order = await paidOrderRefund(n);
    gateway.setFaults({ settleAfterMs: 50 });
    gateway.scriptNext([{ fault: 'refund_pending_fails' }]);
    expect(await adapter.refund(order.request)).toMatchObject({ kind: 'unavailable' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    gateway.setFaults({ settleAfterMs: 1_000 });
    const earlier = await stripe.refunds.list({ payment_intent: order.paymentId });
    expect(earlier.data.map((refund) => refund.status)).toEqual(['failed']);
    return {
      ...order,
      again: { ...order.request, idempotencyKey: `${order.request.idempotencyKey}_2` },
    };
  }

  it("does not adopt an earlier request's failed refund when the 500 made nothing", async () => {
    // Prepare
    const { again } = await failedEarlierRefund(30);
    gateway.scriptNext([{ fault: 'refund_saved_error_unmade' }]);

    // Act
    const outcome = await adapter.refund(again);

    // Assess
    expect(outcome).toMatchObject({ kind: 'unknown' });
  });

  it('adopts the refund the 500 made, not the earlier failed one', async () => {
    // Prepare
    const { paymentId, again } = await failedEarlierRefund(31);
    gateway.scriptNext([{ fault: 'refund_saved_error' }]);

    // Act
    const outcome = await adapter.refund(again);

    // Assess
    const refunds = await stripe.refunds.list({ payment_intent: paymentId });
    const made = refunds.data.find((refund) => refund.status === 'succeeded');
    expect(outcome).toEqual({ kind: 'refunded', refundId: made?.id });
  });

  it('does not adopt a refund made outside autopay when the 500 made nothing', async () => {
    // Prepare: a part refunded from the dashboard, without the order's metadata.
    const { paymentId, request } = await paidOrderRefund(32);
    await stripe.refunds.create({ payment_intent: paymentId, amount: 100 });
    gateway.scriptNext([{ fault: 'refund_saved_error_unmade' }]);

    // Act
    const outcome = await adapter.refund(request);

    // Assess
    expect(outcome).toMatchObject({ kind: 'unknown' });
  });
});
