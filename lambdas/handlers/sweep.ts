import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { SqsPaymentQueue } from '#adapters/sqs-payment-queue.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { systemClock } from '#domain/ports.ts';
import { makeSweep } from '#domain/sweep.ts';
import { deadlinesOf, readSweepEnvironment } from '#shared/config.ts';
import { sweepObserver } from '#shared/domain-events.ts';
import { metricNames } from '#shared/metric-names.ts';
import { logger, metrics, tracer } from '#shared/observability.ts';

const environment = readSweepEnvironment();

const sweep = makeSweep({
  orders: new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME),
  payments: new SqsPaymentQueue(sqs, environment.PAYMENT_SUBMISSION_QUEUE_URL),
  settlementChecks: new SqsSettlementCheckQueue(sqs, environment.SETTLEMENT_CHECK_QUEUE_URL),
  clock: systemClock,
  deadlines: deadlinesOf(environment),
  finalCheck: environment.SETTLEMENT_CHECKS,
  batchSize: environment.SWEEP_BATCH_SIZE,
  redriveLimit: environment.SWEEP_REDRIVE_LIMIT,
  observer: sweepObserver,
});

/** The scheduled sweep: every order past its deadline is set moving again and counted. */
export const handler = middy(async () => {
  const report = await sweep();
  // Always published, so "no stuck orders" is a zero on the dashboard, not a gap.
  metrics.addMetric(metricNames.sweepRuns, MetricUnit.Count, 1);
  logger.info('Sweep done', { ...report });
  return report;
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
