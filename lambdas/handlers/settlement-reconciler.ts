import * as z from 'zod/mini';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { SqsPaymentQueue } from '#adapters/sqs-payment-queue.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { systemClock } from '#domain/ports.ts';
import { makeReconcile, type ReconcileDeps } from '#domain/settlement.ts';
import {
  backoffOf,
  deadlinesOf,
  readReconcilerEnvironment,
  settlementScheduleOf,
} from '#shared/config.ts';
import { settlementObserver } from '#shared/domain-events.ts';
import { paymentGatewayFrom } from '#shared/payment-gateway.ts';
import { sqsConsumer } from '#shared/sqs-consumer.ts';

const checkMessage = z.object({
  orderId: z.string().check(z.minLength(1)),
  agentId: z.string().check(z.minLength(1)),
  check: z.number().check(z.int(), z.nonnegative()),
});

const environment = readReconcilerEnvironment();
const deps: Omit<ReconcileDeps, 'observer'> = {
  orders: new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME),
  gateway: paymentGatewayFrom(environment),
  payments: new SqsPaymentQueue(sqs, environment.PAYMENT_SUBMISSION_QUEUE_URL),
  settlementChecks: new SqsSettlementCheckQueue(sqs, environment.SETTLEMENT_CHECK_QUEUE_URL),
  clock: systemClock,
  deadlines: deadlinesOf(environment),
  schedule: settlementScheduleOf(environment),
  backoff: backoffOf(environment),
};

/** settlement-reconciler: delayed checks in, the gateway's truth applied to each order. */
export const handler = sqsConsumer({
  name: 'Settlement',
  schema: checkMessage,
  sqs,
  queueUrl: environment.SETTLEMENT_CHECK_QUEUE_URL,
  handle: (message, delivery) =>
    makeReconcile({ ...deps, observer: settlementObserver(delivery.log) })(
      message,
      delivery.receiveCount,
    ),
});
