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
import { createTestTable } from '../support/table.ts';

/*
 * As test/unit/same-key-race.test.ts shows with fakes, on DynamoDB Local with the real adapter and
 * SDK: two placements with the same Idempotency-Key run at once on two instances. The second one's
 * claim is sent twice by the SDK (its first send fails with a 500 before DynamoDB applies it) and
 * the resend is refused: the first placement's claim holds the slot with a record of the same
 * intent and order. That record names the first placement, not the second, so intake does not
 * take it for its own earlier send: it claims again, and the first placement, finding the order
 * stored by the other, gives only its own claim back. The paid order's 4.50 stays on the agent's
 * daily auto-pay total.
 */

const tableName = 'same-key-race';
const day = '2026-11-23';
let emulator: Emulator;

/** A document client of its own, so that a fault injected in it touches one instance only. */
function documentClient() {
  const raw = new DynamoDBClient({
    endpoint: emulator.endpoint,
    region: localRegion,
    credentials: localCredentials,
  });
  const client = DynamoDBDocumentClient.from(raw, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { raw, client };
}

/** Makes the next UpdateItem of `raw` fail with a 500 before it reaches DynamoDB. */
function failNextUpdateBeforeTheWrite(raw: DynamoDBClient) {
  const state = { failing: 1 };
  (raw.middlewareStack as unknown as { add(m: unknown, o: object): void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        if (state.failing > 0 && context.commandName === 'UpdateItemCommand') {
          state.failing--;
          throw Object.assign(new Error('injected: refused before the write'), {
            name: 'InternalServerError',
            $fault: 'server',
            $metadata: { httpStatusCode: 500 },
          });
        }
        return next(args);
      },
    { step: 'deserialize', name: 'failNextUpdate' },
  );
  return state;
}

beforeAll(async () => {
  emulator = await startDynamoDbLocal();
  await createTestTable(emulator.endpoint, tableName);
});

afterAll(async () => {
  await emulator?.stop();
});

describe('two placements with the same key at once (DynamoDB Local)', () => {
  it("keep the paid order on the day's spend when the second claim is refused on a resend", async () => {
    // Prepare: two instances over one table; the second's client fails its next UpdateItem once.
    const first = documentClient();
    const second = documentClient();
    const agents = new DynamoDbAgentDirectory(first.client, tableName);
    await agents.put(demoAgent);
    const clock = new FixedClock(new Date(`${day}T09:30:00Z`));
    const firstOrders = new DynamoDbOrderRepository(first.client, tableName);
    const instance = (orders: DynamoDbOrderRepository) =>
      makePlaceOrder({
        orders,
        agents,
        payments: new RecordingPaymentQueue(),
        clock,
        policy: intakePolicy,
      });
    const command = { agentId: demoAgent.agentId, idempotencyKey: 'k-race', body: latteOrder };
    const placeSecond = instance(new DynamoDbOrderRepository(second.client, tableName));
    const fault = failNextUpdateBeforeTheWrite(second.raw);
    let secondPlaced: unknown;
    const create = firstOrders.create.bind(firstOrders);
    firstOrders.create = async (order) => {
      // The first placement has claimed; the second runs whole, a second later, before its put.
      if (secondPlaced === undefined) {
        clock.advance(1);
        secondPlaced = await placeSecond(command);
      }
      return create(order);
    };

    // Act
    const placed = await instance(firstOrders)(command);

    // Assess: one order paid at once, 4.50 on the day's spend.
    const item = await first.client.send(
      new GetCommand({
        TableName: tableName,
        Key: spendKey(demoAgent.agentId, day),
        ConsistentRead: true,
      }),
    );
    expect(fault.failing).toBe(0);
    expect(placed.order.status).toBe('PENDING_PAYMENT');
    expect(item.Item?.spent).toBe(latteOrder.amount);
  });
});
