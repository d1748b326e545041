import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyNagChecks } from '../../infra/nag.ts';
import { createStacks, stageSettingsFromContext } from '../../infra/stages.ts';
import {
  AGENT_SCOPE,
  AGENT_SCOPES,
  AGENTS_SCOPE,
  functionSpecs,
  RESOURCE_SERVER,
  USER_SCOPES,
} from '../../lambdas/shared/wiring.ts';
import {
  allowedActions,
  appWithProjectContext,
  logicalId,
  propertiesOf,
  removeAssembly,
  type Synthesized,
  synthesize,
  withoutBundling,
} from './synth.ts';

/** The default stage: no other OIDC provider named, so the stack brings a Cognito user pool. */
describe("the stack's own identity provider", () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize(withoutBundling);
  }, 120_000);

  afterAll(() => removeAssembly(synth.outdir));

  const identity = () => {
    const found = synth.stateful.identity;
    if (found === undefined) throw new Error('no user pool in the default stage');
    return found;
  };

  it('creates a user pool that nobody signs up to on their own, and keeps it', () => {
    const pool = synth.statefulTemplate.findResources('AWS::Cognito::UserPool');
    expect(Object.keys(pool)).toHaveLength(1);
    const [resource] = Object.values(pool);
    expect(resource?.DeletionPolicy).toBe('Retain');
    expect(resource?.Properties.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: true });
  });

  it('holds every scope on one resource server', () => {
    const servers = Object.values(
      synth.statefulTemplate.findResources('AWS::Cognito::UserPoolResourceServer'),
    );
    expect(servers).toHaveLength(1);
    expect(servers[0]?.Properties.Identifier).toBe(RESOURCE_SERVER);
    const names = ((servers[0]?.Properties.Scopes ?? []) as Array<{ ScopeName: string }>).map(
      (scope) => `${RESOURCE_SERVER}/${scope.ScopeName}`,
    );
    expect(names.sort()).toEqual([...AGENT_SCOPES, ...USER_SCOPES].sort());
  });

  it("gives the user's app the user scopes, never an agent's, and no secret", () => {
    const client = propertiesOf(synth.statefulTemplate, identity().userAppClient);
    const scopes = JSON.stringify(client.AllowedOAuthScopes);
    for (const scope of USER_SCOPES) expect(scopes).toContain(scope.split('/')[1]);
    expect(scopes).not.toContain(`/${AGENT_SCOPE.split('/')[1]}"`);
    expect(client.AllowedOAuthFlows).toEqual(['code']);
    expect(client.GenerateSecret).toBe(false);
  });

  it('lets only the agents function create and delete app clients, on this pool only', () => {
    // The pool's ARN, as the service stack imports it from the stateful stack.
    const poolArn = `GetAtt${logicalId(identity().userPool)}Arn`;
    for (const name of Object.keys(functionSpecs)) {
      const fn = synth.service.functions.get(name);
      const cognito = allowedActions(synth.serviceTemplate, fn).filter((grant) =>
        grant.startsWith('cognito-idp:'),
      );
      expect(cognito.map((grant) => grant.split(' on ')[0]).sort(), name).toEqual(
        name === 'agents'
          ? ['cognito-idp:CreateUserPoolClient', 'cognito-idp:DeleteUserPoolClient']
          : [],
      );
      for (const grant of cognito) expect(grant, name).toContain(poolArn);
    }
    const variables = (
      propertiesOf(synth.serviceTemplate, synth.service.functions.get('agents')).Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(JSON.stringify(variables.USER_POOL_ID)).toContain(
      `Ref${logicalId(identity().userPool)}`,
    );
  });

  it('puts every authenticated route behind the token authorizer, which checks the scopes', () => {
    const authorizers = Object.values(
      synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Authorizer'),
    );
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0]?.Properties).toMatchObject({
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization', '$context.routeKey'],
      AuthorizerResultTtlInSeconds: 60,
    });
    const routes = Object.values(synth.serviceTemplate.findResources('AWS::ApiGatewayV2::Route'));
    for (const spec of Object.values(functionSpecs)) {
      for (const route of spec.routes) {
        const key = `${route.method} ${route.path}`;
        const found = routes.find((resource) => resource.Properties.RouteKey === key);
        expect(found?.Properties.AuthorizationType, key).toBe(
          route.auth === 'jwt' ? 'CUSTOM' : 'NONE',
        );
        if (route.auth === 'jwt') {
          // Every authenticated route names the scopes the authorizer applies.
          expect(route.scopes?.length, key).toBeGreaterThan(0);
        }
      }
    }
  });

  it("lets only the user's scope manage agents", () => {
    for (const route of functionSpecs.agents?.routes ?? []) {
      expect(route.scopes, `${route.method} ${route.path}`).toEqual([AGENTS_SCOPE]);
    }
  });
});

describe('cdk-nag AwsSolutions checks, a deployable stage with the user pool', () => {
  it('finds nothing that is not acknowledged with its reason', () => {
    // Prepare: real-looking URLs, and no other identity provider.
    const app = appWithProjectContext({
      ...withoutBundling,
      stage: 'prod',
      paymentGatewayUrl: 'https://gateway.autopay.test/',
      riskEngineUrl: 'https://risk.autopay.test/',
      alarmEmail: 'oncall@autopay.test',
    });
    const stacks = createStacks(app, stageSettingsFromContext(app.node));
    applyNagChecks(app);

    // Act
    const outdir = app.synth().directory;

    // Assess
    for (const stack of [stacks.stateful, stacks.service]) {
      const annotations = Annotations.fromStack(stack);
      const findings = [
        ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-')),
        ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-')),
      ].map((finding) => `${finding.id}: ${String(finding.entry.data).slice(0, 80)}`);
      expect(findings, stack.stackName).toEqual([]);
    }
    removeAssembly(outdir);
  });
});
