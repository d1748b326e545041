import * as z from 'zod/mini';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { paymentRequestOf } from '#adapters/sqs-payment-queue.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { systemClock } from '#domain/ports.ts';
import { makeSubmitPayment, type SubmitPaymentDeps } from '#domain/submit-payment.ts';
import { paymentPolicyOf, readPaymentEnvironment } from '#shared/config.ts';
import { paymentObserver } from '#shared/domain-events.ts';
import { gatewayBreakerFrom, paymentGatewayFrom } from '#shared/payment-gateway.ts';
import { riskEngineFrom } from '#shared/risk-engine.ts';
import { sqsConsumer } from '#shared/sqs-consumer.ts';

/** The message as its queue's adapter reads it; zod only carries the verdict to the consumer. */
const paymentMessage = z.pipe(
  z.unknown(),
  z.transform((message, context) => {
    const request = paymentRequestOf(message);
    if (request === undefined) {
      context.issues.push({ code: 'custom', message: 'not a payment message', input: message });
      return z.NEVER;
    }
    return request;
  }),
);

const environment = readPaymentEnvironment();
const deps: Omit<SubmitPaymentDeps, 'observer'> = {
  orders: new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME),
  agents: new DynamoDbAgentDirectory(dynamodb, environment.TABLE_NAME),
  gateway: paymentGatewayFrom(environment),
  breaker: gatewayBreakerFrom(environment),
  risk: riskEngineFrom(environment),
  settlementChecks: new SqsSettlementCheckQueue(sqs, environment.SETTLEMENT_CHECK_QUEUE_URL),
  clock: systemClock,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  policy: paymentPolicyOf(environment),
};

/** payment-submission: one SQS batch in, one use case per message, partial failures out. */
export const handler = sqsConsumer({
  name: 'Payment',
  schema: paymentMessage,
  sqs,
  queueUrl: environment.PAYMENT_SUBMISSION_QUEUE_URL,
  handle: (message, delivery) =>
    makeSubmitPayment({ ...deps, observer: paymentObserver(delivery.log) })(message, {
      receiveCount: delivery.receiveCount,
      maxReceiveCount: environment.PAYMENT_SUBMISSION_MAX_RECEIVE_COUNT,
      remainingMs: () => delivery.context.getRemainingTimeInMillis(),
    }),
});
