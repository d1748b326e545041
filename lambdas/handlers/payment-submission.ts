import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbBreakerStore } from '#adapters/dynamodb-breaker.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { HttpPaymentGateway } from '#adapters/http-payment-gateway.ts';
import { HttpRiskEngine } from '#adapters/http-risk-engine.ts';
import { SecretsManagerSource } from '#adapters/secret-source.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { CircuitBreaker } from '#domain/circuit-breaker.ts';
import { systemClock } from '#domain/ports.ts';
import {
  makeSubmitPayment,
  type PaymentObserver,
  type SubmitPaymentDeps,
} from '#domain/submit-payment.ts';
import { type PaymentEnvironment, readPaymentEnvironment } from '#shared/config.ts';
import { logger, metrics } from '#shared/observability.ts';

const paymentMessage = z.object({ orderId: z.string().min(1), agentId: z.string().min(1) });

/** A message returned to its queue on purpose; the batch reports it as failed. */
class RetryLaterError extends Error {
  constructor(reason: string) {
    super(`returned for later: ${reason}`);
    this.name = 'RetryLaterError';
  }
}

export interface PaymentHandlerDeps {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly maxReceiveCount: number;
  readonly build: (observer: PaymentObserver) => ReturnType<typeof makeSubmitPayment>;
}

/** payment-submission: one SQS batch in, one use case per message, partial failures out. */
export function buildHandler(deps: PaymentHandlerDeps) {
  const processor = new BatchProcessor(EventType.SQS);

  async function handleRecord(record: SQSRecord, context: Context): Promise<void> {
    const parsed = paymentMessage.safeParse(safeJson(record.body));
    if (!parsed.success) {
      // No delivery will ever read it: send it on its way to the DLQ, where an operator can.
      metrics.addMetric('PoisonMessage', MetricUnit.Count, 1);
      logger.error('Unreadable payment message', { messageId: record.messageId });
      await returnForLater(record, 1);
      throw new Error(`Unreadable payment message ${record.messageId}`);
    }
    const log = logger.createChild({ persistentKeys: { orderId: parsed.data.orderId } });
    const submitPayment = deps.build(observerFor(log));
    const result = await submitPayment(parsed.data, {
      receiveCount: Number(record.attributes.ApproximateReceiveCount ?? '1'),
      maxReceiveCount: deps.maxReceiveCount,
      remainingMs: () => context.getRemainingTimeInMillis(),
    });
    if (result.kind === 'done') {
      log.info('Payment step done', { detail: result.detail });
      return;
    }
    log.warn('Payment returned for later', result);
    metrics.addMetric('PaymentRetryScheduled', MetricUnit.Count, 1);
    await returnForLater(record, result.delaySeconds);
    throw new RetryLaterError(result.reason);
  }

  /** The backoff is the message's visibility timeout: it comes back after `delaySeconds`. */
  async function returnForLater(record: SQSRecord, delaySeconds: number): Promise<void> {
    await deps.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: deps.queueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: delaySeconds,
      }),
    );
  }

  return middy(
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      processPartialResponse(event, handleRecord, processor, {
        context,
        // Returning every message of a batch on purpose (an open breaker) is not an error.
        throwOnFullBatchFailure: false,
      }),
  )
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function observerFor(log: typeof logger): PaymentObserver {
  return {
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

function productionDeps(environment: PaymentEnvironment): PaymentHandlerDeps {
  const orders = new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME);
  const gateway = new HttpPaymentGateway({
    name: environment.GATEWAY_NAME,
    baseUrl: environment.GATEWAY_URL,
    timeoutMs: environment.GATEWAY_TIMEOUT_MS,
    apiKey: new SecretsManagerSource({
      secretId: environment.GATEWAY_API_KEY_SECRET_ID,
      maxAgeSeconds: environment.SECRET_MAX_AGE_SECONDS,
      minRefreshIntervalMs: 5_000,
    }),
  });
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
  const shared: Omit<SubmitPaymentDeps, 'observer'> = {
    orders,
    gateway,
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
    },
  };
  return {
    sqs,
    queueUrl: environment.PAYMENT_SUBMISSION_QUEUE_URL,
    maxReceiveCount: environment.PAYMENT_SUBMISSION_MAX_RECEIVE_COUNT,
    build: (observer) => makeSubmitPayment({ ...shared, observer }),
  };
}

export const handler = buildHandler(productionDeps(readPaymentEnvironment()));
