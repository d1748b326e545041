import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { signOwnerToken } from '../../local/runtime/auth.ts';
import {
  type LocalRuntime,
  localStripeApiKey,
  localStripePayers,
  startLocalRuntime,
} from '../../local/runtime/local-runtime.ts';
import { demoAgent } from '../../local/runtime/seed.ts';
import { authenticationRequiredCard } from '../../local/simulators/gateway/stripe-api.ts';
import { localTarget } from '../../ops/cli.ts';
import { runOps } from '../../ops/commands.ts';
import { apiFetch, askRefund } from '../support/contract.ts';
import { AgentClient, type OrderBody } from '../support/http.ts';
import { type ReceivedEvent, WebhookReceiver } from '../support/webhook-receiver.ts';

let stack: LocalRuntime;
let agent: AgentClient;
let stripe: Stripe;
let receiver: WebhookReceiver;

/** Agents trusted like demo-agent whose payers the simulated Stripe treats differently. */
const scaAgent = 'sca-agent';
const misconfiguredAgent = 'misconfigured-agent';

beforeAll(async () => {
  stack = await startLocalRuntime({
    gateway: 'stripe',
    logLevel: 'ERROR',
    seed: 23,
    scheduleSeconds: 1,
    environment: {
      BACKOFF_MAX_SECONDS: '1',
      SETTLEMENT_FIRST_CHECK_SECONDS: '3',
      SETTLEMENT_INTERVAL_SECONDS: '1',
      SETTLEMENT_CHECKS: '3',
      STRIPE_PAYERS: JSON.stringify({
        ...localStripePayers,
        [scaAgent]: { customer: 'cus_sca', paymentMethod: authenticationRequiredCard },
        // Not a payment method id: Stripe answers invalid_request_error resource_missing.
        [misconfiguredAgent]: { customer: 'cus_wrong', paymentMethod: 'card_typo' },
      }),
    },
    gatewayFaults: { autoSettle: false, hangMs: 3_000 },
  });
  const agents = new DynamoDbAgentDirectory(stack.dynamodb, stack.tableName);
  await agents.put({ ...demoAgent, agentId: scaAgent });
  await agents.put({ ...demoAgent, agentId: misconfiguredAgent });
  agent = await AgentClient.for(stack, 'demo-agent');
  receiver = await WebhookReceiver.start();
  const base = new URL(stack.gateway.stripeUrl);
  stripe = new Stripe(localStripeApiKey, {
    host: base.hostname,
    port: Number(base.port),
    protocol: 'http',
    maxNetworkRetries: 0,
  });
});

afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
});

beforeEach(() => {
  stack.gateway.setFaults({ callbacks: { enabled: true } });
});

const chargesFor = (orderId: string) => stack.gateway.ledger().charges[orderId];

/** The order as stored, with what its agent is not shown (the refund's id). */
const stored = (orderId: string) =>
  new DynamoDbOrderRepository(stack.dynamodb, stack.tableName).get(orderId);

async function pendingOrder(): Promise<OrderBody> {
  stack.gateway.scriptNext([{ fault: 'pending' }]);
  const placed = await agent.place();
  return agent.waitForStatus(placed.orderId, 'AWAITING_SETTLEMENT', 10_000);
}

async function refund(orderId: string, key: string) {
  return askRefund(stack.apiUrl, orderId, await signOwnerToken('demo-agent'), key);
}

/** Registers an endpoint of demo-agent's user on the loopback receiver; answers its secret. */
async function subscribe(path: string, events: readonly string[]): Promise<string> {
  const token = await signOwnerToken('demo-agent');
  const response = await apiFetch(`${stack.apiUrl}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': `endpoint-${path}`,
    },
    body: JSON.stringify({ url: `${receiver.baseUrl}${path}`, events }),
  });
  expect(response.status).toBe(201);
  return String(((await response.json()) as { secret?: string }).secret);
}

/** The signed events about one order that reached `path`, each delivery counted. */
const toldOf = (path: string, secret: string, orderId: string): ReceivedEvent['event'][] =>
  receiver
    .verified(path, secret)
    .map((one) => one.event)
    .filter((event) => event.data.order?.orderId === orderId);

/** Waits until `path` has received each of `types` about the order. */
const hears = (path: string, orderId: string, types: readonly string[]) =>
  receiver.waitFor(path, (got) =>
    types.every((type) =>
      got.some((one) => one.event.type === type && one.event.data.order?.orderId === orderId),
    ),
  );

describe('the pipeline on Stripe (GATEWAY=stripe), against the simulated Stripe API', () => {
  it('pays through a PaymentIntent that the official stripe package reads back', async () => {
    // Act
    const placed = await agent.place();
    const paid = await agent.waitForStatus(placed.orderId, 'PAID', 10_000);
    const intent = await stripe.paymentIntents.retrieve(String(paid.gatewayRef), {
      expand: ['latest_charge'],
    });

    // Assess
    expect(intent).toMatchObject({
      object: 'payment_intent',
      status: 'succeeded',
      amount: 450,
      amount_received: 450,
      currency: 'cny',
      customer: 'cus_autopay_local',
      payment_method: 'pm_card_visa',
      metadata: { orderId: placed.orderId },
    });
    expect(intent.latest_charge).toMatchObject({ object: 'charge', amount_refunded: 0 });
    const found = await stripe.paymentIntents.search({
      query: `metadata['orderId']:'${placed.orderId}'`,
    });
    expect(found.data.map((each) => each.id)).toEqual([intent.id]);
    expect(chargesFor(placed.orderId)).toMatchObject({ payments: 1, captured: 450 });
  });

  it('waits on processing, then pays on the payment_intent.succeeded webhook', async () => {
    // Prepare
    const waiting = await pendingOrder();
    expect((await stripe.paymentIntents.retrieve(String(waiting.gatewayRef))).status).toBe(
      'processing',
    );

    // Act
    await stack.gateway.settle(String(waiting.gatewayRef), 'SUCCESS');
    const paid = await agent.waitForStatus(waiting.orderId, 'PAID', 2_500);

    // Assess: within the first status check's three seconds, so by the webhook.
    expect(paid.history.map((entry) => entry.to)).toEqual([
      'PENDING_PAYMENT',
      'AWAITING_SETTLEMENT',
      'PAID',
    ]);
  });

  it('settles a processing payment by retrieving it when no webhook comes', async () => {
    // Prepare
    stack.gateway.setFaults({ callbacks: { enabled: false } });
    const waiting = await pendingOrder();

    // Act
    await stack.gateway.settle(String(waiting.gatewayRef), 'FAILED');
    const failed = await agent.waitForStatus(waiting.orderId, 'FAILED', 15_000);

    // Assess
    expect(failed.lastError).toBe('GATEWAY_DECLINED');
    expect(chargesFor(waiting.orderId)).toMatchObject({ payments: 1, captured: 0 });
  });

  it('holds an order whose card asks for authentication, for the user, with that reason', async () => {
    // Prepare
    const sca = await AgentClient.for(stack, scaAgent);

    // Act
    const placed = await sca.place();
    const held = await sca.waitForStatus(placed.orderId, 'HELD_FOR_REVIEW', 10_000);

    // Assess: nothing taken, the intent waits for a payment method.
    expect(held.holdReason).toBe('AUTHENTICATION_REQUIRED');
    expect(chargesFor(placed.orderId)).toMatchObject({ payments: 1, captured: 0 });
    const [intent] = (
      await stripe.paymentIntents.search({ query: `metadata['orderId']:'${placed.orderId}'` })
    ).data;
    expect(intent).toMatchObject({
      status: 'requires_payment_method',
      last_payment_error: { code: 'authentication_required' },
    });
  });

  it("fails a declined card with Stripe's decline code", async () => {
    // Prepare
    stack.gateway.scriptNext([{ fault: 'decline', declineCode: 'insufficient_funds' }]);

    // Act
    const placed = await agent.place();
    const failed = await agent.waitForStatus(placed.orderId, 'FAILED', 10_000);

    // Assess
    expect(failed).toMatchObject({
      lastError: 'GATEWAY_DECLINED',
      declineCode: 'insufficient_funds',
    });
    expect(chargesFor(placed.orderId)).toMatchObject({ payments: 1, captured: 0 });
  });

  it('reads an invalid_request_error as a configuration fault: retried, never a decline', async () => {
    // Prepare
    const wrong = await AgentClient.for(stack, misconfiguredAgent);

    // Act
    const placed = await wrong.place();
    const retried = await wrong.waitFor(
      placed.orderId,
      (order) => order.lastError === 'GATEWAY_MISCONFIGURED',
      10_000,
    );

    // Assess: still waiting to be paid, nothing charged.
    expect(retried.status).toBe('PENDING_PAYMENT');
    expect(chargesFor(placed.orderId)?.payments ?? 0).toBe(0);
  });

  it.each([
    ['a 500', { fault: 'error', status: 500 }],
    ['a 409', { fault: 'error', status: 409 }],
    ['a 429', { fault: 'throttle', retryAfterSeconds: 1 }],
    ['a lost connection', { fault: 'reset' }],
    ['a timeout after the charge was made', { fault: 'charge_then_timeout' }],
  ] as const)('retries %s under the same key, and charges once', async (_, fault) => {
    // Prepare: no webhook, so only the retry can learn the outcome.
    stack.gateway.setFaults({ callbacks: { enabled: false } });
    stack.gateway.scriptNext([fault]);
    const creates = () => stack.gateway.ledger().requests.byRoute['POST /v1/payment_intents'] ?? 0;
    const before = creates();

    // Act
    const placed = await agent.place();
    await agent.waitForStatus(placed.orderId, 'PAID', 15_000);

    // Assess: sent again (by the queue, or by the SDK for a closed connection), charged once.
    expect(creates() - before).toBeGreaterThanOrEqual(2);
    expect(chargesFor(placed.orderId)).toMatchObject({ payments: 1, captured: 450 });
  });

  it('cancels the PaymentIntent (the void) when a payment never settles', async () => {
    // Prepare: no webhook and no settlement, so the last status check voids it.
    stack.gateway.setFaults({ callbacks: { enabled: false } });
    const waiting = await pendingOrder();

    // Act
    const failed = await agent.waitForStatus(waiting.orderId, 'FAILED', 20_000);

    // Assess
    expect(failed.lastError).toBe('SETTLEMENT_TIMEOUT');
    const intent = await stripe.paymentIntents.retrieve(String(waiting.gatewayRef));
    expect(intent.status).toBe('canceled');
    expect(chargesFor(waiting.orderId)).toMatchObject({ captured: 0, voided: true });
  });

  it('refunds a paid order through a Stripe refund', async () => {
    // Prepare
    const placed = await agent.place();
    const paid = await agent.waitForStatus(placed.orderId, 'PAID', 10_000);

    // Act
    expect((await refund(placed.orderId, 'refund-1')).status).toBe(202);
    const refunded = await agent.waitForStatus(placed.orderId, 'REFUNDED', 15_000);

    // Assess
    expect(chargesFor(placed.orderId)).toMatchObject({ captured: 450, refunded: 450 });
    const intent = await stripe.paymentIntents.retrieve(String(paid.gatewayRef), {
      expand: ['latest_charge'],
    });
    expect(intent.latest_charge).toMatchObject({ amount_refunded: 450, refunded: true });
    const { refundId } = (await stored(placed.orderId)) ?? {};
    expect(refunded.status).toBe('REFUNDED');
    expect(stack.gateway.ledger().refunds.filter((each) => each.id === refundId)).toHaveLength(1);
  });

  it('waits out a pending refund, and records it once Stripe says it succeeded', async () => {
    // Prepare
    const placed = await agent.place();
    await agent.waitForStatus(placed.orderId, 'PAID', 10_000);
    stack.gateway.setFaults({ settleAfterMs: 1_500 });
    stack.gateway.scriptNext([{ fault: 'refund_pending' }]);

    // Act
    await refund(placed.orderId, 'refund-pending');
    const pending = await agent.waitFor(
      placed.orderId,
      (order) => order.status === 'REFUND_PENDING' && order.attempts >= 0,
      5_000,
    );
    const refunded = await agent.waitForStatus(placed.orderId, 'REFUNDED', 20_000);

    // Assess
    expect(pending.status).toBe('REFUND_PENDING');
    expect(refunded.status).toBe('REFUNDED');
    const { refundId } = (await stored(placed.orderId)) ?? {};
    expect(chargesFor(placed.orderId)).toMatchObject({ captured: 450, refunded: 450 });
    const refundAtStripe = await stripe.refunds.retrieve(String(refundId));
    expect(refundAtStripe).toMatchObject({
      status: 'succeeded',
      metadata: { orderId: placed.orderId },
    });
  });

  it('owes a refund again when Stripe fails it after it succeeded, told by the signed refund.failed webhook, and tells the user once', async () => {
    // Prepare: the user's endpoint hears of refunds and of their failure.
    const path = '/refund-fails';
    const secret = await subscribe(path, ['order.refunded', 'order.refund_failed']);
    const placed = await agent.place();
    const paid = await agent.waitForStatus(placed.orderId, 'PAID', 10_000);
    stack.gateway.setFaults({ refundFailAfterMs: 200 });
    stack.gateway.scriptNext([{ fault: 'refund_fails_later' }]);

    // Act
    await refund(placed.orderId, 'refund-fails');
    const owing = await agent.waitFor(
      placed.orderId,
      (order) => order.status === 'REFUND_PENDING' && order.lastError === 'REFUND_FAILED',
      15_000,
    );
    await hears(path, placed.orderId, ['order.refund_failed']);
    // Longer than the look at the refund the reconciler schedules (1 s here): nothing more moves.
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    // Assess: the money is back with the merchant, and the order says it owes it.
    const order = await stored(placed.orderId);
    expect(owing.history.at(-1)).toMatchObject({ cause: 'REFUND_FAILED', to: 'REFUND_PENDING' });
    expect(order).toMatchObject({
      status: 'REFUND_PENDING',
      refundFailure: 'expired_or_canceled_card',
      version: owing.history.length,
    });
    expect(order?.dueAt).toBeUndefined();
    expect(chargesFor(placed.orderId)).toMatchObject({ captured: 450, refunded: 0 });
    const refundAtStripe = await stripe.refunds.retrieve(String(order?.refundId));
    expect(refundAtStripe).toMatchObject({
      status: 'failed',
      failure_reason: 'expired_or_canceled_card',
      payment_intent: paid.gatewayRef,
      metadata: { orderId: placed.orderId },
    });
    expect(
      stack.gateway.ledger().refunds.filter((each) => each.paymentId === paid.gatewayRef),
    ).toHaveLength(1);
    // The user heard it was refunded if the order was, and then, once, that it was not, and why.
    const told = toldOf(path, secret, placed.orderId);
    const refundedMoves = owing.history.filter((entry) => entry.to === 'REFUNDED').length;
    expect(told.filter((event) => event.type === 'order.refunded')).toHaveLength(refundedMoves);
    const failures = told.filter((event) => event.type === 'order.refund_failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      sequence: owing.history.length,
      data: {
        order: {
          status: 'REFUND_PENDING',
          lastError: 'REFUND_FAILED',
          refundFailure: 'expired_or_canceled_card',
        },
      },
    });
  });

  // The refund.failed webhook lost, the reconciler's replay of the refund is all that tells it:
  // Stripe answers it `pending` as first saved, and the refund retrieved says `failed`.
  it('holds a refund that was pending and failed at Stripe as failed, not refused, when only the reconciler sees it', async () => {
    // Prepare
    const path = '/pending-refund-fails';
    const secret = await subscribe(path, ['order.paid', 'order.refund_failed']);
    const placed = await agent.place();
    const paid = await agent.waitForStatus(placed.orderId, 'PAID', 10_000);
    stack.gateway.setFaults({ settleAfterMs: 1_000, callbacks: { enabled: false } });
    stack.gateway.scriptNext([{ fault: 'refund_pending_fails' }]);

    // Act
    expect((await refund(placed.orderId, 'refund-pending-fails')).status).toBe(202);
    const owing = await agent.waitFor(
      placed.orderId,
      (order) => order.lastError === 'REFUND_FAILED' || order.status === 'PAID',
      20_000,
    );
    await hears(path, placed.orderId, ['order.paid', 'order.refund_failed']);

    // Assess: held for a person with Stripe's reason; the money never left; told once.
    expect(owing).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
      refundFailure: 'expired_or_canceled_card',
    });
    expect(owing.history.map((entry) => entry.cause)).not.toContain('REFUND_REJECTED');
    expect(chargesFor(placed.orderId)).toMatchObject({ captured: 450, refunded: 0 });
    const refundAtStripe = await stripe.refunds.retrieve(
      String((await stored(placed.orderId))?.refundId),
    );
    expect(refundAtStripe).toMatchObject({ status: 'failed', payment_intent: paid.gatewayRef });
    const told = toldOf(path, secret, placed.orderId).map((event) => event.type);
    expect(told).toEqual(['order.paid', 'order.refund_failed']);
  });

  describe('npm run ops -- rotate stripeApiKey', () => {
    const rotate = async (newKey: string) => {
      const target = localTarget(
        {
          environment: stack.environment,
          tableName: stack.tableName,
          queueUrls: stack.queueUrls,
          secretIds: stack.secretIds,
        },
        stack.invoke,
      );
      const lines: string[] = [];
      await runOps(
        ['rotate', 'stripeApiKey'],
        target,
        (line) => lines.push(line),
        async () => newKey,
      );
      return lines.join('\n');
    };
    const currentKey = async () =>
      (
        await stack.secretsManager.send(
          new GetSecretValueCommand({
            SecretId: stack.secretIds.gatewayApiKey,
            VersionStage: 'AWSCURRENT',
          }),
        )
      ).SecretString;

    it('refuses a key Stripe does not accept, and leaves the current one in place', async () => {
      // Act
      const attempt = rotate('sk_test_never_issued\n');

      // Assess
      await expect(attempt).rejects.toThrow(/Stripe refused the new key/);
      expect(await currentKey()).toBe(localStripeApiKey);
    });

    it('makes a key rolled at Stripe current once Stripe accepts it, and payments go on', async () => {
      // Prepare: rolled in the dashboard, the old key still valid for a while.
      const rolled = 'sk_test_autopay_local_rolled';
      stack.gateway.setApiKeys([localStripeApiKey, rolled]);

      // Act
      const said = await rotate(`${rolled}\n`);
      stack.gateway.setApiKeys([rolled]);
      const placed = await agent.place();
      const paid = await agent.waitForStatus(placed.orderId, 'PAID', 15_000);

      // Assess
      expect(said).toContain('AWSCURRENT');
      expect(await currentKey()).toBe(rolled);
      expect(paid.status).toBe('PAID');
    });
  });
});
