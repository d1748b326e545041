import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { dynamodb, sqs } from '#adapters/aws-clients.ts';
import { DynamoDbControlPanel } from '#adapters/dynamodb-controls.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { SqsDeadPaymentMessages } from '#adapters/sqs-dead-payments.ts';
import { SqsPaymentQueue } from '#adapters/sqs-payment-queue.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { type OperatorControls, systemClock } from '#domain/ports.ts';
import { lookupsAfterVoid } from '#domain/settlement.ts';
import { makeSweep } from '#domain/sweep.ts';
import {
  deadLetterWalkOf,
  deadlinesOf,
  readSweepEnvironment,
  refundKeyWindowOf,
  voidLookupsOf,
} from '#shared/config.ts';
import { sweepObserver } from '#shared/domain-events.ts';
import { metricNames } from '#shared/metric-names.ts';
import { logger, metrics, tracer } from '#shared/observability.ts';

const environment = readSweepEnvironment();

const sweep = makeSweep({
  orders: new DynamoDbOrderRepository(dynamodb, environment.TABLE_NAME),
  payments: new SqsPaymentQueue(sqs, environment.PAYMENT_SUBMISSION_QUEUE_URL),
  settlementChecks: new SqsSettlementCheckQueue(sqs, environment.SETTLEMENT_CHECK_QUEUE_URL),
  deadPayments: new SqsDeadPaymentMessages(sqs, environment.PAYMENT_SUBMISSION_DLQ_URL),
  deadLetters: deadLetterWalkOf(environment),
  runEverySeconds: environment.SWEEP_EVERY_SECONDS,
  clock: systemClock,
  deadlines: deadlinesOf(environment),
  finalCheck: environment.SETTLEMENT_CHECKS,
  voidLookups: lookupsAfterVoid(voidLookupsOf(environment)),
  batchSize: environment.SWEEP_BATCH_SIZE,
  redriveLimit: environment.SWEEP_REDRIVE_LIMIT,
  refundKeyWindow: refundKeyWindowOf(environment),
  observer: sweepObserver,
});

const controls = new DynamoDbControlPanel(dynamodb, environment.TABLE_NAME, 0);

/** The operators' switches; unread, nothing is taken as paused, as Lambda's mappings would. */
async function readControls(): Promise<OperatorControls | undefined> {
  try {
    return await controls.read();
  } catch (error) {
    logger.error("The operators' switches could not be read", { error });
    return undefined;
  }
}

/** The operators' switches on the dashboard (1 while paused) and, while paused, in the logs. */
function reportPauses({ autopayPaused, paymentsPaused }: OperatorControls): void {
  metrics.addMetric(metricNames.autopayPausedState, MetricUnit.Count, autopayPaused ? 1 : 0);
  metrics.addMetric(metricNames.paymentsPausedState, MetricUnit.Count, paymentsPaused ? 1 : 0);
  if (autopayPaused) logger.warn('Auto-pay is paused by an operator', { ...autopayPaused });
  if (paymentsPaused) logger.warn('Payments are paused by an operator', { ...paymentsPaused });
}

/** The scheduled sweep: every order past its deadline is set moving again and counted. */
export const handler = middy(async () => {
  const switches = await readControls();
  const report = await sweep(switches);
  // Always published, so "no stuck orders" is a zero on the dashboard, not a gap.
  metrics.addMetric(metricNames.sweepRuns, MetricUnit.Count, 1);
  if (switches !== undefined) reportPauses(switches);
  logger.info('Sweep done', { ...report });
  return report;
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
