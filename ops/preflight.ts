import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  GetAccountSettingsCommand,
  GetLayerVersionByArnCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  functionSpecs,
  reservedConcurrencyOfStage,
  type SecretName,
  secretNames,
  stackOutputs,
  withCallbackConcurrency,
} from '#shared/wiring.ts';
import cdkJson from '../cdk.json' with { type: 'json' };
import { powertoolsLayerParameter } from '../infra/bundling.ts';

/*
 * What a deploy of a stage needs from the account and region, checked before it is tried: every
 * call is a read (SSM GetParameter, Lambda GetAccountSettings and GetLayerVersionByArn,
 * CloudFormation DescribeStacks, Secrets Manager DescribeSecret), and no secret value is read.
 */

/** The calls preflight makes, one method each, so a test can point them at emulators. */
export interface PreflightAws {
  /** SSM GetParameter: the value, or undefined when there is no such parameter. */
  parameter(name: string): Promise<string | undefined>;
  /** Lambda GetAccountSettings: the account's concurrency limit and what is left unreserved. */
  accountConcurrency(): Promise<{ readonly limit: number; readonly unreserved: number }>;
  /** Lambda GetLayerVersionByArn: the runtimes and architectures a layer version declares. */
  layerCompatibility(
    arn: string,
  ): Promise<{ readonly runtimes: readonly string[]; readonly architectures: readonly string[] }>;
  /** CloudFormation DescribeStacks: a stack's status and outputs, or undefined if there is none. */
  describeStack(stackName: string): Promise<DeployedStack | undefined>;
  /** Secrets Manager DescribeSecret: the staging labels of each version of a secret. */
  secretVersions(secretId: string): Promise<Readonly<Record<string, readonly string[]>>>;
}

export interface DeployedStack {
  readonly status: string;
  readonly outputs: Readonly<Record<string, string>>;
}

export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What was found and, when something is missing, what to do about it. */
  readonly detail: string;
}

export interface PreflightOptions {
  readonly stage: string;
  /** The deploy about to be made turns rotation on: the secrets must hold real values. */
  readonly rotation: boolean;
  /**
   * The deploy's `callbackConcurrency` (`-c callbackConcurrency=N`); unset, cdk.json's, or the
   * wiring's reservation for the callback function.
   */
  readonly callbackConcurrency?: number;
}

/** The bootstrap stack version the synthesized templates require (their BootstrapVersion rule). */
export const requiredBootstrapVersion = 6;
/** Lambda refuses a reservation that leaves the account fewer unreserved executions than this. */
export const minimumUnreservedConcurrency = 100;
export const runtime = 'nodejs24.x';
export const architecture = 'arm64';

/**
 * Secrets whose value autopay makes itself and gives the gateway (OPERATIONS.md, "put the real
 * secrets in place"): its generated value is a real one once registered. Every other secret holds
 * a key issued by someone else, and its generated value is only a placeholder.
 */
const madeByAutopay: ReadonlySet<SecretName> = new Set<SecretName>(['webhookSigningSecret']);

export async function preflight(
  aws: PreflightAws,
  options: PreflightOptions,
): Promise<PreflightCheck[]> {
  const serviceStack = `Autopay-${options.stage}-Service`;
  const stack = await aws.describeStack(serviceStack);
  // A first deploy that failed leaves its stack behind with nothing in it.
  const deployed = stack !== undefined && stack.status !== 'ROLLBACK_COMPLETE';
  const checks = await Promise.all([
    attempt('CDK bootstrap', () => bootstrapCheck(aws)),
    attempt('Powertools layer', () => runtimeChecks(aws)),
    attempt('Lambda concurrency', () =>
      concurrencyCheck(aws, deployed, options.callbackConcurrency ?? contextCallbackConcurrency()),
    ),
    serviceStackCheck(serviceStack, stack),
    attempt('Secrets', () =>
      secretChecks(aws, options, serviceStack, deployed ? stack.outputs : undefined),
    ),
  ]);
  return checks.flat();
}

/** CloudFormation updates a stack only from a settled state, and never one a first deploy failed. */
function serviceStackCheck(name: string, stack: DeployedStack | undefined): PreflightCheck {
  const check = 'Service stack';
  if (stack === undefined) {
    return {
      name: check,
      ok: true,
      detail: `${name} does not exist yet: this is its first deploy.`,
    };
  }
  if (stack.status === 'ROLLBACK_COMPLETE') {
    return {
      name: check,
      ok: false,
      detail:
        `${name} is ROLLBACK_COMPLETE, left by a first deploy that failed, and CloudFormation ` +
        `cannot update it: read why in its events, then aws cloudformation delete-stack ` +
        `--stack-name ${name} and deploy again.`,
    };
  }
  if (stack.status.endsWith('_IN_PROGRESS') || stack.status.endsWith('_FAILED')) {
    return {
      name: check,
      ok: false,
      detail: `${name} is ${stack.status}: wait for it to settle, or fix what failed, first.`,
    };
  }
  return { name: check, ok: true, detail: `${name} is ${stack.status}.` };
}

/** A call that fails (access denied, throttled) fails its check, not the others. */
async function attempt(
  name: string,
  check: () => Promise<PreflightCheck | PreflightCheck[]>,
): Promise<PreflightCheck[]> {
  try {
    return [await check()].flat();
  } catch (error) {
    if (/credential/i.test(String(error))) throw error;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return [{ name, ok: false, detail: `Could not check: ${reason}` }];
  }
}

async function bootstrapCheck(aws: PreflightAws): Promise<PreflightCheck> {
  const name = 'CDK bootstrap';
  const parameter = `/cdk-bootstrap/${bootstrapQualifier()}/version`;
  const value = await aws.parameter(parameter);
  if (value === undefined) {
    return {
      name,
      ok: false,
      detail:
        `${parameter} does not exist: this account and region are not bootstrapped. Run ` +
        'npx cdk bootstrap aws://<account>/<region>.',
    };
  }
  const version = Number(value);
  return version >= requiredBootstrapVersion
    ? { name, ok: true, detail: `${parameter} is ${version}.` }
    : {
        name,
        ok: false,
        detail:
          `${parameter} is ${value}; the stacks need ${requiredBootstrapVersion} or later. Run ` +
          'npx cdk bootstrap aws://<account>/<region> again to upgrade it.',
      };
}

/**
 * Lambda has no read-only call that lists a region's runtimes. The nearest is the Powertools
 * layer the functions need anyway: AWS publishes it per region, with the runtimes and
 * architectures it supports there.
 */
async function runtimeChecks(aws: PreflightAws): Promise<PreflightCheck[]> {
  const layerArn = await aws.parameter(powertoolsLayerParameter);
  if (layerArn === undefined) {
    return [
      {
        name: 'Powertools layer',
        ok: false,
        detail:
          `${powertoolsLayerParameter} does not exist in this region: AWS publishes no layer of ` +
          'the pinned Powertools release here, and the service stack reads its ARN from there.',
      },
    ];
  }
  const layer = { name: 'Powertools layer', ok: true, detail: `${layerArn}.` };
  const { runtimes, architectures } = await aws.layerCompatibility(layerArn);
  const supported = runtimes.includes(runtime) && architectures.includes(architecture);
  return [
    layer,
    {
      name: `${runtime} on ${architecture}`,
      ok: supported,
      detail: supported
        ? `The region's Powertools layer declares ${runtime} on ${architecture}.`
        : `The region's Powertools layer declares ${runtimes.join(', ') || 'no runtime'} on ` +
          `${architectures.join(', ') || 'no architecture'}: ${runtime} on ${architecture} may ` +
          'not be offered in this region.',
    },
  ];
}

async function concurrencyCheck(
  aws: PreflightAws,
  deployed: boolean,
  callbackConcurrency: number | undefined,
): Promise<PreflightCheck> {
  const name = 'Lambda concurrency';
  const reserved = reservedConcurrencyOfStage(
    withCallbackConcurrency(functionSpecs, callbackConcurrency),
  );
  const { limit, unreserved } = await aws.accountConcurrency();
  // A deployed stage's reservations are already out of the unreserved pool.
  const left = deployed ? unreserved : unreserved - reserved;
  const found =
    `The account may run ${limit} executions at once, ${unreserved} of them unreserved; the ` +
    `stage reserves ${reserved}${deployed ? ' (already deployed)' : ''}, which leaves ${left}.`;
  return left >= minimumUnreservedConcurrency
    ? { name, ok: true, detail: found }
    : {
        name,
        ok: false,
        detail:
          `${found} Lambda keeps at least ${minimumUnreservedConcurrency} unreserved and refuses ` +
          'the reservation: ask for a higher "Concurrent executions" quota in Service Quotas.',
      };
}

async function secretChecks(
  aws: PreflightAws,
  options: PreflightOptions,
  serviceStack: string,
  outputs: Readonly<Record<string, string>> | undefined,
): Promise<PreflightCheck[]> {
  if (outputs === undefined) {
    return [
      {
        name: 'Secrets',
        ok: !options.rotation,
        detail:
          `${serviceStack} does not exist yet. The first deploy creates the secrets with ` +
          'generated placeholders: deploy it with rotation off, store the real keys, then turn ' +
          'rotation on.',
      },
    ];
  }
  return Promise.all(
    secretNames.map(async (secret): Promise<PreflightCheck> => {
      const name = `Secret ${secret}`;
      const arn = outputs[stackOutputs.secretArn(secret)];
      if (!arn) {
        return {
          name,
          ok: false,
          detail: `${serviceStack} has no output ${stackOutputs.secretArn(secret)}.`,
        };
      }
      const versions = await aws.secretVersions(arn);
      // put-secret-value adds a version and moves AWSCURRENT to it; a secret with one version
      // still holds the value CloudFormation generated.
      if (Object.keys(versions).length > 1) {
        return { name, ok: true, detail: 'A value was stored after the stack created it.' };
      }
      if (madeByAutopay.has(secret)) {
        return {
          name,
          ok: true,
          detail:
            'Still the value the stack generated: fine once it is registered with the gateway.',
        };
      }
      return {
        name,
        ok: !options.rotation,
        detail:
          'Still the placeholder the stack generated: store the real value (aws secretsmanager ' +
          `put-secret-value --secret-id ${arn} ...) before turning rotation on.`,
      };
    }),
  );
}

/** `callbackConcurrency` when cdk.json sets it for every stage. */
function contextCallbackConcurrency(): number | undefined {
  const context: Record<string, unknown> = cdkJson.context;
  const value = Number(context.callbackConcurrency);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

function bootstrapQualifier(): string {
  const context: Record<string, unknown> = cdkJson.context;
  const qualifier = context['@aws-cdk/core:bootstrapQualifier'];
  return typeof qualifier === 'string' ? qualifier : 'hnb659fds';
}

/** The calls made with the SDK, through the clients given (the default chain in the CLI). */
export function sdkPreflightAws(clients: {
  readonly ssm: SSMClient;
  readonly lambda: LambdaClient;
  readonly cloudformation: CloudFormationClient;
  readonly secretsManager: SecretsManagerClient;
}): PreflightAws {
  return {
    async parameter(name) {
      try {
        const found = await clients.ssm.send(new GetParameterCommand({ Name: name }));
        return found.Parameter?.Value;
      } catch (error) {
        if ((error as { name?: string }).name === 'ParameterNotFound') return undefined;
        throw error;
      }
    },
    async accountConcurrency() {
      const settings = await clients.lambda.send(new GetAccountSettingsCommand({}));
      return {
        limit: settings.AccountLimit?.ConcurrentExecutions ?? 0,
        unreserved: settings.AccountLimit?.UnreservedConcurrentExecutions ?? 0,
      };
    },
    async layerCompatibility(arn) {
      const layer = await clients.lambda.send(new GetLayerVersionByArnCommand({ Arn: arn }));
      return {
        runtimes: layer.CompatibleRuntimes ?? [],
        architectures: layer.CompatibleArchitectures ?? [],
      };
    },
    async describeStack(stackName) {
      try {
        const described = await clients.cloudformation.send(
          new DescribeStacksCommand({ StackName: stackName }),
        );
        const stack = described.Stacks?.[0];
        if (!stack) return undefined;
        return {
          status: String(stack.StackStatus),
          outputs: Object.fromEntries(
            (stack.Outputs ?? []).map((output) => [
              output.OutputKey ?? '',
              output.OutputValue ?? '',
            ]),
          ),
        };
      } catch (error) {
        if (/does not exist/.test(String(error))) return undefined;
        throw error;
      }
    },
    async secretVersions(secretId) {
      const described = await clients.secretsManager.send(
        new DescribeSecretCommand({ SecretId: secretId }),
      );
      return described.VersionIdsToStages ?? {};
    },
  };
}

/** One line per check, and whether the deploy may go ahead. */
export function preflightReport(checks: readonly PreflightCheck[]): {
  readonly lines: string[];
  readonly ok: boolean;
} {
  return {
    lines: checks.map(
      (check) => `${check.ok ? 'ok     ' : 'MISSING'} ${check.name}: ${check.detail}`,
    ),
    ok: checks.every((check) => check.ok),
  };
}

/** The clients of the standard AWS credential chain, for `npm run ops -- preflight`. */
export function defaultPreflightAws(): PreflightAws {
  return sdkPreflightAws({
    ssm: new SSMClient({}),
    lambda: new LambdaClient({}),
    cloudformation: new CloudFormationClient({}),
    secretsManager: new SecretsManagerClient({}),
  });
}
