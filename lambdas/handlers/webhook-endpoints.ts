import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDbWebhookEndpoints } from '#adapters/dynamodb-webhook-endpoints.ts';
import { notificationClients } from '#adapters/notification-clients.ts';
import { AutopayError } from '#domain/errors.ts';
import { systemClock } from '#domain/ports.ts';
import {
  endpointView,
  makeWebhookEndpoints,
  type WebhookEndpointDeps,
} from '#domain/webhook-endpoints.ts';
import { readWebhookEndpointsEnvironment } from '#shared/config.ts';
import { endpointKeyFrom } from '#shared/endpoint-key.ts';
import { type HttpEvent, httpHandler, json, jsonBody, userOf } from '#shared/http.ts';
import { metricNames } from '#shared/metric-names.ts';
import { logger, metrics } from '#shared/observability.ts';

/** The user's webhook endpoints: create (secret shown once), list, delete. */
export function buildHandler(deps: WebhookEndpointDeps) {
  const endpoints = makeWebhookEndpoints(deps);
  return httpHandler(async (event: HttpEvent) => {
    const userId = userOf(event);
    if (event.routeKey === 'POST /v1/webhook-endpoints') {
      const key = event.headers['idempotency-key'];
      const created = await endpoints.create(userId, key, jsonBody(event));
      // The secret is in the answer only; it is never logged.
      logger.info('Webhook endpoint created', {
        endpointId: created.endpoint.endpointId,
        replayed: created.replayed,
      });
      if (!created.replayed) {
        metrics.addMetric(metricNames.webhookEndpointCreated, MetricUnit.Count, 1);
      }
      const body = { ...endpointView(created.endpoint), secret: created.secret };
      return created.replayed
        ? json(200, body, { 'idempotent-replayed': 'true' })
        : json(201, body);
    }
    if (event.routeKey === 'GET /v1/webhook-endpoints') {
      return json(200, { data: (await endpoints.list(userId)).map(endpointView) });
    }
    if (event.routeKey === 'DELETE /v1/webhook-endpoints/{id}') {
      const endpointId = event.pathParameters?.id ?? '';
      await endpoints.remove(userId, endpointId);
      logger.info('Webhook endpoint deleted', { endpointId });
      return { statusCode: 204, headers: {}, body: '' };
    }
    throw new AutopayError('ROUTE_NOT_FOUND');
  });
}

const environment = readWebhookEndpointsEnvironment();

export const handler = buildHandler({
  store: new DynamoDbWebhookEndpoints(notificationClients.dynamodb, environment.TABLE_NAME),
  key: endpointKeyFrom(environment),
  clock: systemClock,
  policy: {
    urlPolicy: environment.WEBHOOK_URL_POLICY,
    maxPerUser: environment.WEBHOOK_ENDPOINTS_PER_USER,
  },
});
