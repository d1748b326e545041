import { Aspects, CfnElement, Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { unrotatedSecrets, type Wiring } from '../lambdas/shared/wiring.ts';
import type { ServiceStack } from './service-stack.ts';
import type { StatefulStack } from './stateful-stack.ts';

/**
 * Runs the AwsSolutions checks on everything under `scope` when it is synthesized: a finding is
 * an error or warning annotation on its resource, which fails `cdk synth` for an error.
 */
export function applyNagChecks(scope: IConstruct): void {
  Aspects.of(scope).add(new AwsSolutionsChecks({ verbose: true }));
}

/**
 * The AwsSolutions findings autopay accepts, each on the resources it concerns and, for IAM
 * wildcards, on the one wildcard it concerns; anything new still fails `nag.test.ts` and
 * `cdk synth -c nag=true`. test/infra/least-privilege.test.ts checks that the wildcards stay
 * where these reasons say they are.
 */
export function acknowledgeNagFindings(
  stacks: { readonly stateful: StatefulStack; readonly service: ServiceStack },
  wiring: Wiring,
): void {
  for (const [name, secret] of stacks.stateful.secrets) {
    const rotator = Object.entries(wiring.functions).find(([, spec]) =>
      spec.rotates?.includes(name),
    )?.[0];
    const unrotated = unrotatedSecrets[name];
    if (unrotated) {
      NagSuppressions.addResourceSuppressions(secret, [
        { id: 'AwsSolutions-SMG4', reason: unrotated },
      ]);
    }
    // A secret nothing rotates, and not kept unrotated on purpose, keeps the finding.
    if (rotator) {
      NagSuppressions.addResourceSuppressions(secret, [
        {
          id: 'AwsSolutions-SMG4',
          reason:
            `Rotated every ${wiring.rotationDays} days by the ${rotator} function once the ` +
            "stage's context says rotation=on (after the real keys are stored): its " +
            'RotationSchedule lives in the service stack, next to the function, so the data ' +
            'stack never depends on the code.',
        },
      ]);
    }
  }

  if (stacks.stateful.identity) {
    NagSuppressions.addResourceSuppressions(stacks.stateful.identity.userPool, [
      {
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus feature plan (threat protection) is priced per user; the pool requires MFA ' +
          'and a strong password, and an operator may raise the plan on the pool.',
      },
    ]);
  }

  const tableId = logicalIdOf(stacks.stateful.table);
  const authorizer = stacks.service.functions.existingTokenAuthorizer();
  const roles = [
    ...stacks.service.functions.all,
    ...(authorizer ? [['tokenAuthorizer', authorizer] as const] : []),
  ];
  for (const [name, fn] of roles) {
    const spec = wiring.functions[name];
    if (!fn.role) {
      throw new Error(`${fn.node.path} has no role`);
    }
    NagSuppressions.addResourceSuppressions(
      fn.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'X-Ray PutTraceSegments and PutTelemetryRecords (active tracing) and Secrets Manager ' +
            'GetRandomPassword (added by RotationSchedule) have no resource-level permissions: ' +
            'they take only Resource "*".',
          appliesTo: ['Resource::*'],
        },
        ...(spec?.table === 'none'
          ? []
          : [
              {
                id: 'AwsSolutions-IAM5',
                reason:
                  'Table grants cover the orders table indexes as <table arn>/index/*: the ' +
                  'indexes of this one table (the sparse due index the sweep queries), nothing ' +
                  'else.',
                // The finding names the table by its logical ID, before and after the cross-stack
                // reference is resolved.
                appliesTo: [{ regex: `/^Resource::.*${tableId}.*\\/index\\/\\*$/` }],
              },
            ]),
      ],
      true,
    );
  }

  // None today: the gateway's webhook, which holds no token of ours, has its function URL.
  const unauthenticatedRoutes = stacks.service.httpApi.unauthenticatedRoutes;
  if (unauthenticatedRoutes.length > 0) {
    NagSuppressions.addResourceSuppressions(
      [...unauthenticatedRoutes],
      [
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'The route is called by a party that holds no token of ours: its function ' +
            'authenticates every call itself (an HMAC signature over the body).',
        },
      ],
    );
  }
}

function logicalIdOf(construct: IConstruct): string {
  const resource = construct.node.defaultChild;
  if (!(resource instanceof CfnElement)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource of its own`);
  }
  return Stack.of(construct).resolve(resource.logicalId) as string;
}
