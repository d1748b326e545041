import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbControlPanel } from '#adapters/dynamodb-controls.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { spendKey } from '#adapters/table-keys.ts';
import { RateLimitedError } from '#domain/errors.ts';
import { makePlaceOrder } from '#domain/place-order.ts';
import { type Emulator, startDynamoDbLocal } from '../../local/runtime/emulators.ts';
import { FixedClock, RecordingPaymentQueue } from '../fakes/in-memory.ts';
import { demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';
import { CallCounter } from '../support/calls.ts';
import { createTestTable } from '../support/table.ts';

/**
 * The guards against DynamoDB Local: the claim on the agent-day item is one conditional update
 * inside intake's transaction, so races, refusals and the day boundary are decided by DynamoDB,
 * whichever instance the requests land on.
 */
const tableName = 'guards-integration';
let emulator: Emulator;
let client: DynamoDBDocumentClient;
const counter = new CallCounter();
let agentSequence = 0;

beforeAll(async () => {
  emulator = await startDynamoDbLocal();
  client = await createTestTable(emulator.endpoint, tableName);
  counter.attach(client, 'DynamoDB');
});

afterAll(async () => {
  await emulator?.stop();
});

/** A fresh trusted agent and `count` intake instances (as Lambda instances) sharing the table. */
async function instances(count: number, at: string) {
  const agentId = `guard-agent-${++agentSequence}`;
  const agents = new DynamoDbAgentDirectory(client, tableName);
  await agents.put({ ...demoAgent, agentId });
  const clock = new FixedClock(new Date(at));
  const payments = new RecordingPaymentQueue();
  const placers = Array.from({ length: count }, () =>
    makePlaceOrder({
      orders: new DynamoDbOrderRepository(client, tableName),
      agents,
      payments,
      clock,
      policy: intakePolicy,
    }),
  );
  const place = (key: string, body: object = latteOrder, instance = 0) =>
    (placers[instance % count] ?? placers[0])?.({ agentId, idempotencyKey: key, body });
  return { agentId, clock, payments, place };
}

async function dayItem(agentId: string, day: string) {
  const result = await client.send(
    new GetCommand({ TableName: tableName, Key: spendKey(agentId, day), ConsistentRead: true }),
  );
  return result.Item;
}

describe('the guards in the agent-day item (DynamoDB Local)', () => {
  it('lets exactly one of eight racing keys for one intent pay; the others wait for the user', async () => {
    const { agentId, place } = await instances(8, '2026-11-23T09:30:00Z');

    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, index) => place(`race-${index}`, latteOrder, index)),
    );

    const paying = answers.filter((answer) => answer?.order.status === 'PENDING_PAYMENT');
    const waiting = answers.filter(
      (answer) => answer?.order.confirmationReason === 'POSSIBLE_DUPLICATE',
    );
    expect(paying).toHaveLength(1);
    expect(waiting).toHaveLength(7);
    const first = paying[0]?.order.orderId;
    expect(waiting.every((answer) => answer?.order.duplicateOf === first)).toBe(true);
    expect((await dayItem(agentId, '2026-11-23'))?.spent).toBe(latteOrder.amount);
  });

  it('adds no write to a paid order: one UpdateItem of the agent-day item, one PutItem', async () => {
    const { place } = await instances(1, '2026-11-23T09:30:00Z');
    counter.reset();

    await place('k-1');

    // The agent's profile, the order (absent: not a replay), the claim, the order. No
    // transaction: it would bill both items twice.
    expect(counter.calls).toEqual([
      'DynamoDB.GetItem',
      'DynamoDB.GetItem',
      'DynamoDB.UpdateItem',
      'DynamoDB.PutItem',
    ]);
  });

  it('refuses the 11th order of a burst with 429 and writes nothing for it, on any instance', async () => {
    const { agentId, place } = await instances(2, '2026-11-23T09:30:00Z');
    for (let n = 1; n <= 10; n++) {
      await place(`b-${n}`, { ...latteOrder, sessionId: `s-${n}` }, n);
    }
    const before = await dayItem(agentId, '2026-11-23');

    const refused = place('b-11', { ...latteOrder, sessionId: 's-11' }, 1);

    await expect(refused).rejects.toBeInstanceOf(RateLimitedError);
    expect(await dayItem(agentId, '2026-11-23')).toEqual(before);
    const replay = await place('b-10', { ...latteOrder, sessionId: 's-10' }, 0);
    expect(replay?.replayed).toBe(true);
  });

  it('catches the retry 10 s after midnight UTC of an intent placed 10 s before it', async () => {
    const { clock, place } = await instances(2, '2026-11-23T23:59:50Z');
    const first = await place('k-1', latteOrder, 0);
    clock.advance(20);

    const retry = await place('k-2', latteOrder, 1);

    expect(retry?.order).toMatchObject({
      confirmationReason: 'POSSIBLE_DUPLICATE',
      duplicateOf: first?.order.orderId,
    });
  });

  it('holds a duplicate paid after midnight though the intent was given back before it', async () => {
    // Prepare: placed at 23:58, its payment not queued (given back, 503); placed again under a
    // new key at 00:01 (paid at once).
    const { clock, payments, place } = await instances(2, '2026-11-23T23:58:00Z');
    payments.failNext = 1;
    await expect(place('k-1', latteOrder, 0)).rejects.toThrow();
    clock.advance(180);
    const paid = await place('k-2', latteOrder, 1);
    clock.advance(60);

    // Act: both days' items refuse the third key's claim.
    const again = await place('k-3', latteOrder, 0);

    // Assess
    expect(paid?.order.status).toBe('PENDING_PAYMENT');
    expect(again?.order).toMatchObject({
      confirmationReason: 'POSSIBLE_DUPLICATE',
      duplicateOf: paid?.order.orderId,
    });
  });

  it('keeps the item bounded: a ring slot of another time is replaced, not added to', async () => {
    const { agentId, clock, place } = await instances(1, '2026-11-23T09:30:00Z');
    for (let n = 1; n <= 8; n++) {
      await place(`k-${n}`, { ...latteOrder, sessionId: `s-${n}` });
      clock.advance(60);
    }
    const item = (await dayItem(agentId, '2026-11-23')) ?? {};
    const ring = Object.entries(item).filter(([name]) => /^r\d+$/.test(name));

    expect(ring).toHaveLength(6);
    for (const [, elements] of ring) expect((elements as Set<string>).size).toBe(3);
  });
});

describe('the operators switches (DynamoDB Local)', () => {
  it('are read by every instance within the cache time of the write', async () => {
    let now = 0;
    const operator = new DynamoDbControlPanel(client, tableName, 0);
    const instance = new DynamoDbControlPanel(client, tableName, 2_000, () => now);
    expect(await instance.read()).toEqual({});

    await operator.set('autopay', { by: 'ops@example.com', at: '2026-11-23T09:30:00Z' });
    const cached = await instance.read();
    now += 2_000;
    const fresh = await instance.read();
    const before = await operator.set('autopay', undefined);

    expect(cached).toEqual({});
    expect(fresh).toEqual({ autopayPaused: { by: 'ops@example.com', at: '2026-11-23T09:30:00Z' } });
    expect(before).toEqual(fresh);
    expect(await operator.read()).toEqual({});
  });
});
