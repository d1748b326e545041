import { rmSync } from 'node:fs';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IConstruct } from 'constructs';
import cdkJson from '../../cdk.json' with { type: 'json' };
import { type AutopayStacks, createStacks, stageSettingsFromContext } from '../../infra/stages.ts';

/** Turns esbuild off for tests that read no bundle: bundling costs seconds per function. */
export const withoutBundling = { 'aws:cdk:bundling-stacks': [] } as const;

export interface Synthesized extends AutopayStacks {
  readonly statefulTemplate: Template;
  readonly serviceTemplate: Template;
  /** The cloud assembly, where the bundles are; delete it once the tests are done. */
  readonly outdir: string;
}

/**
 * A stage other than dev, with the real-looking URLs and the alarm destination such a stage must
 * have, and its own gateway name.
 */
export const prodContext = {
  stage: 'prod',
  jwtIssuer: 'https://auth.autopay.test/',
  jwtAudience: 'autopay',
  paymentGatewayUrl: 'https://gateway.autopay.test/',
  riskEngineUrl: 'https://risk.autopay.test/',
  alarmEmail: 'oncall@autopay.test',
  gatewayName: 'stripe',
  stripePayers: '{"default":{"customer":"cus_test_1","paymentMethod":"pm_test_1"}}',
} as const;

/** An app with the context `cdk synth` gives it: cdk.json's, with `-c`-like overrides. */
export function appWithProjectContext(overrides: Readonly<Record<string, unknown>> = {}): App {
  return new App({ context: { ...cdkJson.context, ...overrides } });
}

/** Synthesizes the stacks that `cdk synth` does, in the same way. */
export function synthesize(overrides: Readonly<Record<string, unknown>> = {}): Synthesized {
  const app = appWithProjectContext(overrides);
  const stacks = createStacks(app, stageSettingsFromContext(app.node));
  return {
    ...stacks,
    statefulTemplate: Template.fromStack(stacks.stateful),
    serviceTemplate: Template.fromStack(stacks.service),
    outdir: app.outdir,
  };
}

export function removeAssembly(outdir: string): void {
  rmSync(outdir, { recursive: true, force: true });
}

/** The logical ID of the CloudFormation resource behind an L2 construct. */
export function logicalId(construct: IConstruct): string {
  const resource = construct.node.defaultChild;
  if (!(resource instanceof CfnElement)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource of its own`);
  }
  return Stack.of(construct).getLogicalId(resource);
}

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/** The CloudFormation resource behind a construct, failing the test if it is absent. */
export function resourceOf(template: Template, construct: IConstruct): TemplateResource {
  const id = logicalId(construct);
  const resource = (template.toJSON().Resources as Record<string, TemplateResource>)[id];
  if (!resource) {
    throw new Error(`No resource ${id} in the template`);
  }
  return resource;
}

export function propertiesOf(template: Template, construct: IConstruct): Record<string, unknown> {
  return resourceOf(template, construct).Properties ?? {};
}

/**
 * Every action a function's role is allowed, as `action on resource` lines. Flattened so the
 * assertion holds however CDK groups actions and resources into statements.
 */
export function allowedActions(template: Template, fn: IFunction): string[] {
  if (!fn.role) {
    throw new Error(`${fn.node.path} has no role`);
  }
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: logicalId(fn.role) }]) },
  });
  const lines = new Set<string>();
  for (const policy of Object.values(policies)) {
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      if (statement.Effect !== 'Allow') {
        continue;
      }
      for (const action of [statement.Action].flat()) {
        for (const resource of [statement.Resource].flat()) {
          // CloudFormation drops AWS::NoValue, which CDK leaves for a table without indexes.
          if (resource?.Ref !== 'AWS::NoValue') {
            lines.add(`${action} on ${JSON.stringify(resource)}`);
          }
        }
      }
    }
  }
  return [...lines].sort();
}

/** How a consumer stack refers to a value its producer exports: `Fn::ImportValue` of the export. */
export function crossStackReference(producer: Stack, producerTemplate: Template, value: unknown) {
  const outputs = producerTemplate.toJSON().Outputs as Record<
    string,
    { Value: unknown; Export?: { Name: string } }
  >;
  const exported = Object.values(outputs).find(
    (output) => output.Export && JSON.stringify(output.Value) === JSON.stringify(value),
  );
  if (!exported?.Export) {
    throw new Error(`${producer.stackName} exports nothing for ${JSON.stringify(value)}`);
  }
  return { 'Fn::ImportValue': exported.Export.Name };
}

/** Table grants cover the table and its indexes: `action on arn` lines for both. */
export function onTableAndIndexes(actions: readonly string[], tableArn: unknown): string[] {
  const indexArn = { 'Fn::Join': ['', [tableArn, '/index/*']] };
  return actions.flatMap((action) => [
    `${action} on ${JSON.stringify(tableArn)}`,
    `${action} on ${JSON.stringify(indexArn)}`,
  ]);
}

/** A function writes its logs to its own log group and to no other: `action on arn` lines. */
export function onOwnLogGroup(fn: NodejsFunction): string[] {
  const logGroupArn = JSON.stringify({ 'Fn::GetAtt': [logicalId(fn.logGroup), 'Arn'] });
  return ['logs:CreateLogStream', 'logs:PutLogEvents'].map(
    (action) => `${action} on ${logGroupArn}`,
  );
}

export interface Grant {
  readonly action: string;
  /** The resource as JSON, as in `allowedActions`. */
  readonly resource: string;
  readonly condition?: unknown;
}

/** Every Allow of a function's role, one action on one resource at a time, with its condition. */
export function grantsOf(template: Template, fn: IFunction): Grant[] {
  if (!fn.role) {
    throw new Error(`${fn.node.path} has no role`);
  }
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: logicalId(fn.role) }]) },
  });
  return Object.values(policies).flatMap((policy) =>
    (policy.Properties.PolicyDocument.Statement as Record<string, unknown>[])
      .filter((statement) => statement.Effect === 'Allow')
      .flatMap((statement) =>
        [statement.Action].flat().flatMap((action) =>
          [statement.Resource]
            .flat()
            .filter((resource) => (resource as { Ref?: string })?.Ref !== 'AWS::NoValue')
            .map((resource) => ({
              action: String(action),
              resource: JSON.stringify(resource),
              ...(statement.Condition ? { condition: statement.Condition } : {}),
            })),
        ),
      ),
  );
}
