import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
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
 * reset connection), the SDK resends it; the resent claim fails its own condition (the slot's
 * marker and the bucket moved), intake reads the refusal as its own earlier attempt's intent and
 * claims again: the order's spend is counted twice, and nothing gives the first back. demo-agent
 * may auto-pay 200.00 a day; after one such 50.00 order, the fourth 50.00 order of the day waits
 * for the user as OVER_DAILY_LIMIT. The error is on the safe side (never paid past the limit),
 * but the agent's day is 50.00 short and an order its user trusted it with waits.
 */

const tableName = 'claim-lost-answer';
let emulator: Emulator;
let raw: DynamoDBClient;
let client: DynamoDBDocumentClient;

beforeAll(async () => {
  emulator = await startDynamoDbLocal();
  await createTestTable(emulator.endpoint, tableName);
  raw = new DynamoDBClient({
    endpoint: emulator.endpoint,
    region: localRegion,
    credentials: localCredentials,
  });
  client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
});

afterAll(async () => {
  await emulator?.stop();
});

describe("intake's claim whose answer is lost", () => {
  // Known gap: the claim is not idempotent across the SDK's retry. Once a resent claim is
  // recognised as the one that landed, this fails: flip it to it().
  it.fails('counts one order against the daily limit once, so four 50.00 orders fit a 200.00 day', async () => {
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
    const lost = new LostAnswers(raw, ['UpdateItem']);
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
});
