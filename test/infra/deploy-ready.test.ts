import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cdkJson from '../../cdk.json' with { type: 'json' };
import { ServicePermissionsNameTheAccount } from '../../infra/deploy-guards.ts';
import { stageSettingsFromContext } from '../../infra/stages.ts';
import { stageVariable } from '../../lambdas/shared/function-environment.ts';
import { metricNamespace, stageDimension } from '../../lambdas/shared/metric-names.ts';
import {
  functionSpecs,
  reservedConcurrencyOfStage,
  stackOutputs,
  wiring,
} from '../../lambdas/shared/wiring.ts';
import { requiredBootstrapVersion } from '../../ops/preflight.ts';
import {
  appWithProjectContext,
  logicalId,
  prodContext,
  propertiesOf,
  removeAssembly,
  type Synthesized,
  synthesize,
  type TemplateResource,
  withoutBundling,
} from './synth.ts';

/*
 * What `cdk synth` accepts but a first deploy, or a real incident, would show wrong: each property
 * read on the prod template, as CloudFormation and the services behind it will read it.
 */

type Resources = Record<string, TemplateResource & { DependsOn?: string[] }>;

const resourcesOf = (synth: Synthesized, which: 'service' | 'stateful' = 'service') =>
  (which === 'service' ? synth.serviceTemplate : synth.statefulTemplate).toJSON()
    .Resources as Resources;

const ofType = (resources: Resources, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

const accountRef = { Ref: 'AWS::AccountId' };
/** Built from AWS::AccountId, or a resource of this stack or an export of this account. */
const namesAccount = (value: unknown) =>
  /"Ref":"AWS::AccountId"|"Ref":"(?!AWS::)|"Fn::GetAtt"|"Fn::ImportValue"/.test(
    JSON.stringify(value),
  );

describe('a prod deploy, as CloudFormation will run it', () => {
  let prod: Synthesized;
  let prodRotating: Synthesized;
  let dev: Synthesized;

  beforeAll(() => {
    prod = synthesize({ ...withoutBundling, ...prodContext });
    // A Stripe stage has no rotation schedules (its keys are rolled in Stripe's dashboard), so
    // the rotation rules are read on a prod stage paying through the simulator's protocol.
    prodRotating = synthesize({
      ...withoutBundling,
      ...prodContext,
      gatewayName: 'simulator',
      rotation: 'on',
    });
    dev = synthesize(withoutBundling);
  }, 180_000);

  afterAll(() => {
    for (const synth of [prod, prodRotating, dev]) removeAssembly(synth.outdir);
  });

  describe('1. a new stage deploys before any real key exists', () => {
    it('creates no rotation schedule until the context says rotation=on', () => {
      expect(ofType(resourcesOf(prod), 'AWS::SecretsManager::RotationSchedule')).toEqual([]);
      expect(ofType(resourcesOf(dev), 'AWS::SecretsManager::RotationSchedule')).toEqual([]);
    });

    it('with rotation=on, schedules every rotated secret without rotating it at once', () => {
      // Act
      const schedules = ofType(resourcesOf(prodRotating), 'AWS::SecretsManager::RotationSchedule');

      // Assess
      const rotated = Object.values(functionSpecs).flatMap((spec) => spec.rotates ?? []);
      expect(schedules).toHaveLength(rotated.length);
      for (const [id, schedule] of schedules) {
        expect(schedule.Properties?.RotateImmediatelyOnUpdate, id).toBe(false);
      }
    });

    it('lets Secrets Manager invoke the rotation function before any schedule exists', () => {
      // Prepare
      const resources = resourcesOf(prodRotating);
      const invokedBySecretsManager = ofType(resources, 'AWS::Lambda::Permission')
        .filter(
          ([, permission]) => permission.Properties?.Principal === 'secretsmanager.amazonaws.com',
        )
        .map(([id]) => id);

      // Assess
      expect(invokedBySecretsManager.length).toBeGreaterThan(0);
      for (const [id, schedule] of ofType(resources, 'AWS::SecretsManager::RotationSchedule')) {
        expect(schedule.DependsOn, id).toEqual(expect.arrayContaining(invokedBySecretsManager));
      }
    });

    it('refuses a rotation switch that is neither on nor off', () => {
      const app = appWithProjectContext({ rotation: 'yes' });
      expect(() => stageSettingsFromContext(app.node)).toThrow(
        "Context 'rotation' must be 'on' or 'off', got 'yes'",
      );
    });
  });

  describe('2. each stage is its own world', () => {
    it('gives every function its stage, the dimension its metrics carry', () => {
      for (const [name, fn] of prod.service.functions.all) {
        const variables = (
          propertiesOf(prod.serviceTemplate, fn).Environment as {
            Variables: Record<string, unknown>;
          }
        ).Variables;
        expect(variables[stageVariable], name).toBe('prod');
      }
    });

    it('has every alarm watch only metrics of its own stage', () => {
      // Act
      const alarms = ofType(resourcesOf(prod), 'AWS::CloudWatch::Alarm');

      // Assess
      expect(alarms.length).toBeGreaterThan(0);
      for (const [id, alarm] of alarms) {
        const metrics = alarmMetrics(alarm.Properties ?? {});
        expect(metrics.length, id).toBeGreaterThan(0);
        for (const metric of metrics) {
          expect(isStageOwn(metric, 'prod'), `${id}: ${JSON.stringify(metric)}`).toBe(true);
        }
      }
    });

    it('has every dashboard widget read only metrics of its own stage', () => {
      // Act
      const [[, dashboard] = ['', undefined]] = ofType(
        resourcesOf(prod),
        'AWS::CloudWatch::Dashboard',
      );
      const body = renderedBody(dashboard?.Properties?.DashboardBody);

      // Assess
      const custom = body.filter((line) => line[0] === metricNamespace);
      expect(custom.length).toBeGreaterThan(0);
      for (const line of custom) {
        expect(line, JSON.stringify(line)).toEqual(
          expect.arrayContaining([stageDimension, 'prod']),
        );
      }
      for (const line of body.filter((entry) => entry[0] !== metricNamespace)) {
        // A platform metric is identified by a resource of this stack.
        expect(
          line.some((part) => typeof part === 'string' && part.startsWith(referenceMark)),
          JSON.stringify(line),
        ).toBe(true);
      }
    });

    it("names the gateway of every function from the stage's configuration", () => {
      const named = [...prod.service.functions.all].filter(
        ([name]) => 'GATEWAY_NAME' in (functionSpecs[name]?.environment ?? {}),
      );
      expect(named.length).toBeGreaterThan(0);
      for (const [name, fn] of named) {
        const variables = (
          propertiesOf(prod.serviceTemplate, fn).Environment as {
            Variables: Record<string, unknown>;
          }
        ).Variables;
        expect(variables.GATEWAY_NAME, name).toBe(prodContext.gatewayName);
      }
    });

    it('refuses a gateway name the callback path and the functions would not accept', () => {
      const app = appWithProjectContext({ gatewayName: 'Stripe Inc' });
      expect(() => stageSettingsFromContext(app.node)).toThrow(/Context 'gatewayName' must match/);
    });
  });

  describe('3. alarms reach a person', () => {
    it('refuses a stage other than dev without an alarm destination, naming both ways', () => {
      const { alarmEmail: _, ...withoutEmail } = prodContext;
      const app = appWithProjectContext(withoutEmail);
      expect(() => stageSettingsFromContext(app.node)).toThrow(
        "Stage 'prod' has no alarm destination: set alarmEmail (-c alarmEmail=oncall@...) or " +
          'alarmTopicArn (-c alarmTopicArn=arn:aws:sns:<region>:<account>:<topic>), or its ' +
          'alarms reach nobody.',
      );
    });

    it('subscribes the alarm email in prod', () => {
      prod.serviceTemplate.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: prodContext.alarmEmail,
      });
    });

    it('has every alarm notify an SNS topic given by ARN, when raised and when cleared', () => {
      // Prepare
      const topicArn = 'arn:aws:sns:eu-west-1:111122223333:pager';
      const { alarmEmail: _, ...withoutEmail } = prodContext;

      // Act
      const paged = synthesize({ ...withoutBundling, ...withoutEmail, alarmTopicArn: topicArn });

      // Assess
      try {
        const alarms = ofType(resourcesOf(paged), 'AWS::CloudWatch::Alarm');
        expect(alarms.length).toBeGreaterThan(0);
        for (const [id, alarm] of alarms) {
          expect(alarm.Properties?.AlarmActions, id).toContain(topicArn);
          expect(alarm.Properties?.OKActions, id).toContain(topicArn);
        }
      } finally {
        removeAssembly(paged.outdir);
      }
    });

    it('refuses an alarm topic ARN that is not an SNS topic', () => {
      const app = appWithProjectContext({ alarmTopicArn: 'arn:aws:sqs:eu-west-1:111122223333:q' });
      expect(() => stageSettingsFromContext(app.node)).toThrow(/alarmTopicArn' must be an SNS/);
    });
  });

  describe('4. no confused deputy', () => {
    it('ties every function permission for an AWS service to this account and its source', () => {
      for (const synth of [prod, prodRotating]) {
        // Act
        const permissions = ofType(resourcesOf(synth), 'AWS::Lambda::Permission').filter(
          ([, permission]) => String(permission.Properties?.Principal).endsWith('.amazonaws.com'),
        );

        // Assess
        expect(permissions.length).toBeGreaterThan(0);
        for (const [id, { Properties: properties = {} }] of permissions) {
          const { SourceAccount: account, SourceArn: arn, Principal: principal } = properties;
          expect(account === undefined ? namesAccount(arn) : account, id).toEqual(
            account === undefined ? true : accountRef,
          );
          // AWS advises SourceAccount alone for a rotation function that rotates several secrets.
          if (principal !== 'secretsmanager.amazonaws.com') {
            expect(arn, id).toBeDefined();
          }
        }
      }
    });

    it('conditions the rotation and the sweep schedule on the source account', () => {
      // Prepare
      const permissions = ofType(resourcesOf(prodRotating), 'AWS::Lambda::Permission').map(
        ([, permission]) => permission.Properties ?? {},
      );
      const sweepRule = logicalId(prodRotating.service.functions.node.findChild('sweepSchedule'));

      // Assess
      expect(permissions).toContainEqual(
        expect.objectContaining({
          Principal: 'secretsmanager.amazonaws.com',
          SourceAccount: accountRef,
        }),
      );
      expect(permissions).toContainEqual(
        expect.objectContaining({
          Principal: 'events.amazonaws.com',
          SourceAccount: accountRef,
          SourceArn: { 'Fn::GetAtt': [sweepRule, 'Arn'] },
        }),
      );
    });

    it('conditions every resource policy statement for an AWS service on account and ARN', () => {
      for (const which of ['service', 'stateful'] as const) {
        // Act
        const statements = Object.entries(resourcesOf(prod, which)).flatMap(([id, resource]) =>
          policyStatements(resource).map((statement) => ({ id, statement })),
        );
        const forServices = statements.filter(
          ({ statement }) =>
            statement.Effect === 'Allow' &&
            (statement.Principal as { Service?: unknown } | undefined)?.Service !== undefined,
        );

        // Assess
        if (which === 'service') expect(forServices.length).toBeGreaterThan(0);
        for (const { id, statement } of forServices) {
          const condition = JSON.stringify(statement.Condition ?? {});
          expect(condition, id).toContain('"aws:SourceAccount"');
          expect(condition, id).toContain('"aws:SourceArn"');
        }
      }
    });
  });

  describe('4. the guard on every service permission, whoever adds it', () => {
    const permissionFor = (principal: string, sourceArn?: (stack: Stack) => string) => {
      const stack = new Stack(new App(), 'Guarded');
      const fn = new lambda.Function(stack, 'Fn', {
        runtime: lambda.Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('export const handler = async () => {};'),
      });
      fn.addPermission('Invoked', {
        principal: new iam.ServicePrincipal(principal),
        ...(sourceArn ? { sourceArn: sourceArn(stack) } : {}),
      });
      const permission = fn.node.findChild('Invoked') as lambda.CfnPermission;
      new ServicePermissionsNameTheAccount().visit(permission);
      return { stack, permission };
    };

    it('fails the synth on a service permission that names neither account nor source', () => {
      // Act
      const { stack } = permissionFor('sns.amazonaws.com');

      // Assess
      Annotations.fromStack(stack).hasError(
        '*',
        Match.stringLikeRegexp('names neither a SourceAccount nor a SourceArn'),
      );
    });

    it('fails it on a source written out in another account', () => {
      // Act
      const { stack } = permissionFor(
        'sns.amazonaws.com',
        () => 'arn:aws:sns:eu-west-1:111122223333:someone-elses',
      );

      // Assess
      Annotations.fromStack(stack).hasError('*', Match.stringLikeRegexp('names neither'));
    });

    it('accepts a source that is a resource of the stack, as a user pool trigger has', () => {
      // Act
      const { stack } = permissionFor(
        'cognito-idp.amazonaws.com',
        (scope) => new sqs.Queue(scope, 'Source').queueArn,
      );

      // Assess
      Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
    });

    it('adds the account to a service that passes it', () => {
      // Act
      const { stack, permission } = permissionFor('events.amazonaws.com');

      // Assess
      expect(stack.resolve(permission.sourceAccount)).toEqual(accountRef);
      Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
    });
  });

  describe('5. cross-stack references', () => {
    it('imports exports of the stateful stack and reads no stack output at deploy time', () => {
      // Prepare
      const service = JSON.stringify(prod.serviceTemplate.toJSON());
      const exports = Object.values(
        prod.statefulTemplate.toJSON().Outputs as Record<string, { Export?: { Name: string } }>,
      ).flatMap((output) => (output.Export ? [output.Export.Name] : []));

      // Act
      const imported = [...service.matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1]);

      // Assess
      expect(service).not.toContain('Fn::GetStackOutput');
      expect(imported.length).toBeGreaterThan(0);
      for (const name of imported) {
        expect(exports, name).toContain(name);
      }
    });

    it('is set so in cdk.json, which every stage reads', () => {
      expect(cdkJson.context['@aws-cdk/core:defaultCrossStackReferences']).toBe('strong');
    });
  });

  describe('6. the webhook cannot starve the API, nor cost what a flood of it asks', () => {
    it('takes the gateway callbacks at a function URL open to anyone, not on the HTTP API', () => {
      // Prepare
      const callback = prod.service.functions.get('settlementCallback');
      const ofKind = (type: string) =>
        ofType(resourcesOf(prod), type).map(([, resource]) => resource);

      // Act
      const urls = ofKind('AWS::Lambda::Url').map((url) => url.Properties ?? {});
      const routeKeys = ofKind('AWS::ApiGatewayV2::Route').map((route) =>
        String(route.Properties?.RouteKey),
      );
      const permissions = ofKind('AWS::Lambda::Permission')
        .map((permission) => permission.Properties ?? {})
        .filter((permission) =>
          JSON.stringify(permission.FunctionName).includes(logicalId(callback)),
        );

      // Assess
      expect(urls).toEqual([
        { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [logicalId(callback), 'Arn'] } },
      ]);
      // Both actions, as Lambda requires of a function URL's callers (AuthType NONE: anyone).
      expect(permissions).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Action: 'lambda:InvokeFunctionUrl',
            Principal: '*',
            FunctionUrlAuthType: 'NONE',
          }),
          expect.objectContaining({
            Action: 'lambda:InvokeFunction',
            Principal: '*',
            InvokedViaFunctionUrl: true,
          }),
        ]),
      );
      expect(routeKeys.length).toBeGreaterThan(0);
      expect(routeKeys.filter((key) => key.includes('/v1/callbacks'))).toEqual([]);
      expect(prod.service.httpApi.unauthenticatedRoutes).toEqual([]);
    });

    it('publishes the callback URL the gateway is given, with the stage’s gateway in its path', () => {
      // Act
      const output = (
        prod.serviceTemplate.toJSON() as { Outputs: Record<string, { Value: unknown }> }
      ).Outputs[stackOutputs.callbackUrl];
      const url = prod.service.functions.urls.get('settlementCallback');

      // Assess
      expect(url).toBeDefined();
      if (url === undefined) return;
      // The URL ends with a slash: the path follows it.
      expect(output?.Value).toEqual({
        'Fn::Join': [
          '',
          [
            { 'Fn::GetAtt': [logicalId(url), 'FunctionUrl'] },
            `v1/callbacks/${prodContext.gatewayName}`,
          ],
        ],
      });
    });

    it('bounds the callback function by its own reserved concurrency', () => {
      // Act
      const reserved = propertiesOf(
        prod.serviceTemplate,
        prod.service.functions.get('settlementCallback'),
      ).ReservedConcurrentExecutions;

      // Assess
      expect(reserved).toBe(wiring.functions.settlementCallback.reservedConcurrency);
      expect(reserved).toBeGreaterThan(0);
    });

    it('reserves concurrency for order intake, and only what the wiring says', () => {
      // Act
      const reserved = Object.fromEntries(
        [...prod.service.functions.all].map(([name, fn]) => [
          name,
          propertiesOf(prod.serviceTemplate, fn).ReservedConcurrentExecutions,
        ]),
      );

      // Assess
      expect(reserved.orderIntake).toBe(wiring.functions.orderIntake.reservedConcurrency);
      expect(reserved.settlementCallback).toBe(
        wiring.functions.settlementCallback.reservedConcurrency,
      );
      expect(reserved.orderIntake).toBeGreaterThan(0);
      const total = Object.values(reserved).reduce<number>(
        (sum, value) => sum + (typeof value === 'number' ? value : 0),
        0,
      );
      expect(total).toBe(reservedConcurrencyOfStage());
    });
  });

  describe('7. nothing in flight is lost by a replacement', () => {
    it('retains every queue of prod on deletion and on replacement', () => {
      const queues = ofType(resourcesOf(prod), 'AWS::SQS::Queue');
      expect(queues.length).toBeGreaterThanOrEqual(2 * Object.keys(wiring.queues).length);
      for (const [id, queue] of queues) {
        expect([queue.DeletionPolicy, queue.UpdateReplacePolicy], id).toEqual(['Retain', 'Retain']);
      }
    });

    it('deletes the queues of dev with its stack', () => {
      for (const [id, queue] of ofType(resourcesOf(dev), 'AWS::SQS::Queue')) {
        expect(queue.DeletionPolicy, id).toBe('Delete');
      }
    });

    it('keeps the secrets and the table in every stage, as before', () => {
      for (const [id, resource] of Object.entries(resourcesOf(prod, 'stateful'))) {
        if (['AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret'].includes(resource.Type)) {
          expect(resource.DeletionPolicy, id).toBe('Retain');
        }
      }
    });
  });

  describe('8. preflight checks what the templates require', () => {
    it('asks for the bootstrap version the templates refuse to deploy without', () => {
      for (const template of [prod.serviceTemplate, prod.statefulTemplate]) {
        // Act
        const rules = template.toJSON().Rules as Record<string, { Assertions: unknown[] }>;
        const refused = JSON.stringify(rules.CheckBootstrapVersion?.Assertions);

        // Assess
        const below = Array.from({ length: requiredBootstrapVersion - 1 }, (_, i) => String(i + 1));
        expect(refused).toContain(JSON.stringify(below));
      }
    });
  });
});

/** Every metric an alarm reads: its own, or those of its metric math. */
function alarmMetrics(properties: Record<string, unknown>): Record<string, unknown>[] {
  if (properties.MetricName) {
    return [
      {
        Namespace: properties.Namespace,
        MetricName: properties.MetricName,
        Dimensions: properties.Dimensions,
      },
    ];
  }
  return (
    (properties.Metrics ?? []) as { MetricStat?: { Metric: Record<string, unknown> } }[]
  ).flatMap((query) => (query.MetricStat ? [query.MetricStat.Metric] : []));
}

/**
 * A metric of this stage alone: a custom metric with the stage's dimension, or a platform metric
 * identified by a resource of this stack (a function, a queue, the API).
 */
function isStageOwn(metric: Record<string, unknown>, stage: string): boolean {
  const dimensions = (metric.Dimensions ?? []) as { Name: string; Value: unknown }[];
  if (metric.Namespace === metricNamespace) {
    return dimensions.some(({ Name, Value }) => Name === stageDimension && Value === stage);
  }
  return dimensions.some(({ Value }) => typeof Value === 'object' && Value !== null);
}

const referenceMark = '<ref>';

/** The dashboard's metric lines, with every CloudFormation reference replaced by a mark. */
function renderedBody(body: unknown): unknown[][] {
  const join = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = join[1]
    .map((part) =>
      typeof part === 'string' ? part : `${referenceMark}${JSON.stringify(part).length}`,
    )
    .join(join[0]);
  const widgets = (JSON.parse(text) as { widgets: { properties: { metrics?: unknown[][] } }[] })
    .widgets;
  return widgets.flatMap((widget) =>
    (widget.properties.metrics ?? []).filter(
      (line) => typeof line[0] === 'string' && !String(line[0]).startsWith('...'),
    ),
  );
}

/** The statements of a resource policy (key, topic, queue, secret policies). */
function policyStatements(resource: TemplateResource): Record<string, unknown>[] {
  const properties = resource.Properties ?? {};
  const document = (properties.KeyPolicy ?? properties.PolicyDocument) as
    | { Statement?: Record<string, unknown>[] }
    | undefined;
  const isResourcePolicy = [
    'AWS::KMS::Key',
    'AWS::SNS::TopicPolicy',
    'AWS::SQS::QueuePolicy',
    'AWS::SecretsManager::ResourcePolicy',
    'AWS::Events::EventBusPolicy',
  ].includes(resource.Type);
  return isResourcePolicy ? (document?.Statement ?? []) : [];
}
