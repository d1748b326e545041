import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { DynamoDbAgentOwners } from '#adapters/dynamodb-agent-owners.ts';
import { DynamoDbWebhookEndpoints } from '#adapters/dynamodb-webhook-endpoints.ts';
import { notificationClients } from '#adapters/notification-clients.ts';
import { SqsNotificationOutbox } from '#adapters/sqs-notifications.ts';
import { changeOf } from '#adapters/stream-changes.ts';
import { makeFanOut } from '#domain/notifications.ts';
import { readFanOutEnvironment } from '#shared/config.ts';
import { metricNames } from '#shared/metric-names.ts';
import { logger, metrics, tracer } from '#shared/observability.ts';

const environment = readFanOutEnvironment();
const { dynamodb, sqs } = notificationClients;
const fanOut = makeFanOut({
  owners: new DynamoDbAgentOwners(dynamodb, environment.TABLE_NAME),
  endpoints: new DynamoDbWebhookEndpoints(dynamodb, environment.TABLE_NAME),
  outbox: new SqsNotificationOutbox(sqs, environment.NOTIFICATION_QUEUE_URL),
});

/**
 * notification-fan-out: the table's changes in, one queued message per (event, endpoint) out.
 * A failed change is reported by its sequence number, so the stream retries from it and no
 * later change of the shard overtakes it.
 */
export const handler = middy(async (event: DynamoDBStreamEvent, context: Context) => {
  const owners = new Map<string, Promise<string>>();
  // Every invocation publishes this, so the stream's throughput is seen and no empty flush warns.
  metrics.addMetric(metricNames.notificationChangesRead, MetricUnit.Count, event.Records.length);
  return processPartialResponse(
    event,
    async (record: DynamoDBRecord) => {
      const change = changeOf(record);
      if (change === undefined) return;
      const queued = await fanOut(change, owners);
      if (queued > 0) {
        // Each queued message's delivery logs the event with its order.
        logger.debug('Notifications queued', { queued, sequenceNumber: change.sequenceNumber });
        metrics.addMetric(metricNames.notificationsQueued, MetricUnit.Count, queued);
      }
    },
    // A processor per batch, as sqsConsumer does: it holds its batch's records and failures.
    new BatchProcessor(EventType.DynamoDBStreams),
    { context, processInParallel: false },
  ) as Promise<DynamoDBBatchResponse>;
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
