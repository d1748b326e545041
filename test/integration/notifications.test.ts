import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAgentOwners } from '#adapters/dynamodb-agent-owners.ts';
import { DynamoDbWebhookEndpoints } from '#adapters/dynamodb-webhook-endpoints.ts';
import { SqsNotificationOutbox } from '#adapters/sqs-notifications.ts';
import { changeOf } from '#adapters/stream-changes.ts';
import { agentKey, itemPrefixes, orderKey, spendKey } from '#adapters/table-keys.ts';
import { makeFanOut, type NotificationMessage } from '#domain/notifications.ts';
import { openOrder } from '#domain/order.ts';
import type { WebhookEndpoint } from '#domain/webhook-endpoints.ts';
import {
  type Emulator,
  localCredentials,
  localRegion,
  startDynamoDbLocal,
  startSqsLocal,
} from '../../local/runtime/emulators.ts';
import { type StreamPollerOptions, startStreamPoller } from '../../local/runtime/stream-poller.ts';
import { createTestTable } from '../support/table.ts';

let dynamo: Emulator;
let queues: Emulator;
let sqs: SQSClient;
let streams: DynamoDBStreamsClient;
let tableCount = 0;

beforeAll(async () => {
  [dynamo, queues] = await Promise.all([startDynamoDbLocal(), startSqsLocal()]);
  const config = { region: localRegion, credentials: localCredentials };
  sqs = new SQSClient({ ...config, endpoint: queues.endpoint, useQueueUrlAsEndpoint: false });
  streams = new DynamoDBStreamsClient({ ...config, endpoint: dynamo.endpoint });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([dynamo?.stop(), queues?.stop()]);
});

async function table(): Promise<{
  client: DynamoDBDocumentClient;
  name: string;
  streamArn: string;
}> {
  const name = `notify-${++tableCount}`;
  const client = await createTestTable(dynamo.endpoint, name);
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: localRegion,
    credentials: localCredentials,
  });
  const described = await raw.send(new DescribeTableCommand({ TableName: name }));
  return { client, name, streamArn: described.Table?.LatestStreamArn ?? '' };
}

const order = openOrder({
  orderId: `ord_${'d'.repeat(32)}`,
  agentId: 'cautious-agent',
  idempotencyKey: 'k',
  requestHash: 'f'.repeat(64),
  action: 'order_coffee',
  sessionId: 's',
  items: [{ sku: 'latte', quantity: 1 }],
  amount: 450,
  currency: 'CNY',
  paymentMethod: 'wallet',
  status: 'AWAITING_CONFIRMATION',
  confirmationReason: 'ACTION_NOT_TRUSTED',
  attempts: 0,
  createdAt: '2026-11-29T10:00:00.000Z',
});

const endpoint = (userId: string, endpointId: string): WebhookEndpoint => ({
  endpointId,
  userId,
  url: `https://example.com/${endpointId}`,
  events: ['order.paid'],
  createdAt: '2026-11-29T10:00:00.000Z',
  requestHash: 'h',
});

function poller(
  streamArn: string,
  handler: StreamPollerOptions['handler'],
  extra: Partial<StreamPollerOptions> = {},
) {
  return startStreamPoller({
    streams,
    streamArn,
    functionName: 'fan-out-test',
    timeoutSeconds: 5,
    handler,
    batchSize: 100,
    retryAttempts: 3,
    keyPrefixes: [itemPrefixes.order, itemPrefixes.agent],
    idleMs: 50,
    ...extra,
  });
}

async function until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the local stream poller on DynamoDB Local's stream", () => {
  it('hands on order and agent changes in order, with both images, and no other item', async () => {
    // Prepare
    const { client, name, streamArn } = await table();
    const seen: DynamoDBRecord[] = [];
    const running = poller(streamArn, async (event) => {
      seen.push(...event.Records);
      return { batchItemFailures: [] };
    });

    // Act
    await client.send(
      new PutCommand({ TableName: name, Item: { ...orderKey(order.orderId), ...order } }),
    );
    await client.send(
      new PutCommand({ TableName: name, Item: { ...spendKey('a', 'd'), spent: 1 } }),
    );
    await client.send(
      new UpdateCommand({
        TableName: name,
        Key: orderKey(order.orderId),
        UpdateExpression: 'SET #status = :paid, version = :v',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':paid': 'PAID', ':v': 2 },
      }),
    );
    await client.send(
      new PutCommand({
        TableName: name,
        Item: { ...agentKey('cautious-agent'), agentId: 'cautious-agent', suspended: true },
      }),
    );
    await until(() => seen.length >= 3);
    await running.stop();

    // Assess
    const changes = seen.map(changeOf);
    expect(changes.map((change) => change?.kind)).toEqual(['order', 'order', 'agent']);
    expect(changes[1]).toMatchObject({
      before: { status: 'AWAITING_CONFIRMATION', version: 1 },
      after: { status: 'PAID', version: 2, orderId: order.orderId },
    });
    expect(changes[2]).toMatchObject({ after: { agentId: 'cautious-agent', suspended: true } });
  });

  it('reads again from a change the handler failed, then gives it up after the retries', async () => {
    // Prepare
    const { client, name, streamArn } = await table();
    const deliveries: string[] = [];
    const givenUp: string[] = [];
    const running = poller(
      streamArn,
      async (event) => {
        const failed = event.Records.filter((record) =>
          record.dynamodb?.Keys?.pk?.S?.endsWith('#bad'),
        );
        deliveries.push(...event.Records.map((record) => String(record.dynamodb?.Keys?.pk?.S)));
        return {
          batchItemFailures: failed.map((record) => ({
            itemIdentifier: record.dynamodb?.SequenceNumber ?? '',
          })),
        };
      },
      {
        retryAttempts: 2,
        onGiveUp: (record) => givenUp.push(String(record.dynamodb?.Keys?.pk?.S)),
      },
    );

    // Act
    for (const id of ['one', 'bad', 'two']) {
      await client.send(new PutCommand({ TableName: name, Item: { pk: `ORDER#${id}` } }));
    }
    await until(
      () => deliveries.filter((pk) => pk === 'ORDER#two').length >= 1 && givenUp.length === 1,
    );
    await running.stop();

    // Assess: the failed change is tried 1 + 2 times; the one after it waits for it.
    expect(deliveries.filter((pk) => pk === 'ORDER#one')).toHaveLength(1);
    expect(deliveries.filter((pk) => pk === 'ORDER#bad')).toHaveLength(3);
    expect(deliveries.at(-1)).toBe('ORDER#two');
    expect(givenUp).toEqual(['ORDER#bad']);
  });
});

describe('the webhook endpoints item on DynamoDB Local', () => {
  it('adds under the cap in one conditional write, finds a replay, and removes', async () => {
    // Prepare
    const { client, name } = await table();
    const store = new DynamoDbWebhookEndpoints(client, name);

    // Act
    const outcomes = [
      await store.create(endpoint('u', 'we_1'), 2),
      await store.create(endpoint('u', 'we_1'), 2),
      await store.create(endpoint('u', 'we_2'), 2),
      await store.create(endpoint('u', 'we_3'), 2),
    ];
    const removed = [await store.remove('u', 'we_1'), await store.remove('u', 'we_1')];

    // Assess
    expect(outcomes.map((outcome) => outcome.kind)).toEqual([
      'created',
      'exists',
      'created',
      'full',
    ]);
    expect(outcomes[1]).toMatchObject({ existing: endpoint('u', 'we_1') });
    expect(removed).toEqual([true, false]);
    expect((await store.list('u')).map((one) => one.endpointId)).toEqual(['we_2']);
    expect(await store.endpoint('u', 'we_2')).toMatchObject({ url: 'https://example.com/we_2' });
    expect(await store.remove('nobody', 'we_2')).toBe(false);
  });

  it("keeps each of a user's first endpoints created at the same moment", async () => {
    // Prepare
    const { client, name } = await table();
    const store = new DynamoDbWebhookEndpoints(client, name);

    // Act
    const outcomes = await Promise.all(
      ['we_a', 'we_b', 'we_c'].map((id) => store.create(endpoint('racer', id), 10)),
    );

    // Assess
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['created', 'created', 'created']);
    expect((await store.list('racer')).map((one) => one.endpointId).sort()).toEqual([
      'we_a',
      'we_b',
      'we_c',
    ]);
  });
});

describe('from a change of the table to messages on the notification queue', () => {
  it('queues one message per subscribed endpoint of the owner, through the real adapters', async () => {
    // Prepare
    const { client, name, streamArn } = await table();
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: `notify-${tableCount}` }));
    const queueUrl = queue.QueueUrl ?? '';
    const store = new DynamoDbWebhookEndpoints(client, name);
    await client.send(
      new PutCommand({
        TableName: name,
        Item: { ...agentKey('cautious-agent'), agentId: 'cautious-agent', ownerId: 'demo-user' },
      }),
    );
    for (let i = 0; i < 12; i += 1) {
      await store.create(
        { ...endpoint('demo-user', `we_${i}`), events: ['order.awaiting_confirmation'] },
        20,
      );
    }
    const fanOut = makeFanOut({
      owners: new DynamoDbAgentOwners(client, name),
      endpoints: store,
      outbox: new SqsNotificationOutbox(sqs, queueUrl),
    });
    const running = poller(streamArn, async (event) => {
      const owners = new Map<string, Promise<string>>();
      for (const record of event.Records) {
        const change = changeOf(record);
        if (change) await fanOut(change, owners);
      }
      return { batchItemFailures: [] };
    });

    // Act
    await client.send(
      new PutCommand({ TableName: name, Item: { ...orderKey(order.orderId), ...order } }),
    );
    const received: NotificationMessage[] = [];
    const deadline = Date.now() + 10_000;
    while (received.length < 12 && Date.now() < deadline) {
      const got = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      for (const message of got.Messages ?? []) {
        received.push(JSON.parse(message.Body ?? '{}') as NotificationMessage);
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      }
    }
    await running.stop();

    // Assess
    expect(received.map((message) => message.endpointId).sort()).toEqual(
      Array.from({ length: 12 }, (_, i) => `we_${i}`).sort(),
    );
    expect(new Set(received.map((message) => message.eventId)).size).toBe(1);
    expect(received[0]).toMatchObject({
      eventType: 'order.awaiting_confirmation',
      userId: 'demo-user',
      orderId: order.orderId,
    });
  });
});
