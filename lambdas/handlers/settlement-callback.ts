import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import {
  type GatewayEvent,
  gatewayEventSchema,
  isEchoOfPaid,
  makeHandleGatewayEvent,
} from '#domain/callbacks.ts';
import { AutopayError } from '#domain/errors.ts';
import { systemClock } from '#domain/ports.ts';
import { parseWith } from '#domain/schemas.ts';
import type { makeVerifyCallbackSignature } from '#domain/webhook-secrets.ts';
import { deadlinesOf, readCallbackEnvironment, settlementScheduleOf } from '#shared/config.ts';
import { callbackObserver, settlementObserver } from '#shared/domain-events.ts';
import { stripeGatewayName } from '#shared/gateway-names.ts';
import {
  type FunctionUrlEvent,
  functionUrlParameters,
  httpHandler,
  json,
  parseJson,
  rawBody,
} from '#shared/http.ts';
import { callbackMetric } from '#shared/metric-names.ts';
import { aboutOrder, logger, metrics } from '#shared/observability.ts';
import { callbackFunctionUrl } from '#shared/paths.ts';
import { callbackSignatureCheckFrom } from '#shared/payment-gateway.ts';

export interface CallbackHandlerDeps {
  readonly gatewayName: string;
  readonly verifySignature: ReturnType<typeof makeVerifyCallbackSignature>;
  readonly handleEvent: ReturnType<typeof makeHandleGatewayEvent>;
}

/**
 * The event in the gateway's own shape, read as the domain's; Stripe's may mean nothing to it.
 * Stripe's schemas load with the first Stripe event: a stage paying through the simulator never
 * builds them at its cold start.
 */
async function readEvent(
  gatewayName: string,
  body: Buffer,
): Promise<GatewayEvent | { skipped: string }> {
  if (gatewayName !== stripeGatewayName) return parseWith(gatewayEventSchema, parseJson(body));
  const { readStripeEvent, stripeEventSchema } = await import('#adapters/stripe-events.ts');
  const reading = readStripeEvent(parseWith(stripeEventSchema, parseJson(body)));
  return reading.kind === 'event' ? reading.event : { skipped: reading.reason };
}

/**
 * `POST /v1/callbacks/{gateway}` at the function's URL (any other path or method: 404): the raw
 * body's signature is verified before anything reads it; then one event, at most one
 * transition. 200 tells the gateway to stop sending it.
 */
export function buildHandler(deps: CallbackHandlerDeps) {
  return httpHandler(async (event: FunctionUrlEvent) => {
    const { gateway } = functionUrlParameters(event, callbackFunctionUrl);
    if (gateway !== deps.gatewayName) {
      throw new AutopayError('UNKNOWN_GATEWAY');
    }
    const body = rawBody(event);
    await deps.verifySignature(event.headers['stripe-signature'], body);
    const gatewayEvent = await readEvent(deps.gatewayName, body);
    if ('skipped' in gatewayEvent) {
      logger.info('Callback skipped', { reason: gatewayEvent.skipped });
      metrics.addMetric(callbackMetric('ignored'), MetricUnit.Count, 1);
      return json(200, { received: true, result: 'ignored' });
    }
    aboutOrder(gatewayEvent.data.idempotencyKey);
    logger.appendKeys({ eventId: gatewayEvent.id });
    const outcome = await deps.handleEvent(gatewayEvent);
    if (isEchoOfPaid(gatewayEvent, outcome)) {
      // Every order charged at once hears this: at DEBUG, and not counted (callbackMetric).
      logger.debug('Callback handled', { type: gatewayEvent.type, ...outcome });
    } else {
      logger.info('Callback handled', { type: gatewayEvent.type, ...outcome });
      metrics.addMetric(callbackMetric(outcome.result), MetricUnit.Count, 1);
    }
    return json(200, { received: true, ...outcome });
  });
}

const environment = readCallbackEnvironment();
const orders = new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME);

export const handler = buildHandler({
  gatewayName: environment.GATEWAY_NAME,
  verifySignature: callbackSignatureCheckFrom(environment),
  handleEvent: makeHandleGatewayEvent({
    orders,
    clock: systemClock,
    deadlines: deadlinesOf(environment),
    settlementChecks: new SqsSettlementCheckQueue(sqs, environment.SETTLEMENT_CHECK_QUEUE_URL),
    schedule: settlementScheduleOf(environment),
    observer: settlementObserver(logger),
    callbacks: callbackObserver,
  }),
});
