import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbBreakerStore } from '#adapters/dynamodb-breaker.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { HttpRiskEngine } from '#adapters/http-risk-engine.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { CircuitBreaker } from '#domain/circuit-breaker.ts';
import { systemClock } from '#domain/ports.ts';
import {
  makeSubmitPayment,
  type PaymentObserver,
  type SubmitPaymentDeps,
} from '#domain/submit-payment.ts';
import { deadlinesOf, type PaymentEnvironment, readPaymentEnvironment } from '#shared/config.ts';
import { settlementObserver } from '#shared/domain-events.ts';
import { logger, metrics } from '#shared/observability.ts';
import { paymentGatewayFrom } from '#shared/payment-gateway.ts';
import { sqsConsumer } from '#shared/sqs-consumer.ts';

const paymentMessage = z.object({ orderId: z.string().min(1), agentId: z.string().min(1) });

function observerFor(log: typeof logger): PaymentObserver {
  return {
    ...settlementObserver(log),
    gatewayCall(operation, outcome, ms) {
      metrics.addMetric(`Gateway_${operation}_${outcome}`, MetricUnit.Count, 1);
      metrics.addMetric('GatewayLatency', MetricUnit.Milliseconds, ms);
      log.info('Gateway answered', { operation, outcome, ms });
    },
    riskBypassed(order, verdict) {
      metrics.addMetric('RiskCheckBypassed', MetricUnit.Count, 1);
      log.warn('Risk check bypassed: the engine did not answer', {
        amount: order.amount,
        currency: order.currency,
        riskRequestId: verdict.requestId,
        riskErrorCode: verdict.errorCode,
        attempts: verdict.attempts,
      });
    },
  };
}

function productionDeps(environment: PaymentEnvironment): Omit<SubmitPaymentDeps, 'observer'> {
  const breaker = new CircuitBreaker(
    new DynamoDbBreakerStore(dynamodb, environment.TABLE_NAME),
    environment.GATEWAY_NAME,
    systemClock,
    {
      windowMs: environment.BREAKER_WINDOW_SECONDS * 1000,
      failureRate: environment.BREAKER_FAILURE_RATE,
      minimumVolume: environment.BREAKER_MINIMUM_VOLUME,
      openMs: environment.BREAKER_OPEN_SECONDS * 1000,
      probeLeaseMs: environment.GATEWAY_TIMEOUT_MS * 5,
      cacheMs: 1_000,
    },
    (from, to) => {
      metrics.addMetric(`Breaker_${to}`, MetricUnit.Count, 1);
      logger.warn('Circuit breaker moved', { gateway: environment.GATEWAY_NAME, from, to });
    },
  );
  return {
    orders: new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME),
    gateway: paymentGatewayFrom(environment),
    breaker,
    risk: new HttpRiskEngine({
      url: environment.RISK_ENGINE_URL,
      timeoutMs: environment.RISK_TIMEOUT_MS,
    }),
    settlementChecks: new SqsSettlementCheckQueue(sqs, environment.SETTLEMENT_CHECK_QUEUE_URL),
    clock: systemClock,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    policy: {
      risk: {
        maxAttempts: environment.RISK_MAX_ATTEMPTS,
        retryDelayMs: environment.RISK_RETRY_DELAY_MS,
        reserveMs: environment.GATEWAY_TIMEOUT_MS * 2 + 1_000,
        failOpenLimit: environment.RISK_FAIL_OPEN_LIMIT,
      },
      backoff: {
        baseSeconds: environment.BACKOFF_BASE_SECONDS,
        maxSeconds: environment.BACKOFF_MAX_SECONDS,
      },
      settlement: {
        firstCheckSeconds: environment.SETTLEMENT_FIRST_CHECK_SECONDS,
        intervalSeconds: environment.SETTLEMENT_INTERVAL_SECONDS,
        checks: environment.SETTLEMENT_CHECKS,
      },
      deadlines: deadlinesOf(environment),
    },
  };
}

const environment = readPaymentEnvironment();
const deps = productionDeps(environment);

/** payment-submission: one SQS batch in, one use case per message, partial failures out. */
export const handler = sqsConsumer({
  name: 'Payment',
  schema: paymentMessage,
  sqs,
  queueUrl: environment.PAYMENT_SUBMISSION_QUEUE_URL,
  handle: (message, delivery) =>
    makeSubmitPayment({ ...deps, observer: observerFor(delivery.log) })(message, {
      receiveCount: delivery.receiveCount,
      maxReceiveCount: environment.PAYMENT_SUBMISSION_MAX_RECEIVE_COUNT,
      remainingMs: () => delivery.context.getRemainingTimeInMillis(),
    }),
});
