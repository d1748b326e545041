import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyNagChecks } from '../../infra/nag.ts';
import { type AutopayStacks, createStacks, stageSettingsFromContext } from '../../infra/stages.ts';
import { type FunctionSpec, unrotatedSecrets, wiring } from '../../lambdas/shared/wiring.ts';
import {
  appWithProjectContext,
  logicalId,
  prodContext,
  removeAssembly,
  withoutBundling,
} from './synth.ts';

const functions: Readonly<Record<string, FunctionSpec>> = wiring.functions;

interface Acknowledgement {
  readonly stack: string;
  readonly resource: string;
  readonly id: string;
  readonly reason: string;
  readonly appliesTo?: readonly unknown[];
}

/** What a stack's AwsSolutions annotations say, one `path: message` line per finding. */
function findings(stack: Stack, level: 'error' | 'warning'): string[] {
  const annotations = Annotations.fromStack(stack);
  const messages =
    level === 'error'
      ? annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-'))
      : annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-'));
  return messages.map((message) => `${message.id}: ${String(message.entry.data)}`);
}

/** The acknowledgements cdk-nag wrote into the template's resource metadata. */
function acknowledgements(stack: Stack): Acknowledgement[] {
  const resources = Template.fromStack(stack).toJSON().Resources as Record<
    string,
    {
      Metadata?: { cdk_nag?: { rules_to_suppress: Omit<Acknowledgement, 'stack' | 'resource'>[] } };
    }
  >;
  return Object.entries(resources).flatMap(([resource, { Metadata }]) =>
    (Metadata?.cdk_nag?.rules_to_suppress ?? []).map((rule) => ({
      stack: stack.stackName,
      resource,
      id: rule.id,
      reason: rule.reason,
      appliesTo: (rule as { applies_to?: unknown[] }).applies_to,
    })),
  );
}

describe('cdk-nag AwsSolutions checks, stage prod', () => {
  let stacks: AutopayStacks;
  let errors: string[];
  let warnings: string[];
  let acknowledged: Acknowledgement[];
  let outdir: string;

  beforeAll(() => {
    const app = appWithProjectContext({ ...withoutBundling, ...prodContext });
    stacks = createStacks(app, stageSettingsFromContext(app.node));
    applyNagChecks(app);
    const both = [stacks.stateful, stacks.service];
    errors = both.flatMap((stack) => findings(stack, 'error'));
    warnings = both.flatMap((stack) => findings(stack, 'warning'));
    acknowledged = both.flatMap(acknowledgements);
    outdir = app.outdir;
  }, 120_000);

  afterAll(() => removeAssembly(outdir));

  it('reports a finding nobody acknowledged, so a clean result means something', () => {
    // Prepare
    const app = new App();
    const stack = new Stack(app, 'Unsafe');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    applyNagChecks(app);

    // Act
    const reported = findings(stack, 'error');

    // Assess
    expect(reported).toEqual(
      expect.arrayContaining([
        expect.stringContaining('AwsSolutions-SQS3'),
        expect.stringContaining('AwsSolutions-SQS4'),
      ]),
    );
  });

  it('finds no unacknowledged error in either stack', () => {
    expect(errors).toEqual([]);
  });

  it('finds no unacknowledged warning in either stack', () => {
    expect(warnings).toEqual([]);
  });

  it('acknowledges only the findings infra/nag.ts explains, each with a reason of its own', () => {
    // Act
    const ids = new Set(acknowledged.map((acknowledgement) => acknowledgement.id));

    // Assess
    expect([...ids].sort()).toEqual(['AwsSolutions-IAM5', 'AwsSolutions-SMG4']);
    for (const { resource, id, reason } of acknowledged) {
      expect(reason.length, `${resource} ${id}`).toBeGreaterThanOrEqual(80);
    }
  });

  it('acknowledges IAM wildcards one wildcard at a time, never the whole rule', () => {
    // Act
    const wildcards = acknowledged.filter(({ id }) => id === 'AwsSolutions-IAM5');

    // Assess
    expect(wildcards.length).toBeGreaterThan(0);
    for (const { resource, appliesTo } of wildcards) {
      expect(appliesTo?.length, resource).toBeGreaterThan(0);
    }
  });

  it('lets exactly the routes the wiring leaves unauthenticated go without an authorizer', () => {
    // Prepare
    const routes = Template.fromStack(stacks.service).findResources('AWS::ApiGatewayV2::Route');
    const open = Object.values(functions)
      .flatMap((spec) => spec.routes)
      .filter((route) => route.auth === 'none')
      .map((route) => `${route.method} ${route.path}`)
      .sort();

    // Act
    const acknowledgedRoutes = acknowledged
      .filter(({ id }) => id === 'AwsSolutions-APIG4')
      .map(({ resource }) => routes[resource]?.Properties.RouteKey)
      .sort();

    // Assess
    expect(acknowledgedRoutes).toEqual(open);
  });

  it('accepts a secret without a rotation schedule only if a function rotates it, or it is kept unrotated on purpose', () => {
    // Prepare
    const rotated = [...stacks.stateful.secrets]
      .filter(
        ([name]) =>
          Object.values(functions).some((spec) => spec.rotates?.includes(name)) ||
          unrotatedSecrets[name] !== undefined,
      )
      .map(([, secret]) => logicalId(secret))
      .sort();

    // Act
    const acknowledgedSecrets = acknowledged
      .filter(({ id }) => id === 'AwsSolutions-SMG4')
      .map(({ resource }) => resource)
      .sort();

    // Assess
    expect(acknowledgedSecrets).toEqual(rotated);
  });
});
