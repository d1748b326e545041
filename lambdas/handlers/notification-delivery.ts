import * as z from 'zod/mini';
import { DynamoDbWebhookEndpoints } from '#adapters/dynamodb-webhook-endpoints.ts';
import { HttpWebhookSender } from '#adapters/http-webhook-sender.ts';
import { notificationClients } from '#adapters/notification-clients.ts';
import { notificationEventTypes } from '#domain/notifications.ts';
import { systemClock } from '#domain/ports.ts';
import { makeDeliverNotification } from '#domain/webhook-delivery.ts';
import { readDeliveryEnvironment } from '#shared/config.ts';
import { endpointKeyFrom } from '#shared/endpoint-key.ts';
import { sqsConsumer } from '#shared/sqs-consumer.ts';

const notificationMessage = z.object({
  eventId: z.string().check(z.minLength(1)),
  eventType: z.enum(notificationEventTypes),
  userId: z.string().check(z.minLength(1)),
  endpointId: z.string().check(z.minLength(1)),
  orderId: z.optional(z.string().check(z.minLength(1))),
  body: z.string().check(z.minLength(2)),
});

const environment = readDeliveryEnvironment();
const { dynamodb, sqs } = notificationClients;
const deliver = makeDeliverNotification({
  endpoints: new DynamoDbWebhookEndpoints(dynamodb, environment.TABLE_NAME),
  sender: new HttpWebhookSender(environment.WEBHOOK_DELIVERY_TIMEOUT_MS),
  key: endpointKeyFrom(environment),
  clock: systemClock,
  backoff: {
    baseSeconds: environment.NOTIFICATION_BACKOFF_BASE_SECONDS,
    maxSeconds: environment.NOTIFICATION_BACKOFF_MAX_SECONDS,
  },
});

/** notification-delivery: one signed POST per message; failures come back with backoff. */
export const handler = sqsConsumer({
  name: 'Notification',
  schema: notificationMessage,
  sqs,
  queueUrl: environment.NOTIFICATION_QUEUE_URL,
  handle: (message, delivery) => deliver(message, delivery.receiveCount),
});
