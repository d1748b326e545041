import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alarmThresholds } from '../../infra/constructs/observability.ts';
import { WEBHOOKS_SCOPE, wiring } from '../../lambdas/shared/wiring.ts';
import {
  crossStackReference,
  logicalId,
  propertiesOf,
  removeAssembly,
  type Synthesized,
  synthesize,
  withoutBundling,
} from './synth.ts';

/** The user's notifications: the stream they are read from, their queue, alarms and routes. */
describe('notifications', () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize(withoutBundling);
  }, 120_000);

  afterAll(() => removeAssembly(synth.outdir));

  const mappingsOf = (name: string) =>
    Object.values(
      synth.serviceTemplate.findResources('AWS::Lambda::EventSourceMapping', {
        Properties: { FunctionName: { Ref: logicalId(synth.service.functions.get(name)) } },
      }),
    ).map((mapping) => mapping.Properties);
  const notification = () => synth.service.queues.get('notification');
  const arnOf = (construct: Parameters<typeof logicalId>[0]) => ({
    'Fn::GetAtt': [logicalId(construct), 'Arn'],
  });

  it("keeps every change of the table, with both images, in the table's stream", () => {
    // Act
    const table = propertiesOf(synth.statefulTemplate, synth.stateful.table);

    // Assess
    expect(table.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('fans out only order and agent changes, retrying, halving and then setting aside a failing one', () => {
    // Prepare
    const spec = wiring.functions.notificationFanOut.streams;

    // Act
    const mappings = mappingsOf('notificationFanOut');

    // Assess
    expect(mappings).toEqual([
      expect.objectContaining({
        EventSourceArn: crossStackReference(synth.stateful, synth.statefulTemplate, {
          'Fn::GetAtt': [logicalId(synth.stateful.table), 'StreamArn'],
        }),
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: spec.batchSize,
        MaximumBatchingWindowInSeconds: spec.maxBatchingWindowSeconds,
        MaximumRetryAttempts: spec.retryAttempts,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: {
          OnFailure: { Destination: arnOf(notification().deadLetterQueue) },
        },
        FilterCriteria: {
          Filters: [
            {
              Pattern: JSON.stringify({
                dynamodb: { Keys: { pk: { S: [{ prefix: 'ORDER#' }] } } },
              }),
            },
            {
              Pattern: JSON.stringify({
                dynamodb: { Keys: { pk: { S: [{ prefix: 'AGENT#' }] } } },
              }),
            },
          ],
        },
      }),
    ]);
  });

  it('delivers from the notification queue, reporting failures per message, and dead-letters after the wiring count', () => {
    // Act
    const mappings = mappingsOf('notificationDelivery');
    const queue = propertiesOf(synth.serviceTemplate, notification().queue);

    // Assess
    expect(mappings).toEqual([
      expect.objectContaining({
        EventSourceArn: arnOf(notification().queue),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      }),
    ]);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: arnOf(notification().deadLetterQueue),
      maxReceiveCount: wiring.queues.notification.maxReceiveCount,
    });
  });

  it('alarms on the first dead letter, on failing deliveries and on a lagging fan-out', () => {
    // Act
    const alarms = Object.values(synth.serviceTemplate.findResources('AWS::CloudWatch::Alarm')).map(
      (alarm) => JSON.stringify(alarm.Properties),
    );

    // Assess
    const deadLetters = alarms.find((alarm) => alarm.includes('A notification message failed'));
    expect(deadLetters).toContain(logicalId(notification().deadLetterQueue));
    expect(deadLetters).toContain('"Threshold":1');
    const rate = alarms.find((alarm) => alarm.includes('Webhook delivery failure rate'));
    expect(rate).toContain('NotificationRetryScheduled');
    expect(rate).toContain('NotificationMessageHandled');
    expect(rate).toContain(`"Threshold":${alarmThresholds.notificationFailureRatePercent}`);
    const lag = alarms.find((alarm) => alarm.includes('"MetricName":"IteratorAge"'));
    expect(lag).toContain(logicalId(synth.service.functions.get('notificationFanOut')));
    expect(lag).toContain(`"Threshold":${alarmThresholds.notificationLagMs}`);
  });

  it("lets only a token with the user's webhooks scope manage endpoints", () => {
    for (const routeKey of [
      'POST /v1/webhook-endpoints',
      'GET /v1/webhook-endpoints',
      'DELETE /v1/webhook-endpoints/{id}',
    ]) {
      // Act
      const [route] = Object.values(
        synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Route', {
          Properties: { RouteKey: routeKey },
        }),
      );

      // Assess: the stack's token authorizer applies the scopes the wiring names for the route.
      expect(route?.Properties.AuthorizationType, routeKey).toBe('CUSTOM');
      const [method, path] = routeKey.split(' ');
      const spec = wiring.functions.webhookEndpoints.routes.find(
        (candidate) => candidate.method === method && candidate.path === path,
      );
      expect(spec?.scopes, routeKey).toEqual([WEBHOOKS_SCOPE]);
    }
  });

  it('requires https endpoints in AWS', () => {
    expect(wiring.functions.webhookEndpoints.environment.WEBHOOK_URL_POLICY).toBe('https');
  });
});
