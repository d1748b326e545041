import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  breakerMetric,
  consumerMetric,
  gatewayCallMetric,
  metricNames,
  metricNamespace,
  serviceDimension,
  stageDimension,
} from '../../lambdas/shared/metric-names.ts';
import type { FunctionSpec, QueueName, QueueSpec } from '../../lambdas/shared/wiring.ts';
import type { PipelineFunctions } from './functions.ts';
import type { PipelineHttpApi } from './http-api.ts';
import type { PipelineQueues } from './queues.ts';

/**
 * The custom metrics the alarms and the dashboard watch, named from the catalogue the functions
 * publish by (lambdas/shared/metric-names.ts); the tests read them from here.
 */
export const pipelineMetrics = {
  namespace: metricNamespace,
  serviceDimension,
  stageDimension,
  names: {
    orderPlaced: metricNames.orderPlaced,
    chargeSucceeded: gatewayCallMetric('charge', 'succeeded'),
    chargePending: gatewayCallMetric('charge', 'pending'),
    chargeDeclined: gatewayCallMetric('charge', 'declined'),
    chargeUnavailable: gatewayCallMetric('charge', 'unavailable'),
    chargeUnknown: gatewayCallMetric('charge', 'unknown'),
    chargeThrottled: gatewayCallMetric('charge', 'throttled'),
    chargeUnauthorized: gatewayCallMetric('charge', 'unauthorized'),
    chargeMisconfigured: gatewayCallMetric('charge', 'misconfigured'),
    gatewayLatency: metricNames.gatewayLatency,
    breakerOpen: breakerMetric('open'),
    breakerHalfOpen: breakerMetric('half_open'),
    breakerClosed: breakerMetric('closed'),
    riskCheckBypassed: metricNames.riskCheckBypassed,
    riskCheckRefused: metricNames.riskCheckRefused,
    ordersPastDeadline: metricNames.ordersPastDeadline,
    ordersExpired: metricNames.ordersExpired,
    lateSuccessRefund: metricNames.lateSuccessRefund,
    settlementAmountMismatch: metricNames.settlementAmountMismatch,
    sweepRuns: metricNames.sweepRuns,
    refundRejected: metricNames.refundRejected,
    foreignRefund: metricNames.foreignRefund,
    refundFailed: metricNames.refundFailed,
    redriveLimitReached: metricNames.redriveLimitReached,
    oldestDeadPaymentAge: metricNames.oldestDeadPaymentAge,
    paymentWindowExpired: metricNames.paymentWindowExpired,
    notificationsQueued: metricNames.notificationsQueued,
    notificationDelivered: consumerMetric('Notification', 'MessageHandled'),
    notificationRetried: consumerMetric('Notification', 'RetryScheduled'),
    orderRateLimited: metricNames.orderRateLimited,
    possibleDuplicate: metricNames.possibleDuplicate,
    autopayPaused: metricNames.autopayPaused,
    autopayPausedState: metricNames.autopayPausedState,
    paymentsPausedState: metricNames.paymentsPausedState,
  },
} as const;

export type PipelineMetric = keyof typeof pipelineMetrics.names;

/** Charge outcomes where the gateway failed us: nobody learnt what happened to the money. */
export const gatewayFailures = [
  'chargeUnavailable',
  'chargeUnknown',
  'chargeThrottled',
] as const satisfies readonly PipelineMetric[];

/** Charge outcomes where the gateway answered for the money, whatever the answer. */
export const gatewayAnswers = [
  'chargeSucceeded',
  'chargePending',
  'chargeDeclined',
] as const satisfies readonly PipelineMetric[];

/** The thresholds, exported so the tests check the same numbers the descriptions give. */
export const alarmThresholds = {
  /**
   * Seconds a payment message may wait unreceived: paused payments, or a consumer that dies
   * before it handles anything. Far inside the queue's retention, past which an order paid at
   * once would lose its message (it is in the sweep's due index only after a failed delivery).
   */
  paymentMessageAgeSeconds: 6 * 3600,
  /** Per cent of charge calls that failed in five minutes. */
  gatewayErrorRatePercent: 50,
  /**
   * Below this many charge calls in five minutes the rate is not computed: one failure out of
   * one call is 100 % and would page someone for a blip.
   */
  gatewayErrorRateMinimumCalls: 5,
  /**
   * Bypasses in five minutes. The risk engine may time out now and then, and a small order then
   * goes through unchecked by design; five in five minutes means the engine is down.
   */
  riskCheckBypassed: 5,
  /** Scheduled runs in a row that did not happen before a scheduled function is reported. */
  missedScheduledRuns: 3,
  /** Per cent of webhook deliveries in fifteen minutes that an endpoint did not take. */
  notificationFailureRatePercent: 50,
  /** Below this many deliveries in fifteen minutes the rate is not computed. */
  notificationFailureRateMinimumDeliveries: 10,
  /** How far (ms) the fan-out may lag behind the table's changes before someone is told. */
  notificationLagMs: 300_000,
} as const;

const DAY_SECONDS = 86_400;

/**
 * How long a dead-letter queue is sure to keep a message after it moved there: SQS counts a
 * standard queue's retention from the message's first send, kept through the move, and a message
 * may have waited in its queue up to the queue's own retention before it moved.
 */
export function deadLetterKeptSeconds(
  spec: Pick<QueueSpec, 'retentionDays' | 'dlqRetentionDays'>,
): number {
  return (spec.dlqRetentionDays - spec.retentionDays) * DAY_SECONDS;
}

/**
 * Seconds the oldest message of a dead-letter queue may have waited there before its age alarm
 * fires: half of what the queue is sure to keep it, so that a person still has as long again to
 * redrive or handle it. SQS's ApproximateAgeOfOldestMessage of a DLQ counts from the move.
 */
export function deadLetterAgeAlarmSeconds(
  spec: Pick<QueueSpec, 'retentionDays' | 'dlqRetentionDays'>,
): number {
  return deadLetterKeptSeconds(spec) / 2;
}

/**
 * Seconds since its first send at which a payment message the sweep reads in the DLQ alarms: as
 * long before the DLQ deletes it as the DLQ's own age alarm leaves at the least.
 */
export function deadPaymentExpiringSeconds(
  spec: Pick<QueueSpec, 'retentionDays' | 'dlqRetentionDays'>,
): number {
  return (
    spec.dlqRetentionDays * DAY_SECONDS -
    (deadLetterKeptSeconds(spec) - deadLetterAgeAlarmSeconds(spec))
  );
}

/**
 * Seconds a payment message may wait unreceived before the last warning: a day before the
 * payment queue deletes it, with the order paid at once it names. PaymentMessageAge has been in
 * ALARM since its sixth hour by then, and CloudWatch notifies only on the move into ALARM.
 */
export function paymentMessageExpiringSeconds(spec: Pick<QueueSpec, 'retentionDays'>): number {
  return (spec.retentionDays - 1) * DAY_SECONDS;
}

export interface PipelineObservabilityProps {
  /** The value of the `service` dimension: the functions' POWERTOOLS_SERVICE_NAME. */
  readonly service: string;
  /** The value of the `stage` dimension: the stage's name, which its functions publish under. */
  readonly stage: string;
  readonly queues: PipelineQueues;
  readonly functions: PipelineFunctions;
  readonly httpApi: PipelineHttpApi;
  /** The wiring's functions, for their schedules. */
  readonly functionSpecs: Readonly<Record<string, FunctionSpec>>;
  /** Subscribed to the alarm topic when set. */
  readonly alarmEmail?: string;
  /** An existing SNS topic (a pager's, another account's) every alarm also notifies. */
  readonly alarmTopicArn?: string;
}

export interface PipelineAlarms {
  readonly deadLetters: ReadonlyMap<QueueName, cloudwatch.Alarm>;
  /** One per dead-letter queue: its oldest message nearing the end of what SQS keeps. */
  readonly deadLetterAge: ReadonlyMap<QueueName, cloudwatch.Alarm>;
  /**
   * The oldest payment message the sweep reads in the DLQ nearing its deletion: the payment
   * DLQ's age alarm cannot see the messages the sweep receives again and again.
   */
  readonly deadPaymentExpiring: cloudwatch.Alarm;
  readonly functionErrors: ReadonlyMap<string, cloudwatch.Alarm>;
  readonly functionThrottles: ReadonlyMap<string, cloudwatch.Alarm>;
  readonly gatewayErrorRate: cloudwatch.Alarm;
  readonly riskCheckBypassed: cloudwatch.Alarm;
  readonly riskCheckRefused: cloudwatch.Alarm;
  readonly ordersPastDeadline: cloudwatch.Alarm;
  readonly lateSuccessRefund: cloudwatch.Alarm;
  readonly settlementAmountMismatch: cloudwatch.Alarm;
  readonly refundRejected: cloudwatch.Alarm;
  readonly foreignRefund: cloudwatch.Alarm;
  readonly refundFailed: cloudwatch.Alarm;
  readonly gatewayMisconfigured: cloudwatch.Alarm;
  readonly redriveLimitReached: cloudwatch.Alarm;
  readonly paymentWindowExpired: cloudwatch.Alarm;
  /** The oldest payment message waiting too long (payments paused, or a consumer that dies). */
  readonly paymentMessageAge: cloudwatch.Alarm;
  /** The oldest payment message a day from its deletion (a pause left on). */
  readonly paymentMessageExpiring: cloudwatch.Alarm;
  readonly notificationFailureRate: cloudwatch.Alarm;
  /** One per function that reads the table's change stream. */
  readonly streamLag: ReadonlyMap<string, cloudwatch.Alarm>;
  readonly apiServerErrors: cloudwatch.Alarm;
  /** One per scheduled function of the wiring. */
  readonly scheduleMissed: ReadonlyMap<string, cloudwatch.Alarm>;
}

const period = Duration.minutes(5);

/** An alarm's settings; one evaluation period and one datapoint unless it says otherwise. */
type AlarmOptions = Omit<cloudwatch.AlarmProps, 'evaluationPeriods'> & {
  readonly evaluationPeriods?: number;
};

/** The alarms that say when the pipeline needs a person, where they go, and one dashboard. */
export class PipelineObservability extends Construct {
  readonly topic: sns.Topic;
  readonly topicKey: kms.Key;
  readonly alarms: PipelineAlarms;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const metric = (name: PipelineMetric, options: cloudwatch.MetricOptions = {}) =>
      new cloudwatch.Metric({
        namespace: pipelineMetrics.namespace,
        metricName: pipelineMetrics.names[name],
        dimensionsMap: {
          [pipelineMetrics.serviceDimension]: props.service,
          [pipelineMetrics.stageDimension]: props.stage,
        },
        statistic: cloudwatch.Stats.SUM,
        period,
        ...options,
      });

    // CloudWatch cannot use the AWS managed key of SNS, so the topic has a key of its own whose
    // policy lets CloudWatch encrypt what it publishes.
    this.topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the autopay alarm notifications',
      enableKeyRotation: true,
      // Notifications are not stored: nothing is left to decrypt once the topic is gone.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    const cloudwatchService = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    // Only this account's alarms: CloudWatch passes the alarm's account and ARN to KMS too.
    const fromOwnAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [cloudwatchService],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOwnAlarms,
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'autopay alarms',
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    // The topic policy that enforces TLS replaces the default one, so CloudWatch is let in
    // explicitly, and only for this account's alarms.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [cloudwatchService],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOwnAlarms,
      }),
    );
    if (props.alarmEmail) {
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    }
    const destinations = [
      new SnsAction(this.topic),
      ...(props.alarmTopicArn
        ? [new SnsAction(sns.Topic.fromTopicArn(this, 'AlarmDestination', props.alarmTopicArn))]
        : []),
    ];
    const alarm = (alarmId: string, options: AlarmOptions) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      created.addAlarmAction(...destinations);
      created.addOkAction(...destinations);
      return created;
    };

    const kit: AlarmKit = { alarm, metric, props };
    const payments = paymentAlarms(kit);
    this.alarms = {
      ...platformAlarms(kit),
      ...payments.alarms,
      ...settlementAlarms(kit),
      ...stuckOrderAlarms(kit),
      ...notificationAlarms(kit),
    };

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: dashboardRows({
        props,
        metric,
        gatewayErrorRate: payments.gatewayErrorRate,
        alarms: allAlarms(this.alarms),
      }),
    });
  }
}

/** What each family of alarms is built with: the alarm and metric makers and the props. */
interface AlarmKit {
  readonly alarm: (alarmId: string, options: AlarmOptions) => cloudwatch.Alarm;
  readonly metric: (name: PipelineMetric, options?: cloudwatch.MetricOptions) => cloudwatch.Metric;
  readonly props: PipelineObservabilityProps;
}

/** What a message in each dead-letter queue means for the people autopay serves. */
const deadLetterMeaning: Readonly<Record<QueueName, string>> = {
  paymentSubmission: 'an order may be stuck',
  settlementCheck: 'an order may be stuck',
  notification:
    'a user was not told of an event, or (a record naming stream sequence numbers) a change ' +
    'failed the fan-out',
};

/**
 * The messages a dead-letter queue holds, shown or not: the sweep keeps the payment DLQ's
 * messages it has read hidden for a while, and they are still there for a person to act on.
 */
function deadLetterDepth(name: QueueName, queue: sqs.IQueue): cloudwatch.IMetric {
  const depth = { statistic: cloudwatch.Stats.MAXIMUM, period };
  // Ids named for the queue: a graph of several queues needs them distinct.
  return new cloudwatch.MathExpression({
    label: `${name} DLQ`,
    expression: `${name}Visible + ${name}Hidden`,
    usingMetrics: {
      [`${name}Visible`]: queue.metricApproximateNumberOfMessagesVisible(depth),
      [`${name}Hidden`]: queue.metricApproximateNumberOfMessagesNotVisible(depth),
    },
    period,
  });
}

/** The platform under the pipeline: queues, functions, schedules and the HTTP API. */
function platformAlarms({ alarm, metric, props }: AlarmKit) {
  const consumersOf = (queue: QueueName) =>
    Object.entries(props.functionSpecs)
      .filter(([, spec]) => spec.consumes?.queue === queue)
      .map(([name]) => name)
      .join(' and ') || 'its consumer';
  const deadLetters = new Map(
    [...props.queues.all].map(([name, { deadLetterQueue }]) => [
      name,
      alarm(`${name}DeadLetters`, {
        alarmDescription:
          `A ${name} message failed every delivery and is in its dead-letter queue: ` +
          `${deadLetterMeaning[name]}. See why with npm run ops -- --stage <stage> dlq and in the logs of ` +
          `${consumersOf(name)}; once the cause is fixed, move the messages back with ` +
          `npm run ops -- --stage <stage> redrive ${name}. The alarm counts hidden messages ` +
          'too (the sweep hides each payment message it read until its walk through the DLQ ' +
          'is done: up to 12 hours when the DLQ is deep): a redrive moves those once they show ' +
          'again, so redrive again while the alarm fires.',
        metric: deadLetterDepth(name, deadLetterQueue),
        threshold: 1,
      }),
    ]),
  );

  const deadLetterAge = new Map(
    [...props.queues.all].map(([name, { deadLetterQueue, spec }]) => {
      const days = (seconds: number) => `${Number((seconds / DAY_SECONDS).toFixed(1))} days`;
      return [
        name,
        alarm(`${name}DeadLetterAge`, {
          alarmDescription:
            `A ${name} message has been in its dead-letter queue for ` +
            `${days(deadLetterAgeAlarmSeconds(spec))}. SQS deletes it ` +
            `${spec.dlqRetentionDays} days after it was first sent to ${name} (kept ` +
            `${spec.retentionDays}), so it may be gone in ` +
            `${days(deadLetterKeptSeconds(spec) - deadLetterAgeAlarmSeconds(spec))}: fix the ` +
            `cause and move it back with npm run ops -- --stage <stage> redrive ${name}, or ` +
            'handle its order by hand (npm run ops -- --stage <stage> dlq lists them). The age ' +
            'leaves out a message received three times or more without being deleted (each ' +
            'dlq listing receives some; the sweep reads every payment DLQ message again and again, watched by ' +
            'DeadPaymentExpiring instead): the DeadLetters alarm still counts it.',
          metric: deadLetterQueue.metricApproximateAgeOfOldestMessage({
            statistic: cloudwatch.Stats.MAXIMUM,
            period,
          }),
          threshold: deadLetterAgeAlarmSeconds(spec),
        }),
      ];
    }),
  );

  const paymentSpec = props.queues.get('paymentSubmission').spec;
  const expiringAt = deadPaymentExpiringSeconds(paymentSpec);
  const deadPaymentExpiring = alarm('DeadPaymentExpiring', {
    alarmDescription:
      `A payment message the sweep read in its dead-letter queue was first sent ` +
      `${Number((expiringAt / DAY_SECONDS).toFixed(1))} days ago; SQS deletes it ` +
      `${paymentSpec.dlqRetentionDays} days after that first send, with the order it names ` +
      'possibly charged or stuck. Fix the cause and redrive now (npm run ops -- --stage <stage> ' +
      'redrive paymentSubmission), or settle the orders dlq lists by hand. This watches what ' +
      'paymentSubmissionDeadLetterAge cannot: SQS leaves out of that age the messages the ' +
      'sweep receives on each walk through the DLQ.',
    // The sweep reads every dead message once a walk, which it hides them for: within an hour up
    // to 12,000 messages, within SQS's longest hide (12 h) beyond. Over 12 h, every period holds
    // each message's age at least once, however deep the DLQ.
    metric: metric('oldestDeadPaymentAge', {
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.hours(12),
    }),
    threshold: expiringAt,
  });

  const functionErrors = new Map<string, cloudwatch.Alarm>();
  const functionThrottles = new Map<string, cloudwatch.Alarm>();
  for (const [name, fn] of props.functions.all) {
    functionErrors.set(
      name,
      alarm(`${name}Errors`, {
        alarmDescription:
          `The ${name} function failed an invocation (an uncaught error or a timeout): an ` +
          'HTTP caller got a 5xx, a queue message will be retried and ends in the DLQ after ' +
          'maxReceiveCount failures, a scheduled run is retried twice. Read its log group for ' +
          'the error and its X-Ray traces for the slow call.',
        metric: fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period }),
        threshold: 1,
      }),
    );
    functionThrottles.set(
      name,
      alarm(`${name}Throttles`, {
        alarmDescription:
          `Lambda refused to run ${name}: the account or function concurrency limit is ` +
          'reached. Requests get 5xx (429 at a function URL: the gateway callbacks, which ' +
          'the gateway retries; a flood of forged ones shows here) or messages wait in their ' +
          'queue; raise the concurrency limit or lower the queue maxConcurrency of the busy ' +
          'consumers.',
        metric: fn.metricThrottles({ statistic: cloudwatch.Stats.SUM, period }),
        threshold: 1,
      }),
    );
  }

  const scheduleMissed = new Map<string, cloudwatch.Alarm>();
  for (const [name, spec] of Object.entries(props.functionSpecs)) {
    if (!spec.schedule) continue;
    const runs = alarmThresholds.missedScheduledRuns;
    scheduleMissed.set(
      name,
      alarm(`${name}NotRunning`, {
        alarmDescription:
          `${name} should run every ${spec.schedule.rateMinutes} minutes and has not run for ` +
          `${runs * spec.schedule.rateMinutes}: the work it does on a schedule (finding stuck ` +
          'orders) is not being done. Check that its EventBridge rule is enabled and that ' +
          'Lambda is not throttling it.',
        metric: props.functions.get(name).metricInvocations({
          statistic: cloudwatch.Stats.SUM,
          period: Duration.minutes(spec.schedule.rateMinutes),
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: runs,
        datapointsToAlarm: runs,
        // No invocations at all is exactly what a stopped schedule looks like.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
  }

  const paymentQueue = props.queues.get('paymentSubmission').queue;
  const paymentMessageAge = alarm('PaymentMessageAge', {
    alarmDescription:
      `A payment message has waited over ${alarmThresholds.paymentMessageAgeSeconds / 3600} h: ` +
      'payments are paused (npm run ops -- --stage <stage> paused) or paymentSubmission fails ' +
      'before it handles a message (its logs, its Errors and Throttles alarms). Resume or fix it ' +
      `well within the queue retention (${paymentSpec.retentionDays} days): an order paid at ` +
      'once whose message expires stays ' +
      'PENDING_PAYMENT, out of the sweep.',
    metric: paymentQueue.metricApproximateAgeOfOldestMessage({
      statistic: cloudwatch.Stats.MAXIMUM,
      period,
    }),
    threshold: alarmThresholds.paymentMessageAgeSeconds,
  });
  const expiringAfter = paymentMessageExpiringSeconds(paymentSpec);
  const paymentMessageExpiring = alarm('PaymentMessageExpiring', {
    alarmDescription:
      `A payment message has waited ${expiringAfter / DAY_SECONDS} days: SQS deletes it a day ` +
      `from now (the queue keeps ${paymentSpec.retentionDays} days), and an order paid at once ` +
      'whose message expires stays PENDING_PAYMENT, out of the sweep. Resume payments now ' +
      '(npm run ops -- --stage <stage> paused shows who paused them) or fix paymentSubmission.',
    metric: paymentQueue.metricApproximateAgeOfOldestMessage({
      statistic: cloudwatch.Stats.MAXIMUM,
      period,
    }),
    threshold: expiringAfter,
  });

  return {
    deadLetters,
    deadLetterAge,
    deadPaymentExpiring,
    functionErrors,
    functionThrottles,
    scheduleMissed,
    paymentMessageAge,
    paymentMessageExpiring,
    apiServerErrors: alarm('ApiServerErrors', {
      alarmDescription:
        'The HTTP API answered 5xx: a function failed, timed out or could not be invoked. ' +
        'Read integrationError in the API access logs, then the function logs.',
      metric: props.httpApi.stage.metricServerError({ statistic: cloudwatch.Stats.SUM, period }),
      threshold: 1,
    }),
  };
}

/** Telling users: endpoints refusing their events, and the fan-out falling behind the table. */
function notificationAlarms({ alarm, metric, props }: AlarmKit) {
  const window = Duration.minutes(15);
  const failureRate = new cloudwatch.MathExpression({
    label: 'Webhook delivery failure rate (%)',
    expression:
      `IF(failed + delivered >= ${alarmThresholds.notificationFailureRateMinimumDeliveries}, ` +
      '100 * failed / (failed + delivered), 0)',
    usingMetrics: {
      failed: metric('notificationRetried', { period: window }),
      delivered: metric('notificationDelivered', { period: window }),
    },
    period: window,
  });
  return {
    notificationFailureRate: alarm('NotificationFailureRate', {
      alarmDescription:
        `At least ${alarmThresholds.notificationFailureRatePercent} % of webhook deliveries ` +
        'in fifteen minutes were not taken (an answer other than 2xx, or none in time). ' +
        'Payments are not affected. Many endpoints at once points at our side (the delivery ' +
        "logs, its egress); one user's endpoint alone is theirs to fix, and its events reach " +
        'the notification DLQ after about 40 minutes of tries.',
      metric: failureRate,
      threshold: alarmThresholds.notificationFailureRatePercent,
    }),
    streamLag: new Map(
      Object.entries(props.functionSpecs)
        .filter(([, spec]) => spec.streams !== undefined)
        .map(([name]) => [
          name,
          alarm(`${name}StreamLag`, {
            alarmDescription:
              `${name} is more than five minutes behind the table's changes: users hear late ` +
              'that an order waits for them. Read its logs and errors; the stream keeps ' +
              'changes for 24 hours, and a change that failed every retry is in the ' +
              'notification DLQ.',
            metric: props.functions.get(name).metric('IteratorAge', {
              statistic: cloudwatch.Stats.MAXIMUM,
              period,
            }),
            threshold: alarmThresholds.notificationLagMs,
          }),
        ]),
    ),
  };
}

/** Paying: the gateway failing us, the risk engine not answering, orders never paid. */
function paymentAlarms({ alarm, metric }: AlarmKit) {
  // Each outcome is missing from a period in which it did not happen: FILL counts it as 0.
  const sumOf = (label: string, names: readonly PipelineMetric[]) =>
    new cloudwatch.MathExpression({
      label,
      expression: names.map((name) => `FILL(${name}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(names.map((name) => [name, metric(name)])),
      period,
    });
  const gatewayErrorRate = new cloudwatch.MathExpression({
    label: 'Gateway charge error rate (%)',
    expression:
      `IF(failures + answers >= ${alarmThresholds.gatewayErrorRateMinimumCalls}, ` +
      '100 * failures / (failures + answers), 0)',
    usingMetrics: {
      failures: sumOf('Charges the gateway failed', gatewayFailures),
      answers: sumOf('Charges the gateway answered', gatewayAnswers),
    },
    period,
  });

  return {
    gatewayErrorRate,
    alarms: {
      gatewayErrorRate: alarm('GatewayErrorRate', {
        alarmDescription:
          `At least ${alarmThresholds.gatewayErrorRatePercent} % of payment gateway charge ` +
          'calls in five minutes were unavailable, unknown or throttled (counted from ' +
          `${alarmThresholds.gatewayErrorRateMinimumCalls} calls). Payments are being retried ` +
          "and the circuit breaker may open: check the gateway's status page and the " +
          'payment-submission logs; unknown outcomes are settled by lookups, not resent.',
        metric: gatewayErrorRate,
        threshold: alarmThresholds.gatewayErrorRatePercent,
      }),
      riskCheckBypassed: alarm('RiskCheckBypassed', {
        alarmDescription:
          `The risk engine did not answer for ${alarmThresholds.riskCheckBypassed} or more ` +
          'orders in five minutes: those up to RISK_FAIL_OPEN_LIMIT were paid without a risk ' +
          'check, larger ones are held for review. Check the risk engine, then review the ' +
          'bypassed orders listed in the payment-submission logs.',
        metric: metric('riskCheckBypassed'),
        threshold: alarmThresholds.riskCheckBypassed,
      }),
      riskCheckRefused: alarm('RiskCheckRefused', {
        alarmDescription:
          'The risk engine refused a request (AuthFailure.*: a wrong, disabled or expired ' +
          'SecretId/SecretKey, or a clock more than five minutes off; or a parameter or account ' +
          'error): every order fails open until it is fixed, so this fires on the first one. ' +
          'Read riskErrorCode in the payment-submission logs; replace the credentials in the ' +
          'riskEngineCredentials secret (docs/OPERATIONS.md), then review the bypassed orders.',
        metric: metric('riskCheckRefused', { period: Duration.minutes(1) }),
        threshold: 1,
      }),
      paymentWindowExpired: alarm('PaymentWindowExpired', {
        alarmDescription:
          'An order could not be paid within PAYMENT_WINDOW_SECONDS of entering PENDING_PAYMENT ' +
          'and failed with PAYMENT_WINDOW_EXPIRED: nothing was charged, or what was open was ' +
          'voided. Several mean the gateway or the payment queue has been down for long: check ' +
          'the gateway error rate, the breaker and the payment DLQ.',
        metric: metric('paymentWindowExpired'),
        threshold: 1,
      }),
    },
  };
}

/** Settling: money the gateway moved that the order does not account for. */
function settlementAlarms({ alarm, metric }: AlarmKit) {
  return {
    lateSuccessRefund: alarm('LateSuccessRefund', {
      alarmDescription:
        'The gateway took money for an order that had already failed or been cancelled, and ' +
        'autopay is refunding it. Confirm the refund settled with the gateway for the orderId ' +
        'in the logs, and tell the customer if it did not.',
      metric: metric('lateSuccessRefund'),
      threshold: 1,
    }),
    settlementAmountMismatch: alarm('SettlementAmountMismatch', {
      alarmDescription:
        'A signed gateway callback reported an amount or currency that differs from the ' +
        'order, and the order was left unchanged. This needs a person: compare the order ' +
        "with the gateway's record and settle it by hand.",
      metric: metric('settlementAmountMismatch'),
      threshold: 1,
    }),
    refundRejected: alarm('RefundRejected', {
      alarmDescription:
        'The gateway refused a refund for good (the payment is not captured, or nothing of it ' +
        'is left) and autopay will not send it again. A refund the user asked for put the ' +
        'order back to PAID; a compensation leaves it REFUND_PENDING, still owing the money. ' +
        "Compare the order (npm run ops -- --stage <stage> order <id>) with the gateway's " +
        'payment and refunds, and settle it by hand.',
      metric: metric('refundRejected'),
      threshold: 1,
    }),
    foreignRefund: alarm('ForeignRefund', {
      alarmDescription:
        "The gateway announced a refund that is not the order's own full refund (another " +
        'party refunded it, or only part of it). It is recorded in the order history ' +
        '(REFUND_OBSERVED) and changed nothing else, unless a refund was due and the payment ' +
        'turned out refunded in full: then the order is REFUNDED. Find who refunded it at the ' +
        'gateway, and whether the order still holds the money it says it does.',
      metric: metric('foreignRefund'),
      threshold: 1,
    }),
    refundFailed: alarm('RefundFailed', {
      alarmDescription:
        "The gateway failed an order's refund after accepting it (the card was closed, lost or " +
        'expired, or a refund waiting for action was canceled): the money is back in the merchant balance and the order is REFUND_PENDING ' +
        'with lastError REFUND_FAILED, held: autopay sends nothing more, as a refund can only ' +
        'go to the card that paid. Pay the user back another way, as docs/OPERATIONS.md says ' +
        '(npm run ops -- --stage <stage> order <id> shows refundFailure).',
      metric: metric('refundFailed'),
      threshold: 1,
    }),
    gatewayMisconfigured: alarm('GatewayMisconfigured', {
      alarmDescription:
        'The gateway refused a charge as a bad request (Stripe: invalid_request_error, a ' +
        'missing permission, an idempotency key reused with other parameters): the key, the ' +
        "payer configuration (STRIPE_PAYERS) or autopay's request is wrong, not the card. The " +
        'orders stay PENDING_PAYMENT with lastError GATEWAY_MISCONFIGURED and are retried; fix ' +
        'the configuration before their payment window closes.',
      metric: metric('chargeMisconfigured'),
      threshold: 1,
    }),
  };
}

/** Stuck orders: what the sweep finds past its deadline or gives up setting moving. */
function stuckOrderAlarms({ alarm, metric }: AlarmKit) {
  return {
    ordersPastDeadline: alarm('OrdersPastDeadline', {
      alarmDescription:
        'The sweep found orders waiting past their payment, refund or review deadline. ' +
        'Something upstream lost them (a DLQ, a stopped consumer, a gateway that never ' +
        'answered): list them with npm run ops -- --stage <stage> stuck and check the DLQs.',
      metric: metric('ordersPastDeadline'),
      threshold: 1,
    }),
    redriveLimitReached: alarm('RedriveLimitReached', {
      alarmDescription:
        'The sweep set an order moving as often as SWEEP_REDRIVE_LIMIT allows and has stopped: ' +
        'its payment, settlement check or refund keeps failing. The order carries lastError ' +
        'REDRIVE_LIMIT_REACHED (an unpaid one is still closed at the end of its payment ' +
        'window). A refund carries REFUND_AFTER_KEY_WINDOW instead while the sweep waits out ' +
        "the gateway's idempotency key window to send it again (its dueAt; refundKeyWindows of " +
        'SWEEP_REFUND_KEY_WINDOWS). Find why in the DLQs and function logs, fix it, then ' +
        'redrive the order.',
      metric: metric('redriveLimitReached'),
      threshold: 1,
    }),
  };
}

/** Every alarm of the pipeline, in the order the dashboard lists them. */
export function allAlarms(alarms: PipelineAlarms): cloudwatch.Alarm[] {
  return [
    alarms.gatewayErrorRate,
    alarms.apiServerErrors,
    alarms.ordersPastDeadline,
    alarms.lateSuccessRefund,
    alarms.settlementAmountMismatch,
    alarms.refundRejected,
    alarms.foreignRefund,
    alarms.refundFailed,
    alarms.gatewayMisconfigured,
    alarms.redriveLimitReached,
    alarms.paymentWindowExpired,
    alarms.paymentMessageAge,
    alarms.paymentMessageExpiring,
    alarms.riskCheckBypassed,
    alarms.riskCheckRefused,
    alarms.notificationFailureRate,
    ...alarms.streamLag.values(),
    ...alarms.scheduleMissed.values(),
    ...alarms.deadLetters.values(),
    ...alarms.deadLetterAge.values(),
    alarms.deadPaymentExpiring,
    ...alarms.functionErrors.values(),
    ...alarms.functionThrottles.values(),
  ];
}

interface DashboardInput {
  readonly props: PipelineObservabilityProps;
  readonly metric: (name: PipelineMetric, options?: cloudwatch.MetricOptions) => cloudwatch.Metric;
  readonly gatewayErrorRate: cloudwatch.IMetric;
  readonly alarms: cloudwatch.Alarm[];
}

function dashboardRows({
  props,
  metric,
  gatewayErrorRate,
  alarms,
}: DashboardInput): cloudwatch.IWidget[][] {
  const functions = [...props.functions.all];
  const stage = props.httpApi.stage;
  const sum = { statistic: cloudwatch.Stats.SUM, period };
  const chargeOutcomes: PipelineMetric[] = [
    ...gatewayAnswers,
    ...gatewayFailures,
    'chargeUnauthorized',
  ];
  const graph = (title: string, left: cloudwatch.IMetric[], options = {}) =>
    new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, ...options });

  return [
    [
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms,
        width: 24,
        height: 4,
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      }),
    ],
    [
      graph('Orders placed and paid', [
        metric('orderPlaced', { label: 'Placed' }),
        metric('chargeSucceeded', { label: 'Paid (charge succeeded)' }),
      ]),
      graph(
        'Gateway charge outcomes',
        chargeOutcomes.map((name) => metric(name, { label: pipelineMetrics.names[name] })),
        { stacked: true },
      ),
      graph('Gateway error rate (%) and latency', [gatewayErrorRate], {
        right: [
          metric('gatewayLatency', { statistic: cloudwatch.Stats.p(50), label: 'Latency p50' }),
          metric('gatewayLatency', { statistic: cloudwatch.Stats.p(99), label: 'Latency p99' }),
        ],
      }),
    ],
    [
      graph('Circuit breaker transitions', [
        metric('breakerOpen', { label: 'Opened' }),
        metric('breakerHalfOpen', { label: 'Half-open (probing)' }),
        metric('breakerClosed', { label: 'Closed' }),
      ]),
      graph(
        'Risk checks bypassed',
        [
          metric('riskCheckBypassed', { label: 'Bypassed' }),
          metric('riskCheckRefused', { label: 'Refused (credentials, parameters)' }),
        ],
        {
          leftAnnotations: [
            { value: alarmThresholds.riskCheckBypassed, label: 'Alarm', color: '#d62728' },
          ],
        },
      ),
      graph('Stuck orders and settlement exceptions', [
        metric('ordersPastDeadline', { label: 'Past deadline' }),
        metric('ordersExpired', { label: 'Expired' }),
        metric('lateSuccessRefund', { label: 'Late-success refunds' }),
        metric('settlementAmountMismatch', { label: 'Amount mismatches' }),
        metric('refundRejected', { label: 'Refunds refused' }),
        metric('foreignRefund', { label: 'Foreign or partial refunds' }),
        metric('refundFailed', { label: 'Refunds failed after success' }),
        metric('redriveLimitReached', { label: 'Redrive budget spent' }),
        metric('paymentWindowExpired', { label: 'Payment window expired' }),
      ]),
    ],
    [
      graph(
        'Dead-letter queue depth',
        [...props.queues.all].map(([name, { deadLetterQueue }]) =>
          deadLetterDepth(name, deadLetterQueue),
        ),
      ),
      graph(
        'Oldest message waiting (s)',
        [...props.queues.all].map(([name, { queue }]) =>
          queue.metricApproximateAgeOfOldestMessage({
            statistic: cloudwatch.Stats.MAXIMUM,
            period,
            label: name,
          }),
        ),
      ),
      graph('Sweep runs', [metric('sweepRuns', { label: 'Completed sweeps' })]),
    ],
    [
      graph('Agent guards', [
        metric('orderRateLimited', { label: 'Refused: over the rate (429)' }),
        metric('possibleDuplicate', { label: 'Held: possible duplicate' }),
        metric('autopayPaused', { label: 'Held: auto-pay paused' }),
      ]),
      graph(
        'Operator pauses (1 = paused, from each sweep run)',
        [
          metric('autopayPausedState', { statistic: cloudwatch.Stats.MAXIMUM, label: 'Auto-pay' }),
          metric('paymentsPausedState', { statistic: cloudwatch.Stats.MAXIMUM, label: 'Payments' }),
        ],
        { leftYAxis: { min: 0, max: 1 } },
      ),
    ],
    [
      graph(
        'Lambda errors',
        functions.map(([name, fn]) => fn.metricErrors({ ...sum, label: name })),
      ),
      graph(
        'Lambda throttles',
        functions.map(([name, fn]) => fn.metricThrottles({ ...sum, label: name })),
      ),
      graph(
        'Lambda duration p99 (ms)',
        functions.map(([name, fn]) =>
          fn.metricDuration({ statistic: cloudwatch.Stats.p(99), period, label: name }),
        ),
      ),
    ],
    [
      graph('API requests', [stage.metricCount({ ...sum, label: 'Requests' })]),
      graph('API errors', [
        stage.metricClientError({ ...sum, label: '4xx' }),
        stage.metricServerError({ ...sum, label: '5xx' }),
      ]),
      graph('API latency (ms)', [
        stage.metricLatency({ statistic: cloudwatch.Stats.p(50), period, label: 'p50' }),
        stage.metricLatency({ statistic: cloudwatch.Stats.p(99), period, label: 'p99' }),
        stage.metricIntegrationLatency({
          statistic: cloudwatch.Stats.p(99),
          period,
          label: 'Integration p99',
        }),
      ]),
    ],
  ];
}
