import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceStack } from '../../infra/service-stack.ts';
import { StatefulStack } from '../../infra/stateful-stack.ts';
import {
  type EventSourceSpec,
  type FunctionSpec,
  type Wiring,
  wiring,
} from '../../lambdas/shared/wiring.ts';
import {
  allowedActions,
  appWithProjectContext,
  crossStackReference,
  logicalId,
  onOwnLogGroup,
  onTableAndIndexes,
  removeAssembly,
  withoutBundling,
} from './synth.ts';

const fromSubmissionQueue: EventSourceSpec = {
  queue: 'paymentSubmission',
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxConcurrency: 5,
  reportBatchItemFailures: true,
};
const consumer: FunctionSpec = {
  entry: wiring.functions.orderIntake.entry,
  memoryMb: 256,
  timeoutSeconds: 30,
  environment: {},
  routes: [],
  table: { writes: [] },
  sendsTo: {},
  consumes: fromSubmissionQueue,
};
/** Two made-up consumers, so the event-source path is checked whatever the real wiring holds. */
const consumerWiring: Wiring = {
  ...wiring,
  functions: {
    submitter: consumer,
    batcher: {
      ...consumer,
      table: 'none',
      consumes: {
        ...fromSubmissionQueue,
        batchSize: 50,
        maxBatchingWindowSeconds: 5,
        maxConcurrency: 2,
      },
    },
  },
};

describe('queue consumers', () => {
  let stateful: StatefulStack;
  let service: ServiceStack;
  let statefulTemplate: Template;
  let template: Template;
  let outdir: string;

  beforeAll(() => {
    const app = appWithProjectContext(withoutBundling);
    stateful = new StatefulStack(app, 'Stateful', { stage: 'test', table: wiring.table });
    service = new ServiceStack(app, 'Service', {
      wiring: consumerWiring,
      table: stateful.table,
      secrets: stateful.secrets,
      secretsKey: stateful.secretsKey,
      endpoints: { paymentGateway: 'https://gateway.test/', riskEngine: 'https://risk.test/' },
      identity: {
        kind: 'oidc',
        issuer: 'https://issuer.test/',
        audience: 'autopay-test',
        userIdClaim: 'sub',
      },
      logRetention: RetentionDays.ONE_MONTH,
      apiThrottle: { rateLimit: 50, burstLimit: 100 },
      stage: 'test',
      settingOverrides: {},
      rotation: false,
    });
    statefulTemplate = Template.fromStack(stateful);
    template = Template.fromStack(service);
    outdir = app.outdir;
  }, 120_000);

  afterAll(() => removeAssembly(outdir));

  function eventSourceMappingOf(name: string) {
    const mappings = template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { FunctionName: { Ref: logicalId(service.functions.get(name)) } },
    });
    return Object.values(mappings).map((mapping) => mapping.Properties);
  }

  it('polls the wiring queue with its batch size and concurrency, reporting partial failures', () => {
    // Prepare
    const queueArn = {
      'Fn::GetAtt': [logicalId(service.queues.get('paymentSubmission').queue), 'Arn'],
    };

    // Act
    const mappings = eventSourceMappingOf('submitter');

    // Assess
    expect(mappings).toEqual([
      expect.objectContaining({
        EventSourceArn: queueArn,
        BatchSize: 10,
        ScalingConfig: { MaximumConcurrency: 5 },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      }),
    ]);
    expect(mappings[0]).not.toHaveProperty('MaximumBatchingWindowInSeconds');
  });

  it('waits to fill a batch only when the wiring sets a batching window', () => {
    // Act
    const mappings = eventSourceMappingOf('batcher');

    // Assess
    expect(mappings).toEqual([
      expect.objectContaining({ BatchSize: 50, MaximumBatchingWindowInSeconds: 5 }),
    ]);
  });

  it('lets a consumer take messages off its queue and a read-only function only read the table', () => {
    // Prepare
    const fn = service.functions.get('submitter');
    const tableArn = crossStackReference(stateful, statefulTemplate, {
      'Fn::GetAtt': [logicalId(stateful.table), 'Arn'],
    });
    const queueArn = JSON.stringify({
      'Fn::GetAtt': [logicalId(service.queues.get('paymentSubmission').queue), 'Arn'],
    });
    const expected = [
      ...onTableAndIndexes(
        [
          'dynamodb:BatchGetItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:DescribeTable',
          'dynamodb:GetItem',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:Query',
          'dynamodb:Scan',
        ],
        tableArn,
      ),
      ...[
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
      ].map((action) => `${action} on ${queueArn}`),
      ...onOwnLogGroup(fn),
      ...['xray:PutTelemetryRecords', 'xray:PutTraceSegments'].map((action) => `${action} on "*"`),
    ].sort();

    // Act
    const actions = allowedActions(template, fn);

    // Assess
    expect(actions).toEqual(expected);
  });

  it('grants no table access to a function whose wiring says none', () => {
    // Prepare
    const fn = service.functions.get('batcher');

    // Act
    const actions = allowedActions(template, fn);

    // Assess
    expect(actions.filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
  });
});
