import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promotionTags } from '../../lambdas/shared/secret-tags.ts';
import { type FunctionSpec, type QueueName, wiring } from '../../lambdas/shared/wiring.ts';
import {
  crossStackReference,
  type Grant,
  grantsOf,
  logicalId,
  propertiesOf,
  removeAssembly,
  type Synthesized,
  synthesize,
  withoutBundling,
} from './synth.ts';

const functions: Readonly<Record<string, FunctionSpec>> = wiring.functions;

/**
 * The only actions allowed on Resource "*": they have no resource-level permissions. X-Ray is
 * for active tracing; GetRandomPassword is what the rotation schedule grants its function.
 */
const wildcardOnly: Readonly<Record<string, (spec: FunctionSpec) => boolean>> = {
  'xray:PutTraceSegments': () => true,
  'xray:PutTelemetryRecords': () => true,
  'secretsmanager:GetRandomPassword': (spec) => (spec.rotates ?? []).length > 0,
};

const readTableActions = new Set([
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:Query',
  'dynamodb:Scan',
]);
const consumeActions = new Set([
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
]);
const secretWriteActions = new Set([
  'secretsmanager:PutSecretValue',
  'secretsmanager:TagResource',
  'secretsmanager:UpdateSecretVersionStage',
]);

describe('least privilege, for every function of the wiring', () => {
  let synth: Synthesized;
  let grants: ReadonlyMap<string, Grant[]>;

  beforeAll(() => {
    synth = synthesize(withoutBundling);
    grants = new Map(
      Object.keys(functions).map((name) => [
        name,
        grantsOf(synth.serviceTemplate, synth.service.functions.get(name)),
      ]),
    );
  }, 120_000);

  afterAll(() => removeAssembly(synth.outdir));

  const grantsTo = (name: string, service: string) =>
    (grants.get(name) ?? []).filter(({ action }) => action.startsWith(`${service}:`));
  const ref = (value: unknown) =>
    JSON.stringify(crossStackReference(synth.stateful, synth.statefulTemplate, value));
  const queueArn = (queue: QueueName) =>
    JSON.stringify({ 'Fn::GetAtt': [logicalId(synth.service.queues.get(queue).queue), 'Arn'] });

  it('gives each role only its own inline policy: no managed policy, no inline role policy', () => {
    for (const name of Object.keys(functions)) {
      // Act
      const role = propertiesOf(
        synth.serviceTemplate,
        synth.service.functions.get(name).role as IConstruct,
      );

      // Assess
      expect(role.ManagedPolicyArns, name).toBeUndefined();
      expect(role.Policies, name).toBeUndefined();
      expect(grants.get(name)?.length, name).toBeGreaterThan(0);
    }
  });

  it('allows no wildcard action', () => {
    for (const [name, allowed] of grants) {
      expect(
        allowed.filter(({ action }) => action.includes('*')),
        name,
      ).toEqual([]);
    }
  });

  it('allows Resource "*" only for the actions that have no resource-level permissions', () => {
    for (const [name, allowed] of grants) {
      // Prepare
      const spec = functions[name] as FunctionSpec;

      // Act
      const onAnything = allowed.filter(({ resource }) => resource === '"*"');

      // Assess
      for (const { action } of onAnything) {
        expect(wildcardOnly[action]?.(spec), `${name}: ${action} on *`).toBe(true);
      }
    }
  });

  it('touches only the services its spec calls for', () => {
    for (const [name, allowed] of grants) {
      // Prepare
      const spec = functions[name] as FunctionSpec;
      const expected = new Set(['logs', 'xray']);
      if (spec.table !== 'none') expected.add('dynamodb');
      if (Object.keys(spec.sendsTo).length > 0 || spec.consumes) expected.add('sqs');
      if (spec.secrets || spec.rotates) expected.add('secretsmanager');
      if (spec.secrets || spec.rotates) expected.add('kms');

      // Act
      const services = new Set(allowed.map(({ action }) => action.split(':')[0]));

      // Assess
      expect([...services].sort(), name).toEqual([...expected].sort());
    }
  });

  it('writes logs only to its own log group', () => {
    for (const name of Object.keys(functions)) {
      const logGroup = JSON.stringify({
        'Fn::GetAtt': [logicalId(synth.service.functions.get(name).logGroup), 'Arn'],
      });
      for (const { action, resource } of grantsTo(name, 'logs')) {
        expect(resource, `${name}: ${action}`).toBe(logGroup);
      }
    }
  });

  it('uses DynamoDB only on the orders table and its indexes, and only reads if told to read', () => {
    // Prepare
    const tableArn = crossStackReference(synth.stateful, synth.statefulTemplate, {
      'Fn::GetAtt': [logicalId(synth.stateful.table), 'Arn'],
    });
    const onTable = [
      JSON.stringify(tableArn),
      JSON.stringify({ 'Fn::Join': ['', [tableArn, '/index/*']] }),
    ];

    for (const [name, spec] of Object.entries(functions)) {
      // Act
      const dynamodb = grantsTo(name, 'dynamodb');

      // Assess
      for (const { action, resource } of dynamodb) {
        expect(onTable, `${name}: ${action}`).toContain(resource);
        if (spec.table === 'read') {
          expect(readTableActions.has(action), `${name}: ${action}`).toBe(true);
        }
      }
      expect(dynamodb.length > 0, name).toBe(spec.table !== 'none');
    }
  });

  it('uses SQS only on the queues its spec names: sends to sendsTo, consumes only consumes', () => {
    for (const [name, spec] of Object.entries(functions)) {
      // Prepare
      const sendsTo = Object.values(spec.sendsTo).map(queueArn);
      const consumed = spec.consumes ? [queueArn(spec.consumes.queue)] : [];

      // Act
      const sqs = grantsTo(name, 'sqs');

      // Assess
      for (const { action, resource } of sqs) {
        expect([...sendsTo, ...consumed], `${name}: ${action}`).toContain(resource);
        if (action === 'sqs:SendMessage') {
          expect(sendsTo, `${name}: ${action}`).toContain(resource);
        }
        if (consumeActions.has(action)) {
          expect(consumed, `${name}: ${action}`).toContain(resource);
        }
      }
      for (const queue of [...sendsTo, ...consumed]) {
        expect(
          sqs.some(({ resource }) => resource === queue),
          `${name}: ${queue}`,
        ).toBe(true);
      }
    }
  });

  it('touches no dead-letter queue', () => {
    // Prepare
    const deadLetterQueues = [...synth.service.queues.all.values()].map(({ deadLetterQueue }) =>
      JSON.stringify({ 'Fn::GetAtt': [logicalId(deadLetterQueue), 'Arn'] }),
    );

    for (const [name, allowed] of grants) {
      // Assess
      expect(
        allowed.filter(({ resource }) => deadLetterQueues.includes(resource)),
        name,
      ).toEqual([]);
    }
  });

  it('reads only the secrets its spec names and writes only those it rotates', () => {
    for (const [name, spec] of Object.entries(functions)) {
      // Prepare
      const arnOf = (secret: string) =>
        ref({ Ref: logicalId(synth.stateful.secrets.get(secret as never) as IConstruct) });
      const readable = Object.values(spec.secrets ?? {}).map(arnOf);
      const rotated = (spec.rotates ?? []).map(arnOf);

      // Act
      const secrets = grantsTo(name, 'secretsmanager').filter(
        ({ action }) => action !== 'secretsmanager:GetRandomPassword',
      );

      // Assess
      for (const { action, resource } of secrets) {
        expect([...readable, ...rotated], `${name}: ${action}`).toContain(resource);
        if (secretWriteActions.has(action)) {
          expect(rotated, `${name}: ${action}`).toContain(resource);
        }
      }
    }
  });

  it('lets a rotation function tag the secrets it rotates with the promotion record only', () => {
    for (const [name, spec] of Object.entries(functions)) {
      // Prepare
      const rotated = (spec.rotates ?? []).map((secret) =>
        ref({ Ref: logicalId(synth.stateful.secrets.get(secret) as IConstruct) }),
      );

      // Act
      const tagging = grantsTo(name, 'secretsmanager').filter(
        ({ action }) => action === 'secretsmanager:TagResource',
      );

      // Assess
      expect(tagging.map(({ resource }) => resource).sort(), name).toEqual(rotated.sort());
      for (const { condition } of tagging) {
        expect(condition, name).toEqual({
          'ForAllValues:StringEquals': { 'aws:TagKeys': Object.values(promotionTags) },
        });
      }
    }
  });

  it('uses only the secrets key, and only to read secrets or write the ones it rotates', () => {
    // Prepare
    const keyArn = ref({ 'Fn::GetAtt': [logicalId(synth.stateful.secretsKey), 'Arn'] });

    for (const [name, spec] of Object.entries(functions)) {
      // Act
      const kms = grantsTo(name, 'kms');

      // Assess
      for (const { action, resource } of kms) {
        expect(resource, `${name}: ${action}`).toBe(keyArn);
        const allowed =
          (spec.rotates ?? []).length > 0
            ? ['kms:Decrypt', 'kms:GenerateDataKey']
            : ['kms:Decrypt'];
        expect(allowed, `${name}: ${action}`).toContain(action);
      }
    }
  });

  it('may be invoked only by its API routes, its schedule and the rotation of its secrets', () => {
    // Prepare
    const permissions = Object.values(
      synth.serviceTemplate.findResources('AWS::Lambda::Permission'),
    ).map((permission) => permission.Properties);

    for (const [name, spec] of Object.entries(functions)) {
      const fn = synth.service.functions.get(name);
      const expected = new Set<string>();
      if (spec.routes.length > 0) expected.add('apigateway.amazonaws.com');
      if (spec.schedule) expected.add('events.amazonaws.com');
      if ((spec.rotates ?? []).length > 0) expected.add('secretsmanager.amazonaws.com');

      // Act
      const own = permissions.filter(
        (permission) =>
          JSON.stringify(permission.FunctionName) ===
          JSON.stringify({ 'Fn::GetAtt': [logicalId(fn), 'Arn'] }),
      );

      // Assess
      expect([...new Set(own.map((permission) => permission.Principal))].sort(), name).toEqual(
        [...expected].sort(),
      );
      for (const permission of own) {
        expect(permission.Action, name).toBe('lambda:InvokeFunction');
        if (permission.Principal === 'apigateway.amazonaws.com') {
          // Only this API's routes, not any API Gateway in the account.
          expect(JSON.stringify(permission.SourceArn), name).toContain(
            JSON.stringify({ Ref: logicalId(synth.service.httpApi.api) }),
          );
        }
        if (permission.Principal === 'events.amazonaws.com') {
          expect(permission.SourceArn, name).toBeDefined();
        }
      }
    }
  });
});
