import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import '#domain/zod-messages.ts';
import * as z from 'zod/mini';
import { consumerMetric, metricNames } from './metric-names.ts';
import { logger, metrics, traceOrder, tracer } from './observability.ts';

/** What a consumer did with one message: finished with it, or wants it back after a delay. */
export type MessageResult =
  | { readonly kind: 'done'; readonly detail: string }
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly reason: string };

export interface Delivery {
  readonly receiveCount: number;
  readonly record: SQSRecord;
  readonly context: Context;
  readonly log: typeof logger;
}

/** A message names the order it is about, if any: its logs and trace carry the id. */
export interface SqsConsumerOptions<T extends { orderId?: string | undefined }> {
  readonly name: string;
  readonly schema: z.core.$ZodType<T>;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handle: (message: T, delivery: Delivery) => Promise<MessageResult>;
}

/** A message returned to its queue on purpose; the batch reports it as failed. */
class ReturnedForLater extends Error {
  constructor(reason: string) {
    super(`returned for later: ${reason}`);
    this.name = 'ReturnedForLater';
  }
}

/**
 * The SQS side of every queue consumer: partial batch failures through Powertools, and the
 * retry backoff set as the message's visibility timeout, so a message comes back exactly when
 * its consumer asked and Lambda's redrive to the DLQ still counts every delivery.
 */
export function sqsConsumer<T extends { orderId?: string | undefined }>(
  options: SqsConsumerOptions<T>,
) {
  async function returnForLater(record: SQSRecord, delaySeconds: number): Promise<void> {
    await options.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: options.queueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: Math.max(0, Math.min(43_200, Math.round(delaySeconds))),
      }),
    );
  }

  async function handleRecord(record: SQSRecord, context: Context): Promise<void> {
    const parsed = z.safeParse(options.schema, safeJson(record.body));
    if (!parsed.success) {
      // No delivery will ever read it: send it on its way to the DLQ, where an operator can.
      metrics.addMetric(metricNames.poisonMessage, MetricUnit.Count, 1);
      logger.error('Unreadable message', { queue: options.name, messageId: record.messageId });
      await returnForLater(record, 1);
      throw new Error(`Unreadable message ${record.messageId}`);
    }
    const { orderId } = parsed.data;
    const log = logger.createChild(orderId ? { persistentKeys: { orderId } } : {});
    const handle = () =>
      options.handle(parsed.data, {
        receiveCount: Number(record.attributes.ApproximateReceiveCount ?? '1'),
        record,
        context,
        log,
      });
    const result = orderId ? await traceOrder(orderId, handle) : await handle();
    if (result.kind === 'done') {
      // Each consumer reads one queue, which its log group already names.
      log.info('Message handled', { detail: result.detail });
      metrics.addMetric(consumerMetric(options.name, 'MessageHandled'), MetricUnit.Count, 1);
      return;
    }
    log.warn('Message returned for later', { queue: options.name, ...result });
    metrics.addMetric(consumerMetric(options.name, 'RetryScheduled'), MetricUnit.Count, 1);
    await returnForLater(record, result.delaySeconds);
    throw new ReturnedForLater(result.reason);
  }

  return middy(
    // A processor of its own per batch: a processor holds its batch's records and failures, so
    // batches handled at once (the local runtime's concurrent pollers) would report each
    // other's failures, and a message returned for later would be deleted.
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
        context,
        // Returning every message of a batch on purpose (an open breaker) is not an error.
        throwOnFullBatchFailure: false,
      }),
  )
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
