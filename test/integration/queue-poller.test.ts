import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Emulator,
  localCredentials,
  localRegion,
  startSqsLocal,
} from '../../local/runtime/emulators.ts';
import {
  BatchHold,
  invoke,
  type QueuePollerOptions,
  startQueuePoller,
} from '../../local/runtime/queue-poller.ts';

let emulator: Emulator;
let sqs: SQSClient;
let counter = 0;

async function queue(
  maxReceiveCount = 5,
  visibilityTimeout = 1,
): Promise<{ url: string; arn: string; dlqUrl: string }> {
  counter++;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `poller-dlq-${counter}` }));
  const dlqArn = await arnOf(dlq.QueueUrl ?? '');
  const main = await sqs.send(
    new CreateQueueCommand({
      QueueName: `poller-${counter}`,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
      },
    }),
  );
  const url = main.QueueUrl ?? '';
  return { url, arn: await arnOf(url), dlqUrl: dlq.QueueUrl ?? '' };
}

async function arnOf(url: string): Promise<string> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return result.Attributes?.QueueArn ?? '';
}

async function receiveAll(url: string, waitSeconds = 2): Promise<string[]> {
  const result = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: waitSeconds,
    }),
  );
  return (result.Messages ?? []).map((message) => message.Body ?? '');
}

async function inFlight(url: string): Promise<{ visible: number; received: number }> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(result.Attributes?.ApproximateNumberOfMessages ?? '0'),
    received: Number(result.Attributes?.ApproximateNumberOfMessagesNotVisible ?? '0'),
  };
}

async function until(done: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await done()) && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function sendBodies(url: string, bodies: string[]): Promise<void> {
  for (const body of bodies) {
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
  }
}

function options(
  q: { url: string; arn: string },
  handler: QueuePollerOptions['handler'],
): QueuePollerOptions {
  return {
    sqs,
    queueUrl: q.url,
    queueArn: q.arn,
    functionName: 'test-consumer',
    timeoutSeconds: 5,
    handler,
    batchSize: 10,
    concurrency: 1,
  };
}

beforeAll(async () => {
  emulator = await startSqsLocal();
  sqs = new SQSClient({
    endpoint: emulator.endpoint,
    region: localRegion,
    credentials: localCredentials,
    useQueueUrlAsEndpoint: false,
  });
});

afterAll(async () => {
  await emulator?.stop();
});

describe('local queue poller (fauxqs)', () => {
  it("gives the handler Lambda's SQS event shape", async () => {
    // Prepare
    const q = await queue();
    await sendBodies(q.url, ['{"orderId":"ord_1"}']);
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: q.url,
        MessageSystemAttributeNames: ['All'],
        WaitTimeSeconds: 2,
      }),
    );
    let seen: SQSEvent | undefined;

    // Act
    await invoke(
      options(q, async (event) => {
        seen = event;
        return { batchItemFailures: [] };
      }),
      received.Messages ?? [],
    );

    // Assess
    expect(seen?.Records).toHaveLength(1);
    expect(seen?.Records[0]).toMatchObject({
      body: '{"orderId":"ord_1"}',
      eventSource: 'aws:sqs',
      eventSourceARN: q.arn,
      attributes: { ApproximateReceiveCount: '1' },
    });
  });

  it('deletes the messages that succeeded and returns only the reported failure', async () => {
    // Prepare
    const q = await queue();
    await sendBodies(q.url, ['ok-1', 'fail', 'ok-2']);
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
    );
    expect(received.Messages).toHaveLength(3);

    // Act
    await invoke(
      options(q, async (event) => ({
        batchItemFailures: event.Records.filter((record) => record.body === 'fail').map(
          (record) => ({ itemIdentifier: record.messageId }),
        ),
      })),
      received.Messages ?? [],
    );

    // Assess: after the visibility timeout only the failure is back.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await receiveAll(q.url)).toEqual(['fail']);
  });

  it('returns the whole batch when the handler throws', async () => {
    // Prepare
    const q = await queue();
    await sendBodies(q.url, ['a', 'b']);
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
    );
    const errors: unknown[] = [];

    // Act
    await invoke(
      {
        ...options(q, async () => {
          throw new Error('boom');
        }),
        onInvokeError: (error) => errors.push(error),
      },
      received.Messages ?? [],
    );

    // Assess
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await receiveAll(q.url)).sort()).toEqual(['a', 'b']);
    expect(errors).toHaveLength(1);
  });

  it('fails the whole batch when a failure names no message of it, as Lambda does', async () => {
    // Prepare
    const q = await queue();
    await sendBodies(q.url, ['x', 'y']);
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
    );

    // Act
    await invoke(
      options(q, async () => ({ batchItemFailures: [{ itemIdentifier: 'not-a-message' }] })),
      received.Messages ?? [],
    );

    // Assess
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await receiveAll(q.url)).sort()).toEqual(['x', 'y']);
  });

  it('moves a message that always fails to the DLQ after maxReceiveCount, keeping the others', async () => {
    // Prepare
    const q = await queue(2);
    await sendBodies(q.url, ['poison', 'good']);
    const handled: string[] = [];
    const poller = startQueuePoller(
      options(q, async (event) => {
        handled.push(...event.Records.map((record) => record.body));
        return {
          batchItemFailures: event.Records.filter((record) => record.body === 'poison').map(
            (record) => ({ itemIdentifier: record.messageId }),
          ),
        };
      }),
    );

    // Act: wait for the poison to be seen twice, then for it to reach the DLQ.
    const deadline = Date.now() + 30_000;
    let dead: string[] = [];
    while (Date.now() < deadline && dead.length === 0) {
      dead = await receiveAll(q.dlqUrl, 1);
    }
    await poller.stop();

    // Assess
    expect(dead).toEqual(['poison']);
    expect(handled.filter((body) => body === 'good')).toEqual(['good']);
    expect(handled.filter((body) => body === 'poison')).toHaveLength(2);
  });

  it('carries a message twice in one batch when told same-batch, and deletes it once', async () => {
    // Prepare
    const q = await queue();
    await sendBodies(q.url, ['twice']);
    const batches: string[][] = [];
    const poller = startQueuePoller({
      ...options(q, async (event) => {
        batches.push(event.Records.map((record) => record.messageId));
        return { batchItemFailures: [] };
      }),
      duplicate: () => ({ kind: 'same-batch' }),
    });

    // Act
    for (const deadline = Date.now() + 30_000; batches.length === 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await poller.stop();

    // Assess: one message, handled twice at once, gone afterwards.
    expect(batches).toHaveLength(1);
    const [first, second] = batches[0] ?? [];
    expect(first).toBeDefined();
    expect(second).toBe(first);
    expect(await receiveAll(q.url, 2)).toEqual([]);
  });

  it('sends a later copy with its delay when told later, and never copies a copy', async () => {
    // Prepare
    const q = await queue();
    await sendBodies(q.url, ['once more']);
    const handled: string[] = [];
    let asked = 0;
    const poller = startQueuePoller({
      ...options(q, async (event) => {
        handled.push(...event.Records.map((record) => record.messageId));
        return { batchItemFailures: [] };
      }),
      duplicate: () => {
        asked++;
        return { kind: 'later', delaySeconds: 1 };
      },
    });

    // Act
    for (const deadline = Date.now() + 30_000; handled.length < 2 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await poller.stop();

    // Assess: the original and its copy, each a message of its own; the copy was not asked about.
    expect(handled).toHaveLength(2);
    expect(new Set(handled).size).toBe(2);
    expect(asked).toBe(1);
    expect(await receiveAll(q.url, 2)).toEqual([]);
  });

  it('asks about duplicating a message on its first receive only, not when it comes back', async () => {
    // Prepare
    const q = await queue();
    await sendBodies(q.url, ['retried']);
    let handled = 0;
    let asked = 0;
    const poller = startQueuePoller({
      ...options(q, async (event) => {
        handled++;
        const failures = handled === 1 ? event.Records : [];
        return { batchItemFailures: failures.map((r) => ({ itemIdentifier: r.messageId })) };
      }),
      duplicate: () => {
        asked++;
        return undefined;
      },
    });

    // Act: the first delivery fails, so the message comes back after its visibility timeout.
    for (const deadline = Date.now() + 30_000; handled < 2 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await poller.stop();

    // Assess
    expect(handled).toBe(2);
    expect(asked).toBe(1);
  });

  describe('with a batching window, as Lambda gathers a batch', () => {
    /** Starts a poller that records each batch it invokes with, and when. */
    function recording(q: { url: string; arn: string }, settings: Partial<QueuePollerOptions>) {
      const batches: { bodies: string[]; at: number }[] = [];
      const told: { receives: number; messages: number }[] = [];
      const poller = startQueuePoller({
        ...options(q, async (event) => {
          batches.push({ bodies: event.Records.map((record) => record.body), at: Date.now() });
          return { batchItemFailures: [] };
        }),
        onBatch: (batch) => told.push(batch),
        ...settings,
      });
      return { batches, told, poller };
    }

    it('gathers the messages that come within the window into one invocation', async () => {
      // Prepare: a message stays hidden longer than the window, as in the wiring.
      const q = await queue(5, 60);
      const { batches, told, poller } = recording(q, { batchingWindowSeconds: 4 });

      // Act: three messages, some way apart, all inside the window the poller opened.
      for (const body of ['a', 'b', 'c']) {
        await sendBodies(q.url, [body]);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      await until(() => batches.length > 0);
      await poller.stop();

      // Assess
      expect(batches.map((batch) => batch.bodies.sort())).toEqual([['a', 'b', 'c']]);
      expect(told).toEqual([{ receives: expect.any(Number), messages: 3 }]);
      expect(told[0]?.receives).toBeGreaterThanOrEqual(2);
    });

    it('invokes once the batch size is reached, without waiting out the window', async () => {
      // Prepare
      const q = await queue(5, 60);
      const { batches, poller } = recording(q, { batchSize: 2, batchingWindowSeconds: 20 });
      const sentAt = Date.now();

      // Act
      await sendBodies(q.url, ['one', 'two']);
      await until(() => batches.length > 0);
      await poller.stop();

      // Assess
      expect(batches).toHaveLength(1);
      expect(batches[0]?.bodies.sort()).toEqual(['one', 'two']);
      expect((batches[0]?.at ?? Number.POSITIVE_INFINITY) - sentAt).toBeLessThan(10_000);
    });

    it('invokes a message that comes after the window has passed at once: idle, it gathers nothing', async () => {
      // Prepare
      const q = await queue(5, 60);
      const { batches, poller } = recording(q, { batchingWindowSeconds: 1 });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const sentAt = Date.now();

      // Act
      await sendBodies(q.url, ['alone']);
      await until(() => batches.length > 0);
      await poller.stop();

      // Assess: well within the long poll's second, not after another window.
      expect(batches.map((batch) => batch.bodies)).toEqual([['alone']]);
      expect((batches[0]?.at ?? Number.POSITIVE_INFINITY) - sentAt).toBeLessThan(1_000);
    });
  });
  describe('with a batch hold, as a tool holds payments back', () => {
    function holding(q: { url: string; arn: string }, concurrency: number) {
      const handled: string[] = [];
      const hold = new BatchHold();
      const poller = startQueuePoller({
        ...options(q, async (event) => {
          handled.push(...event.Records.map((record) => record.body));
          return { batchItemFailures: [] };
        }),
        concurrency,
        hold,
      });
      return { handled, hold, poller };
    }

    it('keeps the batches received while held, and hands each over once on release', async () => {
      // Prepare: held well within the visibility timeout.
      const q = await queue(5, 30);
      const { handled, hold, poller } = holding(q, 2);
      hold.hold();

      // Act: the messages received (each worker holds the batch it gathered) or still in the
      // queue, none handed over a while later; then released.
      await sendBodies(q.url, ['a', 'b', 'c']);
      await until(async () => (await inFlight(q.url)).received >= 2);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const whileHeld = { handled: [...handled], queue: await inFlight(q.url) };
      const held = hold.release();
      await until(() => handled.length >= 3);
      await until(async () => (await inFlight(q.url)).received === 0);
      await poller.stop();

      // Assess
      expect(whileHeld.handled).toEqual([]);
      expect(whileHeld.queue.visible + whileHeld.queue.received).toBe(3);
      expect(held.messages).toBe(whileHeld.queue.received);
      expect(held.batches).toBeGreaterThanOrEqual(1);
      expect(held.batches).toBeLessThanOrEqual(2);
      expect(handled.sort()).toEqual(['a', 'b', 'c']);
      expect(hold.holding).toBe(false);
      expect(await inFlight(q.url)).toEqual({ visible: 0, received: 0 });
    });

    it('loses nothing held past the visibility timeout: the message comes back, is held again, and every receive is handed over once', async () => {
      // Prepare: a one-second visibility timeout, held for four, two workers.
      const q = await queue(5, 1);
      const receives: string[] = [];
      const hold = new BatchHold();
      const poller = startQueuePoller({
        ...options(q, async (event) => {
          receives.push(
            ...event.Records.map((record) => record.attributes.ApproximateReceiveCount),
          );
          return { batchItemFailures: [] };
        }),
        concurrency: 2,
        hold,
      });
      hold.hold();

      // Act
      await sendBodies(q.url, ['late']);
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      const held = hold.release();
      await until(async () => {
        const left = await inFlight(q.url);
        return receives.length >= 2 && left.visible + left.received === 0;
      });
      await poller.stop();

      // Assess: both workers held a receive of it; each receive was handed over once (a later
      // one may follow, as SQS delivers at least once), and the message is gone, not dead.
      expect(held).toEqual({ batches: 2, messages: 2 });
      const counts = receives.map(Number).sort((a, b) => a - b);
      expect(counts.slice(0, 2)).toEqual([1, 2]);
      expect(new Set(counts).size).toBe(counts.length);
      expect(await inFlight(q.url)).toEqual({ visible: 0, received: 0 });
      expect(await receiveAll(q.dlqUrl, 1)).toEqual([]);
    });

    it('lets batches through at once when never held, and stops while held without invoking', async () => {
      // Prepare
      const q = await queue(5, 30);
      const { handled, hold, poller } = holding(q, 1);

      // Act: one message through unheld, one held when the poller stops.
      await sendBodies(q.url, ['free']);
      await until(() => handled.length === 1);
      hold.hold();
      await sendBodies(q.url, ['kept']);
      await until(async () => (await inFlight(q.url)).received === 1);
      await poller.stop();
      const held = hold.release();

      // Assess: the kept message was never invoked, and is still in flight for SQS to redeliver.
      expect(handled).toEqual(['free']);
      expect(held).toEqual({ batches: 1, messages: 1 });
      expect(await inFlight(q.url)).toEqual({ visible: 0, received: 1 });
    });
  });
});
