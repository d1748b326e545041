import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { SqsDeadPaymentMessages } from '#adapters/sqs-dead-payments.ts';
import { SqsPaymentQueue } from '#adapters/sqs-payment-queue.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { type NewOrder, openOrder } from '#domain/order.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import { systemClock } from '#domain/ports.ts';
import { defaultSettlementSchedule, lookupsAfterVoid } from '#domain/settlement.ts';
import { defaultDeadLetterWalk, defaultRefundKeyWindow, makeSweep } from '#domain/sweep.ts';
import {
  type Emulator,
  localCredentials,
  localRegion,
  startDynamoDbLocal,
  startSqsLocal,
} from '../../local/runtime/emulators.ts';
import { silentSweepObserver } from '../fakes/in-memory.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { createTestTable } from '../support/table.ts';

const tableName = 'sweep-dead-letters';
let dynamo: Emulator;
let sqsEmulator: Emulator;
let table: DynamoDBDocumentClient;
let sqs: SQSClient;
let orders: DynamoDbOrderRepository;
let sequence = 0;

const orderIdOf = (n: number) => `ord_${String(n).padStart(32, '0')}`;

/** A dead payment message for each order, in order. */
async function sendDead(dlqUrl: string, orderIds: readonly string[]): Promise<void> {
  for (const orderId of orderIds) {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: JSON.stringify({ orderId, agentId: 'a' }),
      }),
    );
  }
}

/** The payment queue and its dead-letter queue, redriven after one receive, and a check queue. */
async function queues() {
  sequence++;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `payments-dlq-${sequence}` }));
  const dlqUrl = dlq.QueueUrl ?? '';
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
  );
  const main = await sqs.send(
    new CreateQueueCommand({
      QueueName: `payments-${sequence}`,
      Attributes: {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes?.QueueArn,
          maxReceiveCount: 1,
        }),
      },
    }),
  );
  const checks = await sqs.send(new CreateQueueCommand({ QueueName: `checks-${sequence}` }));
  return { url: main.QueueUrl ?? '', dlqUrl, checksUrl: checks.QueueUrl ?? '' };
}

/** An order paid at once as intake stores it: PENDING_PAYMENT, no `dueAt`. */
async function paidAtOnce(n: number) {
  return stored(n, {
    status: 'PENDING_PAYMENT',
    payBy: new Date(Date.now() + 86_400_000).toISOString(),
  });
}

/** An order stored as intake would, with `fields` over the defaults. */
async function stored(
  n: number,
  fields: Pick<NewOrder, 'status'> & Partial<NewOrder>,
  repository = orders,
) {
  const order = openOrder({
    ...latteOrder,
    items: [...latteOrder.items],
    orderId: orderIdOf(n),
    agentId: 'demo-agent',
    idempotencyKey: `key-${n}`,
    requestHash: 'hash',
    attempts: 0,
    createdAt: new Date().toISOString(),
    ...fields,
  });
  expect((await repository.create(order)).kind).toBe('created');
  return order;
}

/** Delivers every message of the queue once without handling it: each then goes to the DLQ. */
async function dieOnEveryDelivery(url: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
    );
    if (Messages.length === 0) return;
  }
}

async function messagesIn(url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Object.values(Attributes).reduce((sum, value) => sum + Number(value), 0);
}

function sweepOver(
  q: { url: string; dlqUrl: string; checksUrl: string },
  { batchSize = 100, repository = orders } = {},
) {
  return makeSweep({
    orders: repository,
    clock: systemClock,
    deadlines: defaultDeadlinePolicy,
    payments: new SqsPaymentQueue(sqs, q.url),
    settlementChecks: new SqsSettlementCheckQueue(sqs, q.checksUrl),
    deadPayments: new SqsDeadPaymentMessages(sqs, q.dlqUrl),
    deadLetters: defaultDeadLetterWalk,
    runEverySeconds: 300,
    finalCheck: 5,
    voidLookups: lookupsAfterVoid(defaultSettlementSchedule),
    batchSize,
    redriveLimit: 10,
    refundKeyWindow: defaultRefundKeyWindow,
    observer: silentSweepObserver,
  });
}

beforeAll(async () => {
  [dynamo, sqsEmulator] = await Promise.all([startDynamoDbLocal(), startSqsLocal()]);
  table = await createTestTable(dynamo.endpoint, tableName);
  orders = new DynamoDbOrderRepository(table, tableName);
  sqs = new SQSClient({
    endpoint: sqsEmulator.endpoint,
    region: localRegion,
    credentials: localCredentials,
    useQueueUrlAsEndpoint: false,
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([dynamo?.stop(), sqsEmulator?.stop()]);
});

describe('the sweep over the due index (DynamoDB Local)', () => {
  it('redrives an overdue payment before older orders waiting for their user, and expires as many of them as the run has room for', async () => {
    // Prepare: thirty orders waiting for their user, overdue for an hour; a payment overdue
    // since a minute; ten orders a run. A table of their own keeps them out of the other tests.
    const q = await queues();
    const own = new DynamoDbOrderRepository(
      await createTestTable(dynamo.endpoint, 'sweep-lanes'),
      'sweep-lanes',
    );
    const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();
    for (let n = 300; n < 330; n++) {
      const waiting = { confirmBy: ago(3600), dueAt: ago(3600) };
      await stored(n, { status: 'AWAITING_CONFIRMATION', ...waiting }, own);
    }
    const paying = await stored(
      330,
      { status: 'PENDING_PAYMENT', payBy: ago(-3600), dueAt: ago(60) },
      own,
    );

    // Act
    const report = await sweepOver(q, { batchSize: 10, repository: own })();

    // Assess: the payment is asked again; the waiting orders take the rest of the run.
    expect(report).toEqual({ expired: 9, requeued: 1, pastDeadline: 1 });
    expect(await own.get(paying.orderId)).toMatchObject({ redrives: 1 });
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url }));
    expect(Messages.map((message) => JSON.parse(message.Body ?? '{}').orderId)).toEqual([
      paying.orderId,
    ]);
  });
});

describe('the sweep and the payment dead-letter queue (fauxqs, DynamoDB Local)', () => {
  it('puts an order paid at once whose message died unhandled in the due index, redrives it, and leaves the dead message', async () => {
    // Prepare: the message's only delivery dies unhandled; SQS moves it to the DLQ.
    const q = await queues();
    const order = await paidAtOnce(1);
    await new SqsPaymentQueue(sqs, q.url).enqueue({
      orderId: order.orderId,
      agentId: 'demo-agent',
    });
    await dieOnEveryDelivery(q.url);
    expect(await messagesIn(q.dlqUrl)).toBe(1);

    // Act
    const report = await sweepOver(q)();

    // Assess: due, possibly charged, set moving again by a new payment message.
    const after = await orders.get(order.orderId);
    expect(report.requeued).toBe(1);
    expect(after).toMatchObject({
      status: 'PENDING_PAYMENT',
      outcomeUnknown: true,
      deadLettered: true,
      redrives: 1,
    });
    expect(after?.dueAt).toBeDefined();
    expect(await orders.findDue(after?.dueAt ?? '', 10)).toHaveLength(1);
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url }));
    expect(Messages.map((message) => JSON.parse(message.Body ?? '{}').orderId)).toEqual([
      order.orderId,
    ]);
    expect(await messagesIn(q.dlqUrl)).toBe(1);
  });

  it('puts the other orders in the due index when the write of one throws, and shows only its message again for the next run', async () => {
    // Prepare: two orders paid at once whose messages died unhandled; the first write of the
    // first order throws (throttled).
    const q = await queues();
    const [first, second] = [await paidAtOnce(2), await paidAtOnce(3)];
    const payments = new SqsPaymentQueue(sqs, q.url);
    for (const order of [first, second]) {
      await payments.enqueue({ orderId: order.orderId, agentId: 'demo-agent' });
    }
    await dieOnEveryDelivery(q.url);
    const repository = new DynamoDbOrderRepository(table, tableName);
    const annotate = repository.annotate.bind(repository);
    repository.annotate = async (orderId, ...rest) => {
      if (orderId !== first.orderId) return annotate(orderId, ...rest);
      repository.annotate = annotate;
      throw new Error('ProvisionedThroughputExceededException');
    };
    const sweep = sweepOver(q, { repository });

    // Act: a run, what the DLQ shows after it, and the next run.
    const report = await sweep();
    const visible = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: q.dlqUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const next = await sweep();

    // Assess: the second order set moving by the first run, the first by the next; the first's
    // message alone shown again between them.
    expect({ first: report.requeued, next: next.requeued }).toEqual({ first: 1, next: 1 });
    expect(visible.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '1',
    });
    for (const order of [first, second]) {
      expect(await orders.get(order.orderId)).toMatchObject({ deadLettered: true, redrives: 1 });
    }
  });

  it('pages through more dead messages than one receive holds, each order once, skips unreadable ones, and keeps them all, hidden', async () => {
    // Prepare: twelve orders' messages, one twice, and a poison message, all in the DLQ.
    const q = await queues();
    const ids = Array.from({ length: 12 }, (_, i) => orderIdOf(100 + i));
    const bodies = [...ids, ids[0]].map((orderId) => JSON.stringify({ orderId, agentId: 'a' }));
    for (const body of [...bodies, 'not json']) {
      await sqs.send(new SendMessageCommand({ QueueUrl: q.dlqUrl, MessageBody: body }));
    }
    const dead = new SqsDeadPaymentMessages(sqs, q.dlqUrl);

    // Act
    const first = await dead.peek(100, 3600);
    const depth = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: q.dlqUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const again = await dead.peek(100, 3600);

    // Assess: every message is still there, hidden from the next read, and counted as held.
    expect(first.map((request) => request.orderId).sort()).toEqual(ids);
    expect(depth.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '14',
    });
    expect(again).toEqual([]);
  });

  it("tells the depth with the hidden messages, hides each message read as long as asked within SQS's 12 hours, and shows it again after", async () => {
    // Prepare: five dead messages.
    const q = await queues();
    const ids = Array.from({ length: 5 }, (_, i) => orderIdOf(300 + i));
    await sendDead(q.dlqUrl, ids);
    const dead = new SqsDeadPaymentMessages(sqs, q.dlqUrl);

    // Act: two read for longer than SQS allows (fauxqs, like SQS, rejects over 43,200 s), then
    // the other three for a second, which show again after it.
    const depthBefore = await dead.depth();
    const long = await dead.peek(2, 50_000);
    const depthAfter = await dead.depth();
    const short = await dead.peek(10, 1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const again = await dead.peek(10, 1);

    // Assess
    expect({ depthBefore, depthAfter, longest: dead.longestHideSeconds }).toEqual({
      depthBefore: 5,
      depthAfter: 5,
      longest: 43_200,
    });
    // Which of the messages a receive hands out first is not promised.
    const orderIds = (requests: { orderId: string }[]) => requests.map((r) => r.orderId).sort();
    expect(orderIds(long)).toEqual(ids.slice(0, 2));
    expect(orderIds(short)).toEqual(ids.slice(2));
    expect(orderIds(again)).toEqual(ids.slice(2));
    expect(await messagesIn(q.dlqUrl)).toBe(5);
  });

  it('counts messages, not orders, toward the limit, and the next read takes the messages behind', async () => {
    // Prepare: four messages of one order, then three orders' messages.
    const q = await queues();
    const repeated = orderIdOf(200);
    const behind = [orderIdOf(201), orderIdOf(202), orderIdOf(203)];
    for (const orderId of [repeated, repeated, repeated, repeated, ...behind]) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: q.dlqUrl,
          MessageBody: JSON.stringify({ orderId, agentId: 'a' }),
        }),
      );
    }
    const dead = new SqsDeadPaymentMessages(sqs, q.dlqUrl);

    // Act
    const runs = [await dead.peek(4, 3600), await dead.peek(4, 3600)];

    // Assess: the first read's four messages were the one order's (fauxqs serves oldest first),
    // the second read the three behind them; all seven stay.
    const read = runs.map((requests) => requests.map((request) => request.orderId).sort());
    expect(read).toEqual([[repeated], behind]);
    expect(await messagesIn(q.dlqUrl)).toBe(7);
  });

  it('reads when each dead message was first sent to the payment queue, kept through the move', async () => {
    // Prepare: a message sent to the payment queue, a moment before it dies there.
    const q = await queues();
    const orderId = orderIdOf(300);
    const before = Date.now();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: q.url,
        MessageBody: JSON.stringify({ orderId, agentId: 'a' }),
      }),
    );
    const after = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await dieOnEveryDelivery(q.url);
    const dead = new SqsDeadPaymentMessages(sqs, q.dlqUrl);

    // Act
    const [request] = await dead.peek(10, 3600);

    // Assess: SQS's SentTimestamp has millisecond precision; the move keeps it.
    expect(request?.orderId).toBe(orderId);
    const sentAt = Date.parse(request?.sentAt ?? '');
    expect(sentAt).toBeGreaterThanOrEqual(before);
    expect(sentAt).toBeLessThanOrEqual(after);
  });

  it('shows the messages of its last read again at once, more than one batch of them, and keeps them', async () => {
    // Prepare: twelve orders' messages in the DLQ, read once (and hidden for an hour).
    const q = await queues();
    const ids = Array.from({ length: 12 }, (_, i) => orderIdOf(400 + i));
    await sendDead(q.dlqUrl, ids);
    const dead = new SqsDeadPaymentMessages(sqs, q.dlqUrl);
    const first = await dead.peek(100, 3600);

    // Act
    await dead.showAgain();
    const again = await dead.peek(100, 3600);
    const hidden = await dead.peek(100, 3600);
    await dead.showAgain();

    // Assess: every message read again; a read that received nothing shows nothing again.
    const orderIds = (requests: { orderId: string }[]) => requests.map((r) => r.orderId).sort();
    expect({ first: orderIds(first), again: orderIds(again), hidden }).toEqual({
      first: ids,
      again: ids,
      hidden: [],
    });
    expect(await dead.peek(100, 3600)).toEqual([]);
    expect(await messagesIn(q.dlqUrl)).toBe(12);
  });

  it('shows again at once only the messages of the orders named, every message of each, once', async () => {
    // Prepare: fifteen orders' messages, the first order's twice, all read once (hidden for an
    // hour).
    const q = await queues();
    const ids = Array.from({ length: 15 }, (_, i) => orderIdOf(500 + i));
    await sendDead(q.dlqUrl, [ids[0] as string, ...ids]);
    const dead = new SqsDeadPaymentMessages(sqs, q.dlqUrl);
    await dead.peek(100, 3600);
    const named = ids.slice(0, 11);

    // Act: eleven orders' twelve messages shown again (two requests), then the first order's
    // again, which that read already showed; the next read; the first order's from it.
    await dead.showAgain(named);
    await dead.showAgain([ids[0] as string]);
    const again = await dead.peek(100, 3600);
    await dead.showAgain([ids[0] as string]);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: q.dlqUrl, MaxNumberOfMessages: 10 }),
    );

    // Assess: the named orders read again and no other; both of the first order's messages
    // shown again; all sixteen kept.
    expect({
      again: again.map((request) => request.orderId).sort(),
      shown: Messages.map((message) => JSON.parse(message.Body ?? '{}').orderId),
    }).toEqual({ again: named, shown: [ids[0], ids[0]] });
    expect(await messagesIn(q.dlqUrl)).toBe(16);
  });
});
