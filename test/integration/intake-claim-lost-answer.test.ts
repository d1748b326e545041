import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { spendKey } from '#adapters/table-keys.ts';
import { makePlaceOrder } from '#domain/place-order.ts';
import {
  type Emulator,
  localCredentials,
  localRegion,
  startDynamoDbLocal,
} from '../../local/runtime/emulators.ts';
import { FixedClock, RecordingPaymentQueue } from '../fakes/in-memory.ts';
import { demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';
import { LostAnswers } from '../support/calls.ts';
import { createTestTable } from '../support/table.ts';

/*
 * Intake's claim on the agent-day item is one conditional UpdateItem (no transaction, to keep a
 * paid order at its write budget). When DynamoDB applies it and its answer is lost (a 500, a
 * reset connection), the SDK resends it, and the resent claim fails its own condition (the slot's
 * marker and the bucket moved). Intake tells its own earlier send by the SDK's attempt count and
 * by the claim's record under the order's own id in its slot, and takes the order as claimed:
 * counted against the day once. demo-agent may auto-pay 200.00 a day, so four 50.00 orders fit.
 */

const tableName = 'claim-lost-answer';
let emulator: Emulator;
let raw: DynamoDBClient;
let client: DynamoDBDocumentClient;
let lost: LostAnswers;
let lostPut: LostAnswers;

beforeAll(async () => {
  emulator = await startDynamoDbLocal();
  await createTestTable(emulator.endpoint, tableName);
  raw = new DynamoDBClient({
    endpoint: emulator.endpoint,
    region: localRegion,
    credentials: localCredentials,
  });
  client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  lost = new LostAnswers(raw, ['UpdateItem']);
  lostPut = new LostAnswers(raw, ['PutItem']);
});

afterAll(async () => {
  await emulator?.stop();
});

describe("intake's claim whose answer is lost", () => {
  it('counts one order against the daily limit once, so four 50.00 orders fit a 200.00 day', async () => {
    // Prepare: the answer to the first order's claim is lost after DynamoDB applied it.
    const agents = new DynamoDbAgentDirectory(client, tableName);
    await agents.put(demoAgent);
    const placeOrder = makePlaceOrder({
      orders: new DynamoDbOrderRepository(client, tableName),
      agents,
      payments: new RecordingPaymentQueue(),
      clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
      policy: intakePolicy,
    });
    lost.losing = 1;

    // Act: four orders of 50.00, each its own intent.
    const statuses: string[] = [];
    for (const key of ['d1', 'd2', 'd3', 'd4']) {
      const body = { ...latteOrder, sessionId: key, amount: 5000 };
      statuses.push(
        (await placeOrder({ agentId: demoAgent.agentId, idempotencyKey: key, body })).order.status,
      );
    }

    // Assess
    expect(lost.losing).toBe(0);
    expect(statuses).toEqual(Array(4).fill('PENDING_PAYMENT'));
  });

  it('still holds a different key with the same intent as a POSSIBLE_DUPLICATE when its claim was resent', async () => {
    // Prepare: one 50.00 order placed; the same intent under a new key has its claim's first send
    // fail before DynamoDB applies it, so the SDK resends it and the resent claim is refused.
    const agents = new DynamoDbAgentDirectory(client, tableName);
    await agents.put({ ...demoAgent, agentId: 'dup-agent' });
    const placeOrder = makePlaceOrder({
      orders: new DynamoDbOrderRepository(client, tableName),
      agents,
      payments: new RecordingPaymentQueue(),
      clock: new FixedClock(new Date('2026-11-23T10:30:00Z')),
      policy: intakePolicy,
    });
    const body = { ...latteOrder, sessionId: 'same-intent', amount: 5000 };
    const first = await placeOrder({ agentId: 'dup-agent', idempotencyKey: 'k1', body });
    let failing = 1;
    const stack = raw.middlewareStack as unknown as {
      add(middleware: unknown, options: { step: string; name: string }): void;
      remove(name: string): boolean;
    };
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          if (failing > 0 && context.commandName === 'UpdateItemCommand') {
            failing--;
            throw Object.assign(new Error('injected: refused before the write'), {
              name: 'InternalServerError',
              $fault: 'server',
              $metadata: { httpStatusCode: 500 },
            });
          }
          return next(args);
        },
      { step: 'deserialize', name: 'failFirstSend' },
    );

    // Act
    const second = await placeOrder({ agentId: 'dup-agent', idempotencyKey: 'k2', body }).finally(
      () => stack.remove('failFirstSend'),
    );

    // Assess
    expect(failing).toBe(0);
    expect(first.order.status).toBe('PENDING_PAYMENT');
    expect(second.order).toMatchObject({
      status: 'AWAITING_CONFIRMATION',
      confirmationReason: 'POSSIBLE_DUPLICATE',
      duplicateOf: first.order.orderId,
    });
  });

  it("keeps the order's claim once when its put landed and the SDK's resend was refused", async () => {
    // Prepare: the answer to the order's PutItem is lost after DynamoDB applied it; the SDK
    // resends it and the resend is refused (the order exists): it is this placement's own put.
    const agents = new DynamoDbAgentDirectory(client, tableName);
    await agents.put({ ...demoAgent, agentId: 'put-agent' });
    const placeOrder = makePlaceOrder({
      orders: new DynamoDbOrderRepository(client, tableName),
      agents,
      payments: new RecordingPaymentQueue(),
      clock: new FixedClock(new Date('2026-11-23T11:30:00Z')),
      policy: intakePolicy,
    });
    lostPut.losing = 1;

    // Act
    const body = { ...latteOrder, sessionId: 'put-lost', amount: 5000 };
    const placed = await placeOrder({ agentId: 'put-agent', idempotencyKey: 'p1', body });

    // Assess: the order is stored and answered as new, its 50.00 on the day once.
    expect(lostPut.losing).toBe(0);
    expect(placed).toMatchObject({ replayed: false, order: { status: 'PENDING_PAYMENT' } });
    const day = await client.send(
      new GetCommand({
        TableName: tableName,
        Key: spendKey('put-agent', '2026-11-23'),
      }),
    );
    expect(day.Item?.spent).toBe(5000);
  });
});
