import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { secretsManager } from '#adapters/secrets-manager-client.ts';
import { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { WebhookSigningSecrets } from '#adapters/webhook-signing-secrets.ts';
import { gatewayEventSchema, makeHandleGatewayEvent } from '#domain/callbacks.ts';
import { AutopayError } from '#domain/errors.ts';
import { systemClock } from '#domain/ports.ts';
import { parseWith } from '#domain/schemas.ts';
import { makeVerifyCallbackSignature } from '#domain/webhook-secrets.ts';
import { deadlinesOf, readCallbackEnvironment } from '#shared/config.ts';
import { settlementObserver } from '#shared/domain-events.ts';
import { type HttpEvent, httpHandler, json, parseJson, rawBody } from '#shared/http.ts';
import { aboutOrder, logger, metrics } from '#shared/observability.ts';

export interface CallbackHandlerDeps {
  readonly gatewayName: string;
  readonly verifySignature: ReturnType<typeof makeVerifyCallbackSignature>;
  readonly handleEvent: ReturnType<typeof makeHandleGatewayEvent>;
}

/**
 * `POST /v1/callbacks/{gateway}`: the raw body's signature is verified before anything reads
 * it; then one event, at most one transition. 200 tells the gateway to stop sending it.
 */
export function buildHandler(deps: CallbackHandlerDeps) {
  return httpHandler(async (event: HttpEvent) => {
    if (event.pathParameters?.gateway !== deps.gatewayName) {
      throw new AutopayError('UNKNOWN_GATEWAY');
    }
    const body = rawBody(event);
    await deps.verifySignature(event.headers['stripe-signature'], body);
    const gatewayEvent = parseWith(gatewayEventSchema, parseJson(body));
    aboutOrder(gatewayEvent.data.idempotencyKey);
    logger.appendKeys({ eventId: gatewayEvent.id });
    const outcome = await deps.handleEvent(gatewayEvent);
    logger.info('Callback handled', { type: gatewayEvent.type, ...outcome });
    metrics.addMetric(`Callback_${outcome.result}`, MetricUnit.Count, 1);
    return json(200, { received: true, ...outcome });
  });
}

const environment = readCallbackEnvironment();
const orders = new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME);

export const handler = buildHandler({
  gatewayName: environment.GATEWAY_NAME,
  verifySignature: makeVerifyCallbackSignature({
    secrets: new WebhookSigningSecrets({
      store: new SecretsManagerStore(secretsManager),
      secretId: environment.WEBHOOK_SECRET_ID,
      maxAgeSeconds: environment.SECRET_MAX_AGE_SECONDS,
      minRefreshIntervalMs: 5_000,
    }),
    clock: systemClock,
    grace: {
      previousSeconds: environment.WEBHOOK_PREVIOUS_GRACE_SECONDS,
      pendingSeconds: environment.WEBHOOK_PENDING_GRACE_SECONDS,
    },
    toleranceSeconds: environment.WEBHOOK_TOLERANCE_SECONDS,
    onMismatch: () => metrics.addMetric('CallbackSignatureMismatch', MetricUnit.Count, 1),
  }),
  handleEvent: makeHandleGatewayEvent({
    orders,
    clock: systemClock,
    deadlines: deadlinesOf(environment),
    settlementChecks: new SqsSettlementCheckQueue(sqs, environment.SETTLEMENT_CHECK_QUEUE_URL),
    schedule: {
      firstCheckSeconds: environment.SETTLEMENT_FIRST_CHECK_SECONDS,
      intervalSeconds: environment.SETTLEMENT_INTERVAL_SECONDS,
      checks: environment.SETTLEMENT_CHECKS,
    },
    observer: settlementObserver(logger),
    callbacks: {
      unknownOrder(gatewayEvent) {
        metrics.addMetric('CallbackUnknownOrder', MetricUnit.Count, 1);
        logger.warn('Callback for an order we do not have', { type: gatewayEvent.type });
      },
      amountMismatch(gatewayEvent, order) {
        metrics.addMetric('SettlementAmountMismatch', MetricUnit.Count, 1);
        logger.error('Callback amount or currency differs from the order: nothing changed', {
          eventAmount: gatewayEvent.data.amount,
          eventCurrency: gatewayEvent.data.currency,
          orderAmount: order.amount,
          orderCurrency: order.currency,
        });
      },
      foreignRefund(gatewayEvent, order) {
        metrics.addMetric('ForeignRefund', MetricUnit.Count, 1);
        logger.error('A refund that is not the order’s own full refund: recorded, not applied', {
          refundId: gatewayEvent.data.refundId,
          refundAmount: gatewayEvent.data.amount,
          orderAmount: order.amount,
          status: order.status,
        });
      },
    },
  }),
});
