import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { powertoolsLayerParameter } from '../../infra/bundling.ts';
import { reservedConcurrencyOfStage, stackOutputs, wiring } from '../../lambdas/shared/wiring.ts';
import {
  type Emulator,
  localCredentials,
  localRegion,
  startSecretsManagerLocal,
} from '../../local/runtime/emulators.ts';
import {
  minimumUnreservedConcurrency,
  type PreflightAws,
  type PreflightCheck,
  preflight,
  preflightReport,
  requiredBootstrapVersion,
  sdkPreflightAws,
} from '../../ops/preflight.ts';

/*
 * Preflight against moto, which answers SSM GetParameter, CloudFormation DescribeStacks and
 * Secrets Manager DescribeSecret as AWS does. moto has no Lambda GetAccountSettings (it answers
 * 404) and its GetLayerVersionByArn returns no compatible runtimes, so those two calls alone are
 * answered by a fake Lambda account below.
 */

let moto: Emulator;
let clients: {
  ssm: SSMClient;
  cloudformation: CloudFormationClient;
  secretsManager: SecretsManagerClient;
};
const stage = 'prod';

/** What the fake Lambda answers: an account's concurrency, the layer's compatibility. */
let lambdaAccount: {
  limit: number;
  unreserved: number;
  runtimes: string[];
  architectures: string[];
};

function aws(): PreflightAws {
  const sdk = sdkPreflightAws({ ...clients, lambda: undefined as never });
  return {
    ...sdk,
    // Names under /aws/ are AWS's own public parameters: moto, like SSM, refuses to store one, so
    // the test keeps the layer's ARN under a name of its own.
    parameter: (name) => sdk.parameter(name === powertoolsLayerParameter ? layerParameter : name),
    accountConcurrency: async () => ({
      limit: lambdaAccount.limit,
      unreserved: lambdaAccount.unreserved,
    }),
    layerCompatibility: async () => ({
      runtimes: lambdaAccount.runtimes,
      architectures: lambdaAccount.architectures,
    }),
  };
}

const layerParameter = '/autopay-test/powertools-layer';

const byName = (checks: readonly PreflightCheck[], name: string) => {
  const check = checks.find((entry) => entry.name === name);
  if (!check) throw new Error(`No check ${name} in ${checks.map((c) => c.name).join(', ')}`);
  return check;
};

async function putParameter(name: string, value: string): Promise<void> {
  await clients.ssm.send(
    new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }),
  );
}

/** A deployed service stack as preflight sees it: its outputs naming the stage's secrets. */
async function deployStage(): Promise<Record<string, string>> {
  const arns: Record<string, string> = {};
  for (const secret of ['gatewayApiKey', 'webhookSigningSecret'] as const) {
    const created = await clients.secretsManager.send(
      new CreateSecretCommand({ Name: `${stage}-${secret}`, SecretString: 'generated' }),
    );
    arns[secret] = created.ARN ?? '';
  }
  const template = {
    Resources: { Nothing: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
    Outputs: Object.fromEntries(
      Object.entries(arns).map(([secret, arn]) => [
        stackOutputs.secretArn(secret as 'gatewayApiKey'),
        { Value: arn },
      ]),
    ),
  };
  await clients.cloudformation.send(
    new CreateStackCommand({
      StackName: `Autopay-${stage}-Service`,
      TemplateBody: JSON.stringify(template),
    }),
  );
  return arns;
}

beforeAll(async () => {
  moto = await startSecretsManagerLocal();
  const config = {
    endpoint: moto.endpoint,
    region: localRegion,
    credentials: localCredentials,
    maxAttempts: 1,
  };
  clients = {
    ssm: new SSMClient(config),
    cloudformation: new CloudFormationClient(config),
    secretsManager: new SecretsManagerClient(config),
  };
}, 30_000);

afterAll(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  lambdaAccount = {
    limit: 1000,
    unreserved: 1000,
    runtimes: ['nodejs22.x', 'nodejs24.x'],
    architectures: ['x86_64', 'arm64'],
  };
  // Each test starts from an empty account.
  await fetch(`${moto.endpoint}/moto-api/reset`, { method: 'POST' });
});

describe('preflight of a deploy', () => {
  it('says an account that was never bootstrapped needs cdk bootstrap', async () => {
    // Act
    const checks = await preflight(aws(), { stage, rotation: false });

    // Assess
    expect(byName(checks, 'CDK bootstrap')).toEqual({
      name: 'CDK bootstrap',
      ok: false,
      detail:
        '/cdk-bootstrap/hnb659fds/version does not exist: this account and region are not ' +
        'bootstrapped. Run npx cdk bootstrap aws://<account>/<region>.',
    });
    expect(preflightReport(checks).ok).toBe(false);
  });

  it('says an old bootstrap must be upgraded, and accepts a current one', async () => {
    // Prepare
    await putParameter('/cdk-bootstrap/hnb659fds/version', String(requiredBootstrapVersion - 1));

    // Act
    const old = byName(await preflight(aws(), { stage, rotation: false }), 'CDK bootstrap');
    await putParameter('/cdk-bootstrap/hnb659fds/version', '30');
    const current = byName(await preflight(aws(), { stage, rotation: false }), 'CDK bootstrap');

    // Assess
    expect(old.ok).toBe(false);
    expect(old.detail).toContain(`the stacks need ${requiredBootstrapVersion} or later`);
    expect(current).toMatchObject({ ok: true, detail: '/cdk-bootstrap/hnb659fds/version is 30.' });
  });

  it('says a region without the Powertools layer cannot take the service stack', async () => {
    // Act
    const checks = await preflight(aws(), { stage, rotation: false });

    // Assess
    expect(byName(checks, 'Powertools layer').ok).toBe(false);
    expect(byName(checks, 'Powertools layer').detail).toContain(powertoolsLayerParameter);
  });

  it('checks nodejs24.x on arm64 through the layer the region publishes', async () => {
    // Prepare
    await putParameter(layerParameter, 'arn:aws:lambda:us-east-1:1:layer:pt:1');

    // Act
    const offered = byName(
      await preflight(aws(), { stage, rotation: false }),
      'nodejs24.x on arm64',
    );
    lambdaAccount.runtimes = ['nodejs22.x'];
    const missing = byName(
      await preflight(aws(), { stage, rotation: false }),
      'nodejs24.x on arm64',
    );

    // Assess
    expect(offered.ok).toBe(true);
    expect(missing).toMatchObject({ ok: false });
    expect(missing.detail).toContain('declares nodejs22.x on x86_64, arm64');
  });

  it('refuses a reservation that would leave Lambda fewer than 100 unreserved executions', async () => {
    // Prepare: a new account's low default limit.
    lambdaAccount.limit = 10;
    lambdaAccount.unreserved = 10;

    // Act
    const check = byName(await preflight(aws(), { stage, rotation: false }), 'Lambda concurrency');

    // Assess
    const reserved = reservedConcurrencyOfStage();
    expect(check.ok).toBe(false);
    expect(check.detail).toContain(`the stage reserves ${reserved}, which leaves ${10 - reserved}`);
    expect(check.detail).toContain(`at least ${minimumUnreservedConcurrency} unreserved`);
  });

  it('counts the callback concurrency the deploy will reserve instead of the wiring’s', async () => {
    // Prepare
    lambdaAccount.limit = 1000;
    lambdaAccount.unreserved = 1000;
    const callbackDefault = wiring.functions.settlementCallback.reservedConcurrency;

    // Act
    const check = byName(
      await preflight(aws(), { stage, rotation: false, callbackConcurrency: 50 }),
      'Lambda concurrency',
    );

    // Assess
    const reserved = reservedConcurrencyOfStage() - callbackDefault + 50;
    expect(check.ok).toBe(true);
    expect(check.detail).toContain(
      `the stage reserves ${reserved}, which leaves ${1000 - reserved}`,
    );
  });

  it('fails only the check whose call is refused, and says why', async () => {
    // Prepare: a role without lambda:GetAccountSettings.
    const refusing: PreflightAws = {
      ...aws(),
      accountConcurrency: async () => {
        throw Object.assign(new Error('not authorized to perform lambda:GetAccountSettings'), {
          name: 'AccessDeniedException',
        });
      },
    };

    // Act
    const checks = await preflight(refusing, { stage, rotation: false });

    // Assess
    expect(byName(checks, 'Lambda concurrency')).toEqual({
      name: 'Lambda concurrency',
      ok: false,
      detail:
        'Could not check: AccessDeniedException: not authorized to perform ' +
        'lambda:GetAccountSettings',
    });
    expect(byName(checks, 'Secrets').ok).toBe(true);
  });

  it('says a service stack a failed first deploy left must be deleted before deploying again', async () => {
    // Prepare: moto completes every stack it creates, so the failed one is described here.
    const failed: PreflightAws = {
      ...aws(),
      describeStack: async () => ({ status: 'ROLLBACK_COMPLETE', outputs: {} }),
    };

    // Act
    const checks = await preflight(failed, { stage, rotation: false });

    // Assess
    expect(byName(checks, 'Service stack').ok).toBe(false);
    expect(byName(checks, 'Service stack').detail).toContain(
      'aws cloudformation delete-stack --stack-name Autopay-prod-Service',
    );
    // Nothing of it is deployed: its reservation is still to be made.
    expect(byName(checks, 'Lambda concurrency').detail).not.toContain('already deployed');
  });

  it('counts a deployed stage’s reservation as already taken', async () => {
    // Prepare
    await deployStage();
    lambdaAccount.unreserved = minimumUnreservedConcurrency;

    // Act
    const check = byName(await preflight(aws(), { stage, rotation: false }), 'Lambda concurrency');

    // Assess
    expect(check.ok).toBe(true);
    expect(check.detail).toContain('(already deployed)');
    expect(byName(await preflight(aws(), { stage, rotation: false }), 'Service stack')).toEqual({
      name: 'Service stack',
      ok: true,
      detail: 'Autopay-prod-Service is CREATE_COMPLETE.',
    });
  });

  it('lets a first deploy go ahead with rotation off, and refuses rotation on', async () => {
    // Act
    const off = byName(await preflight(aws(), { stage, rotation: false }), 'Secrets');
    const on = byName(await preflight(aws(), { stage, rotation: true }), 'Secrets');

    // Assess
    expect(off.ok).toBe(true);
    expect(on.ok).toBe(false);
    expect(on.detail).toContain(`Autopay-${stage}-Service does not exist yet`);
  });

  it('refuses rotation on while the gateway key is the generated placeholder', async () => {
    // Prepare
    const arns = await deployStage();

    // Act
    const before = await preflight(aws(), { stage, rotation: true });
    await clients.secretsManager.send(
      new PutSecretValueCommand({ SecretId: arns.gatewayApiKey, SecretString: 'sk_test_fake' }),
    );
    const after = await preflight(aws(), { stage, rotation: true });

    // Assess
    expect(byName(before, 'Secret gatewayApiKey')).toMatchObject({ ok: false });
    expect(byName(before, 'Secret gatewayApiKey').detail).toContain(arns.gatewayApiKey);
    expect(byName(after, 'Secret gatewayApiKey')).toMatchObject({ ok: true });
    // autopay makes the signing secret itself: its generated value is real once registered.
    expect(byName(after, 'Secret webhookSigningSecret')).toMatchObject({ ok: true });
  });
});
