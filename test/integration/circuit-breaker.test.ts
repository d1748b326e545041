import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbBreakerStore } from '#adapters/dynamodb-breaker.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { HttpPaymentGateway } from '#adapters/http-payment-gateway.ts';
import { CircuitBreaker, defaultBreakerPolicy } from '#domain/circuit-breaker.ts';
import { openOrder } from '#domain/order.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import { defaultRiskPolicy } from '#domain/risk-policy.ts';
import { defaultSettlementSchedule } from '#domain/settlement.ts';
import { makeSubmitPayment } from '#domain/submit-payment.ts';
import { type Emulator, startDynamoDbLocal } from '../../local/runtime/emulators.ts';
import {
  type GatewaySimulator,
  startGatewaySimulator,
} from '../../local/simulators/gateway/server.ts';
import { FixedClock, InMemoryAgents, RecordingSettlementChecks } from '../fakes/in-memory.ts';
import { FakeRiskEngine } from '../fakes/payments.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';
import { createTestTable } from '../support/table.ts';

const tableName = 'breaker-integration';
let dynamo: Emulator;
let gateway: GatewaySimulator;
let client: DynamoDBDocumentClient;
let orders: DynamoDbOrderRepository;
const clock = new FixedClock(new Date('2026-11-23T09:30:00.000Z'));
const transitions: string[] = [];
let sequence = 0;

/** One consumer instance: its own breaker object, sharing the table with the others. */
function instance() {
  const breaker = new CircuitBreaker(
    new DynamoDbBreakerStore(client, tableName),
    'simulator',
    clock,
    defaultBreakerPolicy,
    (from, to) => transitions.push(`${from}->${to}`),
  );
  return makeSubmitPayment({
    orders,
    agents: new InMemoryAgents([demoAgent]),
    gateway: new HttpPaymentGateway({
      name: 'simulator',
      baseUrl: gateway.url,
      timeoutMs: 2_000,
      apiKey: { get: async () => 'sk_local_gateway_key_not_secret', refresh: async () => {} },
    }),
    risk: new FakeRiskEngine(),
    breaker,
    settlementChecks: new RecordingSettlementChecks(),
    clock,
    observer: {
      gatewayCall: () => {},
      riskAnswered: () => {},
      riskBypassed: () => {},
      lateSuccess: () => {},
      ignored: () => {},
      refundRejected: () => {},
      paymentWindowExpired: () => {},
      foreignRefund: () => {},
      refundFailed: () => {},
    },
    sleep: async () => {},
    policy: {
      risk: defaultRiskPolicy,
      backoff: { baseSeconds: 1, maxSeconds: 1 },
      settlement: defaultSettlementSchedule,
      deadlines: defaultDeadlinePolicy,
    },
  });
}

async function newOrder(): Promise<string> {
  const orderId = `ord_${String(++sequence).padStart(32, '0')}`;
  await orders.create(
    openOrder({
      ...latteOrder,
      items: [...latteOrder.items],
      orderId,
      agentId: 'demo-agent',
      idempotencyKey: orderId,
      requestHash: 'h',
      status: 'PENDING_PAYMENT',
      attempts: 0,
      createdAt: clock.now().toISOString(),
    }),
  );
  return orderId;
}

async function breakerState(): Promise<string | undefined> {
  const item = await client.send(
    new GetCommand({
      TableName: tableName,
      Key: { pk: 'BREAKER#simulator' },
      ConsistentRead: true,
    }),
  );
  return item.Item?.state;
}

const delivery = { receiveCount: 1, maxReceiveCount: 8, remainingMs: () => 30_000 };

beforeAll(async () => {
  [dynamo, gateway] = await Promise.all([
    startDynamoDbLocal(),
    startGatewaySimulator({ seed: 1, faults: { errorStatuses: [503] } }),
  ]);
  client = await createTestTable(dynamo.endpoint, tableName);
  orders = new DynamoDbOrderRepository(client, tableName);
});

afterAll(async () => {
  await Promise.allSettled([dynamo?.stop(), gateway?.stop()]);
});

describe('circuit breaker shared by two consumer instances (DynamoDB Local, gateway simulator)', () => {
  it('opens, holds, half-opens with one probe, and closes', async () => {
    const a = instance();
    const b = instance();

    // Prepare: the gateway fails everything; 20 calls split over both instances.
    gateway.setFaults({ errorRate: 1 });
    for (let i = 0; i < 20; i++) {
      const submit = i % 2 === 0 ? a : b;
      const result = await submit({ orderId: await newOrder(), agentId: 'demo-agent' }, delivery);
      expect(result).toMatchObject({ kind: 'retry', reason: 'GATEWAY_UNAVAILABLE' });
      clock.advance(0.1);
    }
    expect(await breakerState()).toBe('open');

    // Act & Assess: while open, neither instance calls the gateway, and no order fails.
    clock.advance(1.1);
    const callsWhenOpened = gateway.ledger().requests.total;
    const held = await newOrder();
    await expect(a({ orderId: held, agentId: 'demo-agent' }, delivery)).resolves.toMatchObject({
      kind: 'retry',
      reason: 'CIRCUIT_OPEN',
    });
    await expect(b({ orderId: held, agentId: 'demo-agent' }, delivery)).resolves.toMatchObject({
      reason: 'CIRCUIT_OPEN',
    });
    expect(gateway.ledger().requests.total).toBe(callsWhenOpened);
    expect((await orders.get(held))?.status).toBe('PENDING_PAYMENT');

    // After the open period one probe goes through; the gateway has recovered; it closes.
    gateway.setFaults({ errorRate: 0 });
    clock.advance(30);
    await expect(a({ orderId: held, agentId: 'demo-agent' }, delivery)).resolves.toEqual({
      kind: 'done',
      detail: 'PAID',
    });
    expect(await breakerState()).toBe('closed');
    clock.advance(1.1);
    const next = await newOrder();
    await expect(b({ orderId: next, agentId: 'demo-agent' }, delivery)).resolves.toEqual({
      kind: 'done',
      detail: 'PAID',
    });
    expect(transitions).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
  });

  it('lets only one instance probe at a time', async () => {
    // Prepare: open the breaker and let the open period pass.
    const store = new DynamoDbBreakerStore(client, tableName);
    await store.open('probe-gw', 'closed', clock.now().getTime());
    const opened = await store.read('probe-gw', 0, 0);
    const now = clock.now().getTime() + 31_000;

    // Act
    const first = await store.acquireProbe('probe-gw', now, now + 10_000, opened.openedAt);
    const second = await store.acquireProbe('probe-gw', now, now + 10_000, opened.openedAt);
    const afterLease = await store.acquireProbe(
      'probe-gw',
      now + 10_001,
      now + 20_000,
      opened.openedAt,
    );

    // Assess
    expect([first, second, afterLease]).toEqual([true, false, true]);
  });
});
