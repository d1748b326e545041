import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKey, orderKey, spendKey } from '../../lambdas/adapters/table-keys.ts';
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
  'dynamodb:ListStreams': (spec) => spec.streams !== undefined,
};

const readTableActions = new Set([
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeStream',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
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

/**
 * The partition-key patterns each function may write, written out here rather than derived from
 * the wiring, so that widening a function's writes takes a change in both places.
 */
const expectedWrites: Readonly<Record<string, readonly string[]>> = {
  orderIntake: ['ORDER#*', 'SPEND#*'],
  paymentSubmission: ['BREAKER#*', 'ORDER#*', 'SPEND#*'],
  orderLifecycle: ['ORDER#*', 'SPEND#*'],
  settlementCallback: ['ORDER#*', 'SPEND#*'],
  settlementReconciler: ['ORDER#*', 'SPEND#*'],
  sweep: ['ORDER#*', 'SPEND#*'],
  keyRotation: [],
  webhookEndpoints: ['WEBHOOKS#*'],
  notificationFanOut: [],
  notificationDelivery: [],
  // The only writer of agent profiles: the user's own changes, through the agents API.
  agents: ['AGENT#*', 'AGENTREQ#*'],
};

/** The functions that move orders to FAILED, CANCELLED, EXPIRED or REFUNDED. */
const endsOrders = [
  'paymentSubmission',
  'settlementCallback',
  'settlementReconciler',
  'orderLifecycle',
  'sweep',
];

/** The patterns of a grant's `ForAllValues:StringLike` condition on dynamodb:LeadingKeys. */
function leadingKeysOf(condition: unknown): string[] {
  expect(Object.keys(condition ?? {})).toEqual(['ForAllValues:StringLike']);
  const like = (condition as Record<string, Record<string, unknown>>)['ForAllValues:StringLike'];
  expect(Object.keys(like ?? {})).toEqual(['dynamodb:LeadingKeys']);
  return [like?.['dynamodb:LeadingKeys']].flat().map(String).sort();
}

/** IAM's StringLike: `*` is any run of characters, `?` any one; everything else is literal. */
function stringLike(pattern: string, value: string): boolean {
  const source = [...pattern]
    .map((char) =>
      char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`, 's').test(value);
}

describe('least privilege, for every function of the wiring', () => {
  let synth: Synthesized;
  let grants: ReadonlyMap<string, Grant[]>;

  beforeAll(() => {
    // With the rotation schedules, whose grants are the widest a stage gets.
    synth = synthesize({ ...withoutBundling, rotation: 'on' });
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
  const tableArn = () => ref({ 'Fn::GetAtt': [logicalId(synth.stateful.table), 'Arn'] });
  const indexArn = () =>
    JSON.stringify({
      'Fn::Join': [
        '',
        [
          crossStackReference(synth.stateful, synth.statefulTemplate, {
            'Fn::GetAtt': [logicalId(synth.stateful.table), 'Arn'],
          }),
          '/index/*',
        ],
      ],
    });
  const streamArn = () => ref({ 'Fn::GetAtt': [logicalId(synth.stateful.table), 'StreamArn'] });
  const dlqArn = (queue: QueueName) =>
    JSON.stringify({
      'Fn::GetAtt': [logicalId(synth.service.queues.get(queue).deadLetterQueue), 'Arn'],
    });
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
      if (spec.userPool) expected.add('cognito-idp');

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

  it('uses DynamoDB only on the orders table and its indexes, and writes only on the table', () => {
    for (const [name, spec] of Object.entries(functions)) {
      // Act
      const dynamodb = grantsTo(name, 'dynamodb');

      // Assess: a reader of the change stream reads it, and only it, beside the table.
      const stream = spec.streams ? [streamArn()] : [];
      for (const { action, resource } of dynamodb) {
        if (action === 'dynamodb:ListStreams') continue;
        expect(
          readTableActions.has(action) ? [tableArn(), indexArn(), ...stream] : [tableArn()],
          `${name}: ${action}`,
        ).toContain(resource);
        if (action === 'dynamodb:DescribeStream') {
          expect(stream, `${name}: ${action}`).toContain(resource);
        }
      }
      expect(dynamodb.length > 0, name).toBe(spec.table !== 'none');
    }
  });

  it('writes only the kinds of item it needs, by their key prefix, with PutItem and UpdateItem', () => {
    // Prepare
    const expected = Object.keys(expectedWrites).sort();

    for (const name of Object.keys(functions)) {
      // Act
      const writes = grantsTo(name, 'dynamodb').filter(
        ({ action }) => !readTableActions.has(action),
      );

      // Assess
      const prefixes = expectedWrites[name] ?? [];
      expect(writes.map(({ action }) => action).sort(), name).toEqual(
        prefixes.length > 0 ? ['dynamodb:PutItem', 'dynamodb:UpdateItem'] : [],
      );
      for (const { action, condition } of writes) {
        expect(leadingKeysOf(condition), `${name}: ${action}`).toEqual([...prefixes].sort());
      }
    }
    expect(Object.keys(functions).sort()).toEqual(expected);
  });

  it("lets no function but the agents API write an agent's profile: the webhook's writes orders and day budgets only", () => {
    // Prepare: keys as the adapters build them, and a profile whose id mimics another kind.
    const profiles = [agentKey('demo-agent'), agentKey(`x#${spendKey('demo-agent', 'd').pk}`)];
    const order = orderKey(`ord_${'a'.repeat(32)}`);
    const spend = spendKey('demo-agent', '2026-11-23');

    for (const name of Object.keys(functions)) {
      // Act
      const writable = (key: { pk: string }) =>
        grantsTo(name, 'dynamodb')
          .filter(({ action }) => !readTableActions.has(action))
          .some(({ condition }) =>
            leadingKeysOf(condition).some((like) => stringLike(like, key.pk)),
          );

      // Assess
      for (const profile of profiles) {
        expect(writable(profile), `${name}: ${profile.pk}`).toBe(name === 'agents');
      }
      if (endsOrders.includes(name)) {
        expect(writable(order), `${name}: ${order.pk}`).toBe(true);
        expect(writable(spend), `${name}: ${spend.pk}`).toBe(true);
      }
    }
    expect(
      grantsTo('settlementCallback', 'dynamodb')
        .filter(({ action }) => !readTableActions.has(action))
        .map(({ condition }) => leadingKeysOf(condition)),
    ).toEqual([
      ['ORDER#*', 'SPEND#*'],
      ['ORDER#*', 'SPEND#*'],
    ]);
  });

  it('uses SQS only on the queues its spec names: sends to sendsTo, consumes only consumes, reads the dead letters it names', () => {
    for (const [name, spec] of Object.entries(functions)) {
      // Prepare
      // A stream's failed changes go to its on-failure queue, as Lambda's destination.
      const sendsTo = [
        ...Object.values(spec.sendsTo).map(queueArn),
        ...(spec.streams ? [dlqArn(spec.streams.onFailure)] : []),
      ];
      const consumed = spec.consumes ? [queueArn(spec.consumes.queue)] : [];
      const deadLettersRead = Object.values(spec.readsDeadLetters ?? {}).map(dlqArn);

      // Act
      const sqs = grantsTo(name, 'sqs');

      // Assess
      for (const { action, resource } of sqs) {
        expect([...sendsTo, ...consumed, ...deadLettersRead], `${name}: ${action}`).toContain(
          resource,
        );
        if (action === 'sqs:SendMessage') {
          expect(sendsTo, `${name}: ${action}`).toContain(resource);
        }
        if (consumeActions.has(action) && !deadLettersRead.includes(resource)) {
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

  it("touches no dead-letter queue, but sends a stream's failed changes to its on-failure one and receives (never deletes) from one it reads", () => {
    // Prepare
    const deadLetterQueues = [...synth.service.queues.all.values()].map(({ deadLetterQueue }) =>
      JSON.stringify({ 'Fn::GetAtt': [logicalId(deadLetterQueue), 'Arn'] }),
    );

    for (const [name, allowed] of grants) {
      // Act
      const onDeadLetters = allowed.filter(({ resource }) => deadLetterQueues.includes(resource));

      // Assess
      const spec = functions[name] as FunctionSpec;
      const onFailure = spec.streams ? dlqArn(spec.streams.onFailure) : undefined;
      const read = Object.values(spec.readsDeadLetters ?? {}).map(dlqArn);
      expect(
        onDeadLetters.filter(({ resource }) => resource !== onFailure && !read.includes(resource)),
        name,
      ).toEqual([]);
      expect(
        onDeadLetters
          .filter(({ resource }) => resource === onFailure)
          .map(({ action }) => action)
          .sort(),
        name,
      ).toEqual(onFailure ? ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'] : []);
      expect(
        onDeadLetters
          .filter(({ resource }) => read.includes(resource))
          .map(({ action }) => action)
          .sort(),
        name,
      ).toEqual(
        read.flatMap(() => [
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
          'sqs:ReceiveMessage',
        ]),
      );
    }
  });

  it('lets the sweep only read the depth of the payment dead-letter queue, receive from it, which hides what it read for a while, and show again what it could not handle, never delete', () => {
    // Act
    const onPaymentDeadLetters = grantsTo('sweep', 'sqs').filter(
      ({ resource }) => resource === dlqArn('paymentSubmission'),
    );

    // Assess
    expect(onPaymentDeadLetters.map(({ action }) => action).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
    ]);
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

  it('may be invoked only by its API routes, its function URL, its schedule and the rotation of its secrets', () => {
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
      // Anyone, but only through the function URL (AuthType NONE): never a direct Invoke.
      if (spec.functionUrl) expected.add('*');

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
        if (permission.Principal === '*') {
          const throughTheUrl =
            permission.Action === 'lambda:InvokeFunctionUrl'
              ? permission.FunctionUrlAuthType === 'NONE'
              : permission.Action === 'lambda:InvokeFunction' &&
                permission.InvokedViaFunctionUrl === true;
          expect(throughTheUrl, `${name}: ${JSON.stringify(permission)}`).toBe(true);
          continue;
        }
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
