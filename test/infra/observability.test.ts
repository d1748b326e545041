import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alarmThresholds,
  allAlarms,
  gatewayAnswers,
  gatewayFailures,
  type PipelineMetric,
  pipelineMetrics,
} from '../../infra/constructs/observability.ts';
import { type FunctionSpec, type QueueName, wiring } from '../../lambdas/shared/wiring.ts';
import {
  logicalId,
  propertiesOf,
  removeAssembly,
  type Synthesized,
  synthesize,
  withoutBundling,
} from './synth.ts';

const functions: Readonly<Record<string, FunctionSpec>> = wiring.functions;
const FIVE_MINUTES = 300;

/** What a custom metric of the functions looks like in an alarm. */
function customMetric(name: PipelineMetric) {
  return {
    Namespace: pipelineMetrics.namespace,
    MetricName: pipelineMetrics.names[name],
    Dimensions: [
      { Name: pipelineMetrics.serviceDimension, Value: wiring.service },
      { Name: pipelineMetrics.stageDimension, Value: 'dev' },
    ],
  };
}

describe('PipelineObservability', () => {
  let synth: Synthesized;
  let withEmail: Synthesized;

  beforeAll(() => {
    synth = synthesize(withoutBundling);
    withEmail = synthesize({ ...withoutBundling, alarmEmail: 'oncall@example.com' });
  }, 120_000);

  afterAll(() => {
    removeAssembly(synth.outdir);
    removeAssembly(withEmail.outdir);
  });

  const observability = () => synth.service.observability;
  const alarmProperties = (alarm: Alarm) => propertiesOf(synth.serviceTemplate, alarm);

  describe('alarm topic', () => {
    it('encrypts notifications with a rotating key that CloudWatch may use', () => {
      // Prepare
      const { topic, topicKey } = observability();

      // Act
      const topicProperties = propertiesOf(synth.serviceTemplate, topic);
      const key = propertiesOf(synth.serviceTemplate, topicKey);

      // Assess
      expect(topicProperties.KmsMasterKeyId).toEqual({
        'Fn::GetAtt': [logicalId(topicKey), 'Arn'],
      });
      expect(key.EnableKeyRotation).toBe(true);
      expect((key.KeyPolicy as { Statement: unknown[] }).Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        }),
      );
    });

    it('refuses every request not over TLS and lets in only CloudWatch alarms of this account', () => {
      // Prepare
      const topicRef = { Ref: logicalId(observability().topic) };

      // Act
      const [policy] = Object.values(
        synth.serviceTemplate.findResources('AWS::SNS::TopicPolicy', {
          Properties: { Topics: [topicRef] },
        }),
      );
      const statements = policy?.Properties.PolicyDocument.Statement;

      // Assess
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Condition: expect.objectContaining({
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          }),
        }),
      );
    });

    it('subscribes nobody unless the context names an alarmEmail', () => {
      // Act
      const none = synth.serviceTemplate.findResources('AWS::SNS::Subscription');
      const email = withEmail.serviceTemplate.findResources('AWS::SNS::Subscription');

      // Assess
      expect(none).toEqual({});
      expect(Object.values(email).map((subscription) => subscription.Properties)).toEqual([
        {
          Protocol: 'email',
          Endpoint: 'oncall@example.com',
          TopicArn: { Ref: logicalId(withEmail.service.observability.topic) },
        },
      ]);
    });
  });

  describe('alarms', () => {
    it('sends every alarm, and its recovery, to the topic, with a description that says what to do', () => {
      // Prepare
      const topic = { Ref: logicalId(observability().topic) };
      const alarms = synth.serviceTemplate.findResources('AWS::CloudWatch::Alarm');

      for (const [id, alarm] of Object.entries(alarms)) {
        // Act
        const properties = alarm.Properties;

        // Assess
        expect(properties.AlarmActions, id).toEqual([topic]);
        expect(properties.OKActions, id).toEqual([topic]);
        expect(properties.AlarmDescription.length, id).toBeGreaterThan(120);
        expect(properties, id).not.toHaveProperty('AlarmName');
      }
      expect(Object.keys(alarms).sort()).toEqual(
        allAlarms(observability().alarms)
          .map((alarm) => logicalId(alarm))
          .sort(),
      );
    });

    it('fires when a payment message has waited 6 hours, far inside its 7 days of retention', () => {
      // Act
      const alarm = alarmProperties(observability().alarms.paymentMessageAge);

      // Assess
      expect(alarm).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 6 * 3600,
      });
      const queue = propertiesOf(
        synth.serviceTemplate,
        synth.service.queues.get('paymentSubmission').queue,
      );
      expect(queue.MessageRetentionPeriod).toBe(7 * 24 * 3600);
    });

    it('fires again a day before a payment message waiting in a paused queue is deleted', () => {
      // Act
      const alarm = alarmProperties(observability().alarms.paymentMessageExpiring);
      const queue = synth.service.queues.get('paymentSubmission').queue;

      // Assess: on the same queue's oldest message, a day inside its retention, long after
      // PaymentMessageAge went into ALARM (and told once).
      const kept = propertiesOf(synth.serviceTemplate, queue).MessageRetentionPeriod as number;
      expect(alarm).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(queue), 'QueueName'] } },
        ],
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: kept - 24 * 3600,
      });
    });

    it('fires on a dead letter halfway through the time its DLQ is sure to keep it', () => {
      expect(synth.service.queues.all.size).toBeGreaterThan(0);
      for (const [name, { queue, deadLetterQueue }] of synth.service.queues.all) {
        // Prepare
        const kept = propertiesOf(synth.serviceTemplate, queue).MessageRetentionPeriod as number;
        const keptDead = propertiesOf(synth.serviceTemplate, deadLetterQueue)
          .MessageRetentionPeriod as number;
        const alarm = observability().alarms.deadLetterAge.get(name);

        // Act
        const properties = alarm && alarmProperties(alarm);

        // Assess
        expect(properties, name).toMatchObject({
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateAgeOfOldestMessage',
          Dimensions: [
            {
              Name: 'QueueName',
              Value: { 'Fn::GetAtt': [logicalId(deadLetterQueue), 'QueueName'] },
            },
          ],
          Statistic: 'Maximum',
          Period: FIVE_MINUTES,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        });
        // The DLQ's age counts from the move; what it keeps counts from the first send, which
        // was at most the queue's retention before the move.
        expect(properties?.Threshold, name).toBe((keptDead - kept) / 2);
        expect(String(properties?.AlarmDescription).length, name).toBeLessThanOrEqual(1024);
      }
    });

    it("fires when a payment message the sweep reads in the DLQ has 3.5 days left of SQS's 14", () => {
      // Act
      const properties = alarmProperties(observability().alarms.deadPaymentExpiring);

      // Assess: the sweep reads every dead message at least once in 12 hours (SQS's longest
      // hide), so the 12 hours' maximum sees them all.
      expect(properties).toMatchObject({
        ...customMetric('oldestDeadPaymentAge'),
        Statistic: 'Maximum',
        Period: 43_200,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 10.5 * 24 * 3600,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(String(properties.AlarmDescription).length).toBeLessThanOrEqual(1024);
    });

    it('gives the payment DLQ 3.5 days before its age alarm, and the others 5', () => {
      // Act
      const threshold = (name: QueueName) =>
        alarmProperties(observability().alarms.deadLetterAge.get(name) as Alarm).Threshold;

      // Assess
      expect(threshold('paymentSubmission')).toBe(3.5 * 24 * 3600);
      expect(threshold('settlementCheck')).toBe(5 * 24 * 3600);
      expect(threshold('notification')).toBe(5 * 24 * 3600);
    });

    it('fires on the first message in any dead-letter queue, shown or hidden by a reader', () => {
      expect(synth.service.queues.all.size).toBeGreaterThan(0);
      for (const [name, { deadLetterQueue }] of synth.service.queues.all) {
        // Act
        const alarm = observability().alarms.deadLetters.get(name);

        // Assess
        const depth = (metricName: string) => ({
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: metricName,
              Dimensions: [
                {
                  Name: 'QueueName',
                  Value: { 'Fn::GetAtt': [logicalId(deadLetterQueue), 'QueueName'] },
                },
              ],
            },
            Period: 300,
            Stat: 'Maximum',
          },
          ReturnData: false,
        });
        const properties = alarm && alarmProperties(alarm);
        expect(properties, name).toMatchObject({
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          Threshold: 1,
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        });
        expect(properties?.Metrics, name).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ Expression: `${name}Visible + ${name}Hidden` }),
            { Id: `${name}Visible`, ...depth('ApproximateNumberOfMessagesVisible') },
            { Id: `${name}Hidden`, ...depth('ApproximateNumberOfMessagesNotVisible') },
          ]),
        );
      }
    });

    it('fires when half the gateway charges in five minutes fail, counting only real failures', () => {
      // Act
      const properties = alarmProperties(observability().alarms.gatewayErrorRate);
      const queries = properties.Metrics as {
        Id: string;
        Expression?: string;
        ReturnData?: boolean;
        MetricStat?: { Metric: { MetricName: string }; Period: number; Stat: string };
      }[];
      const query = (id: string) => queries.find((candidate) => candidate.Id === id);
      const summed = (id: string) =>
        [...(query(id)?.Expression ?? '').matchAll(/FILL\((\w+), 0\)/g)]
          .map(([, metric]) => query(metric ?? '')?.MetricStat?.Metric.MetricName)
          .sort();
      const rate = queries.find((candidate) => candidate.ReturnData !== false);

      // Assess
      expect(properties).toMatchObject({
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 50,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(rate?.Expression).toBe(
        `IF(failures + answers >= ${alarmThresholds.gatewayErrorRateMinimumCalls}, ` +
          '100 * failures / (failures + answers), 0)',
      );
      expect(summed('failures')).toEqual([
        'Gateway_charge_throttled',
        'Gateway_charge_unavailable',
        'Gateway_charge_unknown',
      ]);
      expect(summed('answers')).toEqual([
        'Gateway_charge_declined',
        'Gateway_charge_pending',
        'Gateway_charge_succeeded',
      ]);
      for (const name of [...gatewayFailures, ...gatewayAnswers]) {
        expect(query(name)?.MetricStat, name).toEqual({
          Metric: customMetric(name),
          Period: FIVE_MINUTES,
          Stat: 'Sum',
        });
      }
    });

    it('fires on the pipeline events that need a person, at the documented thresholds', () => {
      // Prepare
      const { alarms } = observability();
      const expected: [Alarm, PipelineMetric, number][] = [
        [alarms.riskCheckBypassed, 'riskCheckBypassed', 5],
        [alarms.ordersPastDeadline, 'ordersPastDeadline', 1],
        [alarms.lateSuccessRefund, 'lateSuccessRefund', 1],
        [alarms.settlementAmountMismatch, 'settlementAmountMismatch', 1],
        [alarms.refundRejected, 'refundRejected', 1],
        [alarms.foreignRefund, 'foreignRefund', 1],
        [alarms.refundFailed, 'refundFailed', 1],
        [alarms.gatewayMisconfigured, 'chargeMisconfigured', 1],
        [alarms.redriveLimitReached, 'redriveLimitReached', 1],
        [alarms.paymentWindowExpired, 'paymentWindowExpired', 1],
      ];

      for (const [alarm, metric, threshold] of expected) {
        // Act
        const properties = alarmProperties(alarm);

        // Assess
        expect(properties, metric).toMatchObject({
          ...customMetric(metric),
          Statistic: 'Sum',
          Period: FIVE_MINUTES,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          Threshold: threshold,
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        });
      }
      expect(alarmThresholds.riskCheckBypassed).toBe(5);
    });

    it('fires at once on the first risk check the engine refused (AuthFailure, parameters)', () => {
      // Act
      const properties = alarmProperties(observability().alarms.riskCheckRefused);

      // Assess
      expect(properties).toMatchObject({
        ...customMetric('riskCheckRefused'),
        Statistic: 'Sum',
        Period: 60,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(properties.AlarmActions).toHaveLength(1);
    });

    it('fires on any error or throttle of any function', () => {
      for (const name of Object.keys(functions)) {
        // Prepare
        const fn = { Ref: logicalId(synth.service.functions.get(name)) };

        for (const [metric, alarm] of [
          ['Errors', observability().alarms.functionErrors.get(name)],
          ['Throttles', observability().alarms.functionThrottles.get(name)],
        ] as const) {
          // Act
          const properties = alarm && alarmProperties(alarm);

          // Assess
          expect(properties, `${name} ${metric}`).toMatchObject({
            Namespace: 'AWS/Lambda',
            MetricName: metric,
            Dimensions: [{ Name: 'FunctionName', Value: fn }],
            Statistic: 'Sum',
            ComparisonOperator: 'GreaterThanOrEqualToThreshold',
            Threshold: 1,
            TreatMissingData: 'notBreaching',
          });
        }
      }
    });

    it('fires on any 5xx answer of the HTTP API', () => {
      // Act
      const properties = alarmProperties(observability().alarms.apiServerErrors);

      // Assess
      expect(properties).toMatchObject({
        Namespace: 'AWS/ApiGateway',
        MetricName: '5xx',
        Dimensions: expect.arrayContaining([
          { Name: 'ApiId', Value: { Ref: logicalId(synth.service.httpApi.api) } },
          { Name: 'Stage', Value: '$default' },
        ]),
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        TreatMissingData: 'notBreaching',
      });
    });

    it('fires when a scheduled function misses its runs, counting no data as missed', () => {
      const scheduled = Object.entries(functions).filter(([, spec]) => spec.schedule);
      expect(scheduled.length).toBeGreaterThan(0);
      for (const [name, spec] of scheduled) {
        // Act
        const alarm = observability().alarms.scheduleMissed.get(name);

        // Assess
        expect(alarm && alarmProperties(alarm), name).toMatchObject({
          Namespace: 'AWS/Lambda',
          MetricName: 'Invocations',
          Dimensions: [
            { Name: 'FunctionName', Value: { Ref: logicalId(synth.service.functions.get(name)) } },
          ],
          Period: (spec.schedule?.rateMinutes ?? 0) * 60,
          ComparisonOperator: 'LessThanThreshold',
          Threshold: 1,
          EvaluationPeriods: alarmThresholds.missedScheduledRuns,
          TreatMissingData: 'breaching',
        });
      }
    });
  });

  describe('metric names', () => {
    it('watches the namespace and service every function publishes its metrics under', () => {
      for (const [name, spec] of Object.entries(functions)) {
        expect(spec.environment.POWERTOOLS_METRICS_NAMESPACE, name).toBe(pipelineMetrics.namespace);
        expect(spec.environment.POWERTOOLS_SERVICE_NAME, name).toBe(wiring.service);
      }
    });
  });

  describe('dashboard', () => {
    /** The dashboard body with its references written out as JSON, to search in. */
    function dashboardBody(): string {
      const properties = propertiesOf(synth.serviceTemplate, observability().dashboard);
      const body = properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
      return body['Fn::Join'][1]
        .map((part) => (typeof part === 'string' ? part : JSON.stringify(part)))
        .join('');
    }

    it('shows orders, gateway outcomes and latency, breaker, risk bypasses and stuck orders', () => {
      // Prepare
      const body = dashboardBody();
      const shown: PipelineMetric[] = [
        'orderPlaced',
        'chargeSucceeded',
        ...gatewayAnswers,
        ...gatewayFailures,
        'gatewayLatency',
        'breakerOpen',
        'riskCheckBypassed',
        'riskCheckRefused',
        'ordersPastDeadline',
        'lateSuccessRefund',
        'settlementAmountMismatch',
        'refundRejected',
        'foreignRefund',
        'refundFailed',
        'redriveLimitReached',
        'paymentWindowExpired',
      ];

      for (const metric of shown) {
        // Assess
        expect(body, metric).toContain(
          `"${pipelineMetrics.namespace}","${pipelineMetrics.names[metric]}","${pipelineMetrics.serviceDimension}","${wiring.service}","${pipelineMetrics.stageDimension}","dev"`,
        );
      }
    });

    it('shows the depth of every dead-letter queue, hidden messages included', () => {
      const body = dashboardBody();
      for (const [name, { deadLetterQueue }] of synth.service.queues.all) {
        for (const metric of [
          'ApproximateNumberOfMessagesVisible',
          'ApproximateNumberOfMessagesNotVisible',
        ]) {
          expect(body, `${name} ${metric}`).toContain(
            `"AWS/SQS","${metric}","QueueName","${JSON.stringify({
              'Fn::GetAtt': [logicalId(deadLetterQueue), 'QueueName'],
            })}"`,
          );
        }
        expect(body, name).toContain(
          `"label":"${name} DLQ","expression":"${name}Visible + ${name}Hidden"`,
        );
      }
    });

    it('shows errors, throttles and duration of every function', () => {
      const body = dashboardBody();
      for (const name of Object.keys(functions)) {
        const fn = JSON.stringify({ Ref: logicalId(synth.service.functions.get(name)) });
        for (const metric of ['Errors', 'Throttles', 'Duration']) {
          expect(body, `${name} ${metric}`).toContain(
            `"AWS/Lambda","${metric}","FunctionName","${fn}"`,
          );
        }
      }
    });

    it('shows the API 4xx, 5xx and latency of the $default stage', () => {
      const body = dashboardBody();
      const api = JSON.stringify({ Ref: logicalId(synth.service.httpApi.api) });
      for (const metric of ['4xx', '5xx', 'Latency']) {
        expect(body, metric).toContain(
          `"AWS/ApiGateway","${metric}","ApiId","${api}","Stage","$default"`,
        );
      }
    });

    it('shows the state of every alarm', () => {
      const body = dashboardBody();
      for (const alarm of allAlarms(observability().alarms)) {
        expect(body).toContain(JSON.stringify({ 'Fn::GetAtt': [logicalId(alarm), 'Arn'] }));
      }
    });
  });
});
