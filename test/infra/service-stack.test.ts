import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cdkJson from '../../cdk.json' with { type: 'json' };
import { powertoolsLayerParameter, powertoolsVersion } from '../../infra/bundling.ts';
import {
  type BoundResources,
  functionEnvironment,
} from '../../lambdas/shared/function-environment.ts';
import {
  AGENT_SCOPE,
  CONFIRM_SCOPE,
  type QueueName,
  queueNames,
  queueVariables,
  REFUND_SCOPE,
  secretNames,
  stackOutputs,
  type Wiring,
  wiring,
} from '../../lambdas/shared/wiring.ts';
import packageJson from '../../package.json' with { type: 'json' };
import {
  allowedActions,
  crossStackReference,
  logicalId,
  onOwnLogGroup,
  onTableAndIndexes,
  propertiesOf,
  removeAssembly,
  type Synthesized,
  synthesize,
} from './synth.ts';

/** Widened so the checks below also cover what future wiring entries may declare. */
const functions: Wiring['functions'] = wiring.functions;

const DAY_SECONDS = 24 * 60 * 60;

/** What `grantReadData` allows on a table and its indexes. */
const tableReadActions = [
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:Query',
  'dynamodb:Scan',
];

/** Writes, on the table alone (their key prefixes are test/infra/least-privilege.test.ts's). */
const onTableWrites = (tableArn: unknown) =>
  ['dynamodb:PutItem', 'dynamodb:UpdateItem'].map(
    (action) => `${action} on ${JSON.stringify(tableArn)}`,
  );

describe('ServiceStack', () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize({
      jwtIssuer: 'https://issuer.test/',
      jwtAudience: 'autopay-test',
      rotation: 'on',
    });
  }, 120_000);

  afterAll(() => removeAssembly(synth.outdir));

  /** A file of the function's bundle, as CDK wrote it into the cloud assembly. */
  const bundleFile = (name: string, file: string) => {
    const asset = synth.service.functions.get(name).node.findChild('Code') as Asset;
    return readFileSync(path.join(synth.outdir, asset.assetPath, file), 'utf8');
  };

  describe('queues', () => {
    it('moves a message to its dead-letter queue after the wiring maxReceiveCount', () => {
      for (const [name, { queue, deadLetterQueue }] of synth.service.queues.all) {
        // Act
        const properties = propertiesOf(synth.serviceTemplate, queue);

        // Assess
        expect(properties.RedrivePolicy, name).toEqual({
          deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(deadLetterQueue), 'Arn'] },
          maxReceiveCount: wiring.queues[name].maxReceiveCount,
        });
      }
    });

    it('keeps dead letters for 14 days', () => {
      for (const [name, { deadLetterQueue }] of synth.service.queues.all) {
        // Act
        const properties = propertiesOf(synth.serviceTemplate, deadLetterQueue);

        // Assess
        expect(properties.MessageRetentionPeriod, name).toBe(14 * DAY_SECONDS);
      }
    });

    it('keeps a dead letter longer than its queue keeps the message, as SQS counts from its first send', () => {
      for (const [name, { queue, deadLetterQueue }] of synth.service.queues.all) {
        // Act
        const kept = propertiesOf(synth.serviceTemplate, queue).MessageRetentionPeriod;
        const keptDead = propertiesOf(
          synth.serviceTemplate,
          deadLetterQueue,
        ).MessageRetentionPeriod;

        // Assess
        expect(kept, name).toBe(wiring.queues[name].retentionDays * DAY_SECONDS);
        expect(keptDead, name).toBeGreaterThan(kept as number);
        expect(keptDead, name).toBeLessThanOrEqual(14 * DAY_SECONDS);
      }
    });

    it('keeps a paused payment message through a week-long pause', () => {
      // Act
      const payment = synth.service.queues.get('paymentSubmission');
      const kept = propertiesOf(synth.serviceTemplate, payment.queue).MessageRetentionPeriod;

      // Assess
      expect(kept).toBe(7 * DAY_SECONDS);
    });

    it('encrypts every queue and refuses it any request not over TLS', () => {
      // Prepare
      const queues = synth.serviceTemplate.findResources('AWS::SQS::Queue');
      const policies = Object.values(synth.serviceTemplate.findResources('AWS::SQS::QueuePolicy'));

      for (const [id, queue] of Object.entries(queues)) {
        // Act
        const policy = policies.find(
          (candidate) =>
            JSON.stringify(candidate.Properties.Queues) === JSON.stringify([{ Ref: id }]),
        );

        // Assess
        expect(queue.Properties.SqsManagedSseEnabled, id).toBe(true);
        expect(policy?.Properties.PolicyDocument.Statement, id).toContainEqual(
          expect.objectContaining({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        );
      }
    });

    it('hides a message from other consumers for at least six times its consumer timeout', () => {
      for (const [name, spec] of Object.entries(functions)) {
        if (!spec.consumes) {
          continue;
        }
        // Prepare
        const { queue } = synth.service.queues.get(spec.consumes.queue);
        const fn = synth.service.functions.get(name);

        // Act
        const visibilityTimeout = propertiesOf(synth.serviceTemplate, queue).VisibilityTimeout;
        const timeout = propertiesOf(synth.serviceTemplate, fn).Timeout;

        // Assess
        expect(visibilityTimeout, name).toBeGreaterThanOrEqual(6 * Number(timeout));
      }
    });
  });

  describe('functions', () => {
    it('runs every function on Node.js 24 on arm64 with active tracing', () => {
      for (const name of Object.keys(functions)) {
        // Act
        const properties = propertiesOf(synth.serviceTemplate, synth.service.functions.get(name));

        // Assess
        expect(properties.Runtime, name).toBe('nodejs24.x');
        expect(properties.Architectures, name).toEqual(['arm64']);
        expect(properties.TracingConfig, name).toEqual({ Mode: 'Active' });
      }
    });

    it('gives every function the memory and timeout of the wiring', () => {
      for (const [name, spec] of Object.entries(functions)) {
        // Act
        const properties = propertiesOf(synth.serviceTemplate, synth.service.functions.get(name));

        // Assess
        expect(properties.MemorySize, name).toBe(spec.memoryMb);
        expect(properties.Timeout, name).toBe(spec.timeoutSeconds);
      }
    });

    it('gives the busiest functions the 256 MB their measured CPU time allows (docs/BENCHMARKS.md)', () => {
      for (const name of ['orderIntake', 'paymentSubmission', 'settlementCallback']) {
        // Act
        const properties = propertiesOf(synth.serviceTemplate, synth.service.functions.get(name));

        // Assess
        expect(properties.MemorySize, name).toBe(256);
      }
    });

    it("ships every function's logs as JSON, filtered by level, without Lambda's START, END and REPORT lines", () => {
      for (const name of Object.keys(functions)) {
        // Act
        const properties = propertiesOf(synth.serviceTemplate, synth.service.functions.get(name));

        // Assess: what the bench prices (no system line below WARN).
        expect(properties.LoggingConfig, name).toMatchObject({
          LogFormat: 'JSON',
          SystemLogLevel: 'WARN',
          ApplicationLogLevel: 'INFO',
        });
      }
    });

    it('gives every function its wiring environment, queue URLs, secrets, endpoints and, when it may use the table, the table name', () => {
      // Prepare
      const tableName = crossStackReference(synth.stateful, synth.statefulTemplate, {
        Ref: logicalId(synth.stateful.table),
      });
      const queueRef = (queueName: QueueName) => ({
        Ref: logicalId(synth.service.queues.get(queueName).queue),
      });

      for (const [name, spec] of Object.entries(functions)) {
        const queueUrls = Object.fromEntries(
          Object.entries(spec.sendsTo).map(([variable, queueName]) => [
            variable,
            queueRef(queueName),
          ]),
        );
        const consumed = spec.consumes
          ? {
              [queueVariables(spec.consumes.queue).url]: queueRef(spec.consumes.queue),
              [queueVariables(spec.consumes.queue).maxReceiveCount]: String(
                wiring.queues[spec.consumes.queue].maxReceiveCount,
              ),
            }
          : {};
        const deadLetters = Object.fromEntries(
          Object.entries(spec.readsDeadLetters ?? {}).map(([variable, queueName]) => [
            variable,
            { Ref: logicalId(synth.service.queues.get(queueName).deadLetterQueue) },
          ]),
        );
        const secrets = Object.fromEntries(
          Object.entries(spec.secrets ?? {}).map(([variable, secret]) => [
            variable,
            crossStackReference(synth.stateful, synth.statefulTemplate, {
              Ref: logicalId(synth.stateful.secrets.get(secret) as IConstruct),
            }),
          ]),
        );
        const endpoints = Object.fromEntries(
          Object.entries(spec.endpoints ?? {}).map(([variable, service]) => [
            variable,
            cdkJson.context[`${service}Url`],
          ]),
        );

        // Act
        const properties = propertiesOf(synth.serviceTemplate, synth.service.functions.get(name));

        // Assess
        expect(properties.Environment, name).toEqual({
          Variables: {
            NODE_OPTIONS: '--enable-source-maps',
            ...spec.environment,
            AUTOPAY_STAGE: 'dev',
            ...(spec.table === 'none' ? {} : { TABLE_NAME: tableName }),
            ...queueUrls,
            ...consumed,
            ...deadLetters,
            ...secrets,
            ...endpoints,
            // Another OIDC provider: no user pool, so agents get ids and no credentials.
            ...(spec.userPool ? { [spec.userPool]: '' } : {}),
          },
        });
      }
    });

    it('sets on every function exactly the variables the local runtime sets for it', () => {
      // Prepare
      const local: BoundResources = {
        stage: 'local',
        tableName: 'orders',
        queueUrls: {
          paymentSubmission: 'http://q/p',
          settlementCheck: 'http://q/s',
          notification: 'http://q/n',
        },
        deadLetterQueueUrls: {
          paymentSubmission: 'http://q/pd',
          settlementCheck: 'http://q/sd',
          notification: 'http://q/nd',
        },
        maxReceiveCounts: { paymentSubmission: 1, settlementCheck: 1, notification: 1 },
        secretIds: {
          gatewayApiKey: 'g',
          webhookSigningSecret: 'w',
          webhookEndpointKey: 'e',
          riskEngineCredentials: 'r',
        },
        endpoints: { paymentGateway: 'http://g', riskEngine: 'http://r' },
        userPoolId: 'pool',
      };

      for (const [name, spec] of Object.entries(functions)) {
        // Act
        const properties = propertiesOf(synth.serviceTemplate, synth.service.functions.get(name));
        const variables = (properties.Environment as { Variables: Record<string, unknown> })
          .Variables;

        // Assess
        expect(Object.keys(variables).sort(), name).toEqual(
          ['NODE_OPTIONS', ...Object.keys(functionEnvironment(spec, local))].sort(),
        );
      }
    });

    it('logs every function to its own log group', () => {
      for (const name of Object.keys(functions)) {
        // Prepare
        const fn = synth.service.functions.get(name);

        // Act
        const logging = propertiesOf(synth.serviceTemplate, fn).LoggingConfig;

        // Assess
        expect(logging, name).toMatchObject({ LogGroup: { Ref: logicalId(fn.logGroup) } });
      }
    });

    it('keeps every log group, function and API access logs alike, for logRetentionDays', () => {
      // Act
      const logGroups = synth.serviceTemplate.findResources('AWS::Logs::LogGroup');

      // Assess
      expect(Object.keys(logGroups)).toEqual(
        expect.arrayContaining([
          ...Object.keys(functions).map((name) =>
            logicalId(synth.service.functions.get(name).logGroup),
          ),
          logicalId(synth.service.httpApi.accessLogs),
        ]),
      );
      for (const [id, logGroup] of Object.entries(logGroups)) {
        expect(logGroup.Properties.RetentionInDays, id).toBe(cdkJson.context.logRetentionDays);
      }
    });

    it('bundles every handler as an ES module that can still require CommonJS dependencies', () => {
      for (const name of Object.keys(functions)) {
        // Act
        const bundle = bundleFile(name, 'index.mjs');

        // Assess
        const fn = synth.service.functions.get(name);
        expect(propertiesOf(synth.serviceTemplate, fn).Handler, name).toBe('index.handler');
        expect(bundle.startsWith('import { createRequire }'), name).toBe(true);
        expect(bundle, name).toMatch(/export\s*\{[^}]*\bas handler\b/);
      }
    });

    it("leaves zod's translations out of every bundle: its messages stay in English", () => {
      for (const name of Object.keys(functions)) {
        // Act
        const { sources } = JSON.parse(bundleFile(name, 'index.mjs.map')) as { sources: string[] };

        // Assess: a function that validates nothing with zod carries none of it.
        const locales = sources.filter((source) =>
          /\/zod\/.*\/locales\/(?!index\.js$)/.test(source),
        );
        const usesZod = sources.some((source) => /\/node_modules\/zod\//.test(source));
        expect(locales, name).toEqual(usesZod ? [expect.stringMatching(/\/locales\/en\.js$/)] : []);
      }
    });
  });

  describe('the Powertools layer', () => {
    it('gives every function the layer of the pinned Powertools release, and no bundle carries Powertools', () => {
      // Prepare
      const parameters = synth.serviceTemplate.findParameters('*', {
        Type: 'AWS::SSM::Parameter::Value<String>',
        Default: powertoolsLayerParameter,
      });
      const [layerParameter] = Object.keys(parameters);

      for (const name of Object.keys(functions)) {
        // Act
        const fn = synth.service.functions.get(name);
        const { sources } = JSON.parse(bundleFile(name, 'index.mjs.map')) as { sources: string[] };

        // Assess
        expect(propertiesOf(synth.serviceTemplate, fn).Layers, name).toEqual([
          { Ref: layerParameter },
        ]);
        expect(
          sources.filter((source) => source.includes('@aws-lambda-powertools/')),
          name,
        ).toEqual([]);
        expect(
          sources.filter((source) => source.includes('aws-xray-sdk')),
          name,
        ).toEqual([]);
      }
    });

    it('pins every Powertools package to the release whose layer the functions get', () => {
      // Prepare
      const dependencies = Object.entries(packageJson.dependencies).filter(([name]) =>
        name.startsWith('@aws-lambda-powertools/'),
      );

      // Assess
      expect(dependencies.length).toBeGreaterThan(0);
      for (const [name, range] of dependencies) {
        expect(range, name).toBe(powertoolsVersion);
        const installed = JSON.parse(
          readFileSync(path.join('node_modules', name, 'package.json'), 'utf8'),
        ) as { version: string };
        expect(installed.version, name).toBe(powertoolsVersion);
      }
      expect(powertoolsLayerParameter).toBe(
        `/aws/service/powertools/typescript/generic/all/${powertoolsVersion}`,
      );
    });
  });

  describe('order intake permissions', () => {
    it('may read the table, write orders and spends, and send to the payment-submission queue, nothing else', () => {
      // Prepare
      const intake = synth.service.functions.get('orderIntake');
      const tableArn = crossStackReference(synth.stateful, synth.statefulTemplate, {
        'Fn::GetAtt': [logicalId(synth.stateful.table), 'Arn'],
      });
      const queueArn = JSON.stringify({
        'Fn::GetAtt': [logicalId(synth.service.queues.get('paymentSubmission').queue), 'Arn'],
      });
      const expected = [
        ...onTableAndIndexes(tableReadActions, tableArn),
        ...onTableWrites(tableArn),
        ...['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].map(
          (action) => `${action} on ${queueArn}`,
        ),
        ...onOwnLogGroup(intake),
        // Active tracing sends segments to X-Ray, which grants only on '*'.
        ...['xray:PutTelemetryRecords', 'xray:PutTraceSegments'].map(
          (action) => `${action} on "*"`,
        ),
      ].sort();

      // Act
      const actions = allowedActions(synth.serviceTemplate, intake);

      // Assess
      expect(actions).toEqual(expected);
    });
  });

  describe('payment submission permissions', () => {
    it('may use the table, consume its queue, send settlement checks and read the gateway key and the risk key pair, nothing else', () => {
      // Prepare
      const submission = synth.service.functions.get('paymentSubmission');
      const ref = (value: unknown) =>
        JSON.stringify(crossStackReference(synth.stateful, synth.statefulTemplate, value));
      const tableArn = crossStackReference(synth.stateful, synth.statefulTemplate, {
        'Fn::GetAtt': [logicalId(synth.stateful.table), 'Arn'],
      });
      const secretArns = (['gatewayApiKey', 'riskEngineCredentials'] as const).map((name) =>
        ref({ Ref: logicalId(synth.stateful.secrets.get(name) as IConstruct) }),
      );
      const keyArn = ref({ 'Fn::GetAtt': [logicalId(synth.stateful.secretsKey), 'Arn'] });
      const queueArn = (queue: QueueName) =>
        JSON.stringify({ 'Fn::GetAtt': [logicalId(synth.service.queues.get(queue).queue), 'Arn'] });
      const expected = [
        ...onTableAndIndexes(tableReadActions, tableArn),
        ...onTableWrites(tableArn),
        ...[
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
        ].map((action) => `${action} on ${queueArn('paymentSubmission')}`),
        ...['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].map(
          (action) => `${action} on ${queueArn('settlementCheck')}`,
        ),
        ...secretArns.flatMap((secretArn) =>
          ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'].map(
            (action) => `${action} on ${secretArn}`,
          ),
        ),
        `kms:Decrypt on ${keyArn}`,
        ...onOwnLogGroup(submission),
        ...['xray:PutTelemetryRecords', 'xray:PutTraceSegments'].map(
          (action) => `${action} on "*"`,
        ),
      ].sort();

      // Act
      const actions = allowedActions(synth.serviceTemplate, submission);

      // Assess
      expect(actions).toEqual(expected);
    });

    it('consumes in batches of the wiring size and window, bounded concurrency, reporting failures per message', () => {
      // Prepare
      const spec = wiring.functions.paymentSubmission.consumes;
      const submission = synth.service.functions.get('paymentSubmission');

      // Act
      const mappings = synth.serviceTemplate.findResources('AWS::Lambda::EventSourceMapping', {
        Properties: { FunctionName: { Ref: logicalId(submission) } },
      });

      // Assess
      const properties = Object.values(mappings).map((mapping) => mapping.Properties);
      expect(properties).toEqual([
        expect.objectContaining({
          BatchSize: spec.batchSize,
          ScalingConfig: { MaximumConcurrency: spec.maxConcurrency },
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          EventSourceArn: {
            'Fn::GetAtt': [logicalId(synth.service.queues.get('paymentSubmission').queue), 'Arn'],
          },
        }),
      ]);
      // Absent means 0 in AWS: Lambda invokes as soon as it has messages.
      expect(properties[0]?.MaximumBatchingWindowInSeconds ?? 0).toBe(
        spec.maxBatchingWindowSeconds,
      );
    });

    it('gives each secret only to the functions the wiring names', () => {
      for (const secret of ['gatewayApiKey', 'webhookSigningSecret'] as const) {
        // Prepare
        const arn = JSON.stringify(
          crossStackReference(synth.stateful, synth.statefulTemplate, {
            Ref: logicalId(synth.stateful.secrets.get(secret) as IConstruct),
          }),
        );
        const named = Object.entries(functions)
          .filter(([, spec]) => Object.values(spec.secrets ?? {}).includes(secret))
          .map(([name]) => name)
          .sort();

        // Act
        const readers = Object.keys(functions)
          .filter((name) =>
            allowedActions(synth.serviceTemplate, synth.service.functions.get(name)).includes(
              `secretsmanager:GetSecretValue on ${arn}`,
            ),
          )
          .sort();

        // Assess
        expect(readers, secret).toEqual(named);
        expect(readers.length, secret).toBeGreaterThan(0);
      }
    });

    it('rotates every secret on the wiring schedule with the key-rotation function', () => {
      const rotation = synth.service.functions.get('keyRotation');
      for (const secret of ['gatewayApiKey', 'webhookSigningSecret'] as const) {
        const secretRef = crossStackReference(synth.stateful, synth.statefulTemplate, {
          Ref: logicalId(synth.stateful.secrets.get(secret) as IConstruct),
        });
        const schedules = synth.serviceTemplate.findResources(
          'AWS::SecretsManager::RotationSchedule',
          {
            Properties: {
              SecretId: secretRef,
              RotationLambdaARN: { 'Fn::GetAtt': [logicalId(rotation), 'Arn'] },
              RotationRules: { ScheduleExpression: `rate(${wiring.rotationDays} days)` },
            },
          },
        );
        expect(Object.keys(schedules), secret).toHaveLength(1);
      }
    });

    it('lets only the key-rotation function write secrets', () => {
      const writers = Object.keys(functions).filter((name) =>
        allowedActions(synth.serviceTemplate, synth.service.functions.get(name)).some((line) =>
          line.startsWith('secretsmanager:PutSecretValue'),
        ),
      );
      expect(writers).toEqual(['keyRotation']);
    });

    it('runs every scheduled function on its wiring rate', () => {
      expect(Object.values(functions).some((spec) => spec.schedule)).toBe(true);
      for (const [name, spec] of Object.entries(functions)) {
        if (!spec.schedule) continue;
        const fn = synth.service.functions.get(name);
        const rules = synth.serviceTemplate.findResources('AWS::Events::Rule', {
          Properties: {
            ScheduleExpression: `rate(${spec.schedule.rateMinutes} minutes)`,
            Targets: Match.arrayWith([
              Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(fn), 'Arn'] } }),
            ]),
          },
        });
        expect(Object.keys(rules), name).toHaveLength(1);
      }
    });
  });

  describe('HTTP API', () => {
    it('serves POST /v1/orders and GET /v1/orders/{id} behind the JWT authorizer', () => {
      // Prepare
      const authorizer = synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Authorizer');
      const [authorizerId] = Object.keys(authorizer);

      for (const routeKey of ['POST /v1/orders', 'GET /v1/orders/{id}']) {
        // Act
        const routes = synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Route', {
          Properties: { RouteKey: routeKey },
        });

        // Assess
        expect(
          Object.values(routes).map((route) => route.Properties),
          routeKey,
        ).toEqual([
          expect.objectContaining({
            AuthorizationType: 'JWT',
            AuthorizerId: { Ref: authorizerId },
          }),
        ]);
      }
    });

    it('routes every wiring route to its function with the authorization it names', () => {
      // Prepare
      const integrations = synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Integration');

      for (const [name, spec] of Object.entries(functions)) {
        const functionArn = { 'Fn::GetAtt': [logicalId(synth.service.functions.get(name)), 'Arn'] };
        for (const route of spec.routes) {
          const routeKey = `${route.method} ${route.path}`;

          // Act
          const [resource] = Object.values(
            synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Route', {
              Properties: { RouteKey: routeKey },
            }),
          );
          const target = resource?.Properties.Target['Fn::Join'][1][1].Ref;

          // Assess
          expect(resource?.Properties.AuthorizationType, routeKey).toBe(
            route.auth === 'jwt' ? 'JWT' : 'NONE',
          );
          expect(resource?.Properties.AuthorizationScopes, routeKey).toEqual(
            route.scopes ? [...route.scopes] : undefined,
          );
          expect(integrations[target]?.Properties, routeKey).toMatchObject({
            IntegrationType: 'AWS_PROXY',
            IntegrationUri: functionArn,
          });
        }
      }
    });

    it.each([
      ['confirm', CONFIRM_SCOPE],
      ['refund', REFUND_SCOPE],
    ])("lets only a token with the user's scope %s an order", (action, scope) => {
      const [route] = Object.values(
        synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Route', {
          Properties: { RouteKey: `POST /v1/orders/{id}/${action}` },
        }),
      );
      expect(route?.Properties.AuthorizationScopes).toEqual([scope]);
    });

    it("lets the user's confirm scope or the agent's own scope cancel an order", () => {
      const [route] = Object.values(
        synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Route', {
          Properties: { RouteKey: 'POST /v1/orders/{id}/cancel' },
        }),
      );
      expect(route?.Properties.AuthorizationScopes).toEqual([CONFIRM_SCOPE, AGENT_SCOPE]);
    });

    it('accepts only tokens from the configured issuer for the configured audience', () => {
      // Act
      const authorizers = synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Authorizer');

      // Assess
      expect(Object.values(authorizers).map((authorizer) => authorizer.Properties)).toEqual([
        expect.objectContaining({
          AuthorizerType: 'JWT',
          IdentitySource: ['$request.header.Authorization'],
          JwtConfiguration: { Issuer: 'https://issuer.test/', Audience: ['autopay-test'] },
        }),
      ]);
    });

    it('serves every route from a single $default stage that deploys every change', () => {
      // Act
      const stages = synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Stage');

      // Assess
      expect(Object.values(stages).map((stage) => stage.Properties)).toEqual([
        expect.objectContaining({
          ApiId: { Ref: logicalId(synth.service.httpApi.api) },
          StageName: '$default',
          AutoDeploy: true,
        }),
      ]);
    });

    it('logs every request as a JSON line: request, caller, route, status, latency, integration error', () => {
      // Act
      const stage = propertiesOf(synth.serviceTemplate, synth.service.httpApi.stage);
      const settings = stage.AccessLogSettings as { DestinationArn: unknown; Format: string };

      // Assess
      expect(settings.DestinationArn).toEqual({
        'Fn::GetAtt': [logicalId(synth.service.httpApi.accessLogs), 'Arn'],
      });
      expect(JSON.parse(settings.Format)).toMatchObject({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        routeKey: '$context.routeKey',
        status: '$context.status',
        latency: '$context.responseLatency',
        integrationError: '$context.integrationErrorMessage',
      });
    });

    it('throttles every route to the apiRateLimit and apiBurstLimit of the context', () => {
      // Act
      const stage = propertiesOf(synth.serviceTemplate, synth.service.httpApi.stage);

      // Assess
      expect(stage.DefaultRouteSettings).toEqual({
        ThrottlingRateLimit: cdkJson.context.apiRateLimit,
        ThrottlingBurstLimit: cdkJson.context.apiBurstLimit,
      });
    });

    it('publishes every output the operator tools read to find a stage', () => {
      const outputs = Object.keys(synth.serviceTemplate.toJSON().Outputs ?? {});
      const expected = [
        stackOutputs.tableName,
        ...queueNames.flatMap((queue) => [
          stackOutputs.queueUrl(queue),
          stackOutputs.queueArn(queue),
          stackOutputs.dlqUrl(queue),
          stackOutputs.dlqArn(queue),
        ]),
        ...secretNames.map((secret) => stackOutputs.secretArn(secret)),
      ];
      expect(outputs).toEqual(expect.arrayContaining(expected));
    });

    it('publishes the API URL as a stack output', () => {
      // Act
      const outputs = synth.serviceTemplate.toJSON().Outputs;

      // Assess
      expect(outputs.ApiUrl.Value).toEqual({
        'Fn::GetAtt': [logicalId(synth.service.httpApi.api), 'ApiEndpoint'],
      });
    });
  });
});
