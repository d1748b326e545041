import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbControlPanel } from '#adapters/dynamodb-controls.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { SqsPaymentQueue } from '#adapters/sqs-payment-queue.ts';
import { AutopayError } from '#domain/errors.ts';
import { makeGetOrder, makeListOrders } from '#domain/get-order.ts';
import { orderView } from '#domain/order.ts';
import { makePlaceOrder, type PlaceOrderDeps } from '#domain/place-order.ts';
import { type OrderIndex, type OrderRepository, systemClock } from '#domain/ports.ts';
import {
  deadlinesOf,
  guardPolicyOf,
  intakePolicyOf,
  readIntakeEnvironment,
} from '#shared/config.ts';
import { type HttpEvent, httpHandler, json, jsonBody, principalOf } from '#shared/http.ts';
import { metricNames } from '#shared/metric-names.ts';
import { aboutOrder, logger, metrics } from '#shared/observability.ts';

/**
 * `POST /v1/orders` (an agent), `GET /v1/orders/{id}` and `GET /v1/orders` (an agent or its
 * user): HTTP in, one use case, HTTP out.
 */
export function buildHandler(
  deps: PlaceOrderDeps & { readonly orders: OrderRepository & OrderIndex },
) {
  const placeOrder = makePlaceOrder(deps);
  const getOrder = makeGetOrder(deps);
  const listOrders = makeListOrders(deps);

  return httpHandler(async (event: HttpEvent) => {
    const principal = principalOf(event);
    if (event.routeKey === 'GET /v1/orders/{id}') {
      const order = await getOrder(principal, event.pathParameters?.id ?? '');
      metrics.addMetric(metricNames.orderRead, MetricUnit.Count, 1);
      return json(200, orderView(order));
    }
    if (event.routeKey === 'GET /v1/orders') {
      const page = await listOrders(principal, event.queryStringParameters ?? {});
      metrics.addMetric(metricNames.orderRead, MetricUnit.Count, page.orders.length);
      return json(200, {
        orders: page.orders.map(orderView),
        ...(page.cursor ? { cursor: page.cursor } : {}),
      });
    }
    if (event.routeKey === 'POST /v1/orders' && principal.kind === 'agent') {
      const { order, replayed } = await placeOrder({
        agentId: principal.agentId,
        idempotencyKey: event.headers['idempotency-key'],
        body: jsonBody(event),
        clientIp: event.requestContext.http?.sourceIp,
      });
      aboutOrder(order.orderId);
      logger.info(replayed ? 'Order replayed' : 'Order placed', {
        status: order.status,
        reason: order.confirmationReason,
        duplicateOf: order.duplicateOf,
      });
      metrics.addMetric(
        replayed ? metricNames.orderReplayed : metricNames.orderPlaced,
        MetricUnit.Count,
        1,
      );
      const guarded = replayed ? undefined : guardMetrics[order.confirmationReason ?? ''];
      if (guarded) metrics.addMetric(guarded, MetricUnit.Count, 1);
      return replayed
        ? json(200, orderView(order), { 'idempotent-replayed': 'true' })
        : json(202, orderView(order));
    }
    throw new AutopayError(event.routeKey === 'POST /v1/orders' ? 'FORBIDDEN' : 'ROUTE_NOT_FOUND');
  });
}

const guardMetrics: Readonly<Record<string, string>> = {
  POSSIBLE_DUPLICATE: metricNames.possibleDuplicate,
  AUTOPAY_PAUSED: metricNames.autopayPaused,
};

const environment = readIntakeEnvironment();

export const handler = buildHandler({
  orders: new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME),
  agents: new DynamoDbAgentDirectory(dynamodb, environment.TABLE_NAME),
  payments: new SqsPaymentQueue(sqs, environment.PAYMENT_SUBMISSION_QUEUE_URL),
  clock: systemClock,
  deadlines: deadlinesOf(environment),
  policy: intakePolicyOf(environment),
  guards: guardPolicyOf(environment),
  controls: new DynamoDbControlPanel(
    dynamodb,
    environment.TABLE_NAME,
    environment.CONTROL_CACHE_SECONDS * 1000,
  ),
});
