import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { SqsPaymentQueue } from '#adapters/sqs-payment-queue.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { AutopayError } from '#domain/errors.ts';
import { type LifecycleDeps, makeLifecycle } from '#domain/lifecycle.ts';
import { type OrderRequestResult, orderView } from '#domain/order.ts';
import { systemClock } from '#domain/ports.ts';
import { deadlinesOf, readLifecycleEnvironment } from '#shared/config.ts';
import { type HttpEvent, httpHandler, json, jsonBody, principalOf, userOf } from '#shared/http.ts';
import { lifecycleMetric } from '#shared/metric-names.ts';
import { aboutOrder, logger, metrics } from '#shared/observability.ts';

/**
 * confirm, cancel and refund: `POST /v1/orders/{id}/<action>`, by the agent's user; cancel also
 * by the agent that placed the order.
 */
export function buildHandler(deps: LifecycleDeps) {
  const lifecycle = makeLifecycle(deps);
  return httpHandler(async (event: HttpEvent) => {
    const orderId = event.pathParameters?.id ?? '';
    aboutOrder(orderId);
    const action = event.routeKey.split('/').at(-1);
    let result: OrderRequestResult;
    if (action === 'confirm') {
      result = await lifecycle.confirm(userOf(event), orderId);
    } else if (action === 'cancel') {
      result = await lifecycle.cancel(principalOf(event), orderId);
    } else if (action === 'refund') {
      const key = event.headers['idempotency-key'];
      result = await lifecycle.refund(userOf(event), orderId, key, jsonBody(event, { value: {} }));
    } else {
      throw new AutopayError('ROUTE_NOT_FOUND');
    }
    metrics.addMetric(lifecycleMetric(action), MetricUnit.Count, 1);
    logger.info('Lifecycle request applied', { action, status: result.order.status, ...result });
    if (result.replayed) {
      return json(200, orderView(result.order), { 'idempotent-replayed': 'true' });
    }
    // Confirm and refund set work going; a cancel is done when it answers.
    return json(action === 'cancel' ? 200 : 202, orderView(result.order));
  });
}

const environment = readLifecycleEnvironment();

export const handler = buildHandler({
  orders: new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME),
  agents: new DynamoDbAgentDirectory(dynamodb, environment.TABLE_NAME),
  payments: new SqsPaymentQueue(sqs, environment.PAYMENT_SUBMISSION_QUEUE_URL),
  settlementChecks: new SqsSettlementCheckQueue(sqs, environment.SETTLEMENT_CHECK_QUEUE_URL),
  clock: systemClock,
  deadlines: deadlinesOf(environment),
});
