import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { type MessageResult, sqsConsumer } from '#shared/sqs-consumer.ts';
import { lambdaContext } from '../../local/runtime/lambda-context.ts';

const sqs = { send: async () => ({}) } as unknown as SQSClient;

/** A message whose handling takes `ms`, then is done or asks to come back later. */
function recordOf(messageId: string, outcome: 'done' | 'retry', ms: number): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body: JSON.stringify({ outcome, ms }),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an SQS consumer invoked for several batches at once', () => {
  const handler = sqsConsumer({
    name: 'Test',
    schema: z.object({
      outcome: z.enum(['done', 'retry']),
      ms: z.number(),
      orderId: z.string().optional(),
    }),
    sqs,
    queueUrl: 'http://127.0.0.1/queue/test',
    handle: async ({ outcome, ms }): Promise<MessageResult> => {
      await sleep(ms);
      return outcome === 'retry'
        ? { kind: 'retry', delaySeconds: 1, reason: 'endpoint answered 500' }
        : { kind: 'done', detail: 'delivered' };
    },
  });

  it('reports each batch its own failures only', async () => {
    const context = lambdaContext('test', 30);
    const [retried, done] = await Promise.all([
      handler({ Records: [recordOf('m-retry', 'retry', 5)] }, context),
      handler({ Records: [recordOf('m-done', 'done', 30)] }, context),
    ]);
    expect(retried.batchItemFailures).toEqual([{ itemIdentifier: 'm-retry' }]);
    expect(done.batchItemFailures).toEqual([]);
  });

  it('keeps the failure of a batch still running when another batch starts', async () => {
    const context = lambdaContext('test', 30);
    // The first batch's message is returned for later at 5 ms; the batch ends at 60 ms. A
    // second batch starts at 20 ms: the retried message must still be reported, or the poller
    // deletes it and its event is never delivered.
    const first: SQSEvent = {
      Records: [recordOf('m-retry', 'retry', 5), recordOf('m-slow', 'done', 60)],
    };
    const running = handler(first, context);
    await sleep(20);
    const second = await handler({ Records: [recordOf('m-other', 'done', 5)] }, context);
    expect(second.batchItemFailures).toEqual([]);
    expect((await running).batchItemFailures).toEqual([{ itemIdentifier: 'm-retry' }]);
  });
});
