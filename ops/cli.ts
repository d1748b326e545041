import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  LambdaClient,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import type { RotationEvent } from '#domain/rotation.ts';
import { readDeadlines } from '#shared/config.ts';
import { functionSpecs, queueNames, stackOutputs, wiring } from '#shared/wiring.ts';
import { localCredentials, localRegion } from '../local/runtime/emulators.ts';
import { projectRoot } from '../local/runtime/local-runtime.ts';
import { type LocalState, localStateFile } from '../local/runtime/local-state.ts';
import { driveRotation } from '../local/runtime/rotation.ts';
import { OpsError, type OpsTarget, opsUsage, redriveByResending, runOps } from './commands.ts';
import { defaultPreflightAws, preflight, preflightReport } from './preflight.ts';
import { rotateStripeApiKey } from './stripe-key.ts';

/** As the functions' own client: a field left undefined is not written, rather than refused. */
const marshalling = { marshallOptions: { removeUndefinedValues: true } };

/** The local stack as an ops target; `invoke` runs a function of the wiring in this process. */
export function localTarget(
  state: LocalState,
  invoke: (functionName: string, event: unknown) => Promise<unknown>,
): OpsTarget {
  const env = state.environment;
  const config = { region: localRegion, credentials: localCredentials };
  const sqs = new SQSClient({
    ...config,
    endpoint: env.AWS_ENDPOINT_URL_SQS,
    useQueueUrlAsEndpoint: false,
  });
  return {
    name: 'the local stack',
    dynamodb: DynamoDBDocumentClient.from(
      new DynamoDBClient({ ...config, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB }),
      marshalling,
    ),
    sqs,
    tableName: state.tableName,
    queues: state.queueUrls,
    deadlines: readDeadlines(env),
    async redrive(queue) {
      const { url, dlqUrl } = state.queueUrls[queue];
      // The local SQS has no StartMessageMoveTask: receive and re-send instead.
      const moved = await redriveByResending(sqs, dlqUrl, url);
      return `Moved ${moved} message(s) from the ${queue} DLQ back to its queue.`;
    },
    async paymentPolling(enabled) {
      // The local payment poller reads the switch itself (local/runtime/local-runtime.ts).
      return enabled
        ? 'The local payment poller receives again within 1 s.'
        : 'The local payment poller stops receiving within 1 s; a batch it holds finishes.';
    },
    operator: operatorName(),
    async rotate(secret) {
      const token = await driveRotation(
        (event: RotationEvent) => invoke('keyRotation', event),
        state.secretIds[secret],
      );
      return `Rotated ${secret}: version ${token} is now AWSCURRENT.`;
    },
    rotateStripeApiKey: (newKey) =>
      rotateStripeApiKey(
        {
          store: new SecretsManagerStore(
            new SecretsManagerClient({
              ...config,
              endpoint: env.AWS_ENDPOINT_URL_SECRETS_MANAGER,
            }),
          ),
          secretId: state.secretIds.gatewayApiKey,
          // The simulator's Stripe API when the local stack runs with GATEWAY=stripe.
          stripeUrl: env.GATEWAY_NAME === 'stripe' ? env.GATEWAY_URL : undefined,
        },
        newKey,
      ),
  };
}

/** A deployed stage as an ops target, found through its service stack's outputs. */
export async function stageTarget(stage: string): Promise<OpsTarget> {
  const stackName = `Autopay-${stage}-Service`;
  let outputs: Record<string, string>;
  try {
    const described = await new CloudFormationClient({}).send(
      new DescribeStacksCommand({ StackName: stackName }),
    );
    outputs = Object.fromEntries(
      (described.Stacks?.[0]?.Outputs ?? []).map((output) => [
        output.OutputKey ?? '',
        output.OutputValue ?? '',
      ]),
    );
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (name === 'CredentialsProviderError' || /credential/i.test(String(error))) {
      throw new OpsError('No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID.');
    }
    if (/does not exist/.test(String(error))) {
      throw new OpsError(`No stage '${stage}': stack ${stackName} does not exist.`);
    }
    throw error;
  }
  const output = (key: string) => {
    const value = outputs[key];
    if (!value) throw new OpsError(`${stackName} has no output ${key}: deploy the current code.`);
    return value;
  };
  const sqs = new SQSClient({});
  return {
    name: `stage ${stage}`,
    dynamodb: DynamoDBDocumentClient.from(new DynamoDBClient({}), marshalling),
    sqs,
    tableName: output(stackOutputs.tableName),
    queues: Object.fromEntries(
      queueNames.map((queue) => [
        queue,
        { url: output(stackOutputs.queueUrl(queue)), dlqUrl: output(stackOutputs.dlqUrl(queue)) },
      ]),
    ) as OpsTarget['queues'],
    // A deployed function runs with the wiring's settings.
    deadlines: readDeadlines(wiring.functions.orderLifecycle.environment),
    async redrive(queue) {
      const task = await sqs.send(
        new StartMessageMoveTaskCommand({
          SourceArn: output(stackOutputs.dlqArn(queue)),
          DestinationArn: output(stackOutputs.queueArn(queue)),
        }),
      );
      return `Started move task ${task.TaskHandle} from the ${queue} DLQ back to its queue.`;
    },
    async paymentPolling(enabled) {
      // Disabling a mapping stops Lambda's polling of the queue: messages stay in it and no
      // receive counts toward maxReceiveCount; enabling it resumes polling where it stopped.
      const lambda = new LambdaClient({});
      const listed = await lambda.send(
        new ListEventSourceMappingsCommand({
          EventSourceArn: output(stackOutputs.queueArn('paymentSubmission')),
        }),
      );
      const mappings = (listed.EventSourceMappings ?? []).filter((mapping) => mapping.UUID);
      if (mappings.length === 0) {
        throw new OpsError(`${stackName} has no event source mapping on the payment queue.`);
      }
      const states = [];
      for (const mapping of mappings) {
        const updated = await lambda.send(
          new UpdateEventSourceMappingCommand({ UUID: mapping.UUID, Enabled: enabled }),
        );
        states.push(`${mapping.UUID} ${updated.State ?? '?'}`);
      }
      return (
        `Payment event source mapping ${states.join(', ')}: Lambda ` +
        (enabled
          ? 'resumes polling within seconds.'
          : 'stops polling within seconds; batches already received finish.')
      );
    },
    operator: operatorName(),
    async rotate(secret) {
      const rotated = await new SecretsManagerClient({}).send(
        new RotateSecretCommand({ SecretId: output(stackOutputs.secretArn(secret)) }),
      );
      return `Rotation of ${secret} started: version ${rotated.VersionId}.`;
    },
    rotateStripeApiKey: (newKey) =>
      rotateStripeApiKey(
        {
          store: new SecretsManagerStore(new SecretsManagerClient({})),
          secretId: output(stackOutputs.secretArn('gatewayApiKey')),
        },
        newKey,
      ),
  };
}

/** Who runs the tools, as recorded with a pause: OPS_OPERATOR, or the local user and host. */
function operatorName(): string {
  return process.env.OPS_OPERATOR ?? `${userInfo().username}@${hostname()}`;
}

async function localTargetFromFile(): Promise<OpsTarget> {
  let state: LocalState;
  try {
    state = JSON.parse(readFileSync(localStateFile, 'utf8')) as LocalState;
  } catch {
    throw new OpsError(`No local stack is running (${localStateFile} is missing): npm start`);
  }
  Object.assign(process.env, state.environment);
  return localTarget(state, async (functionName, event) => {
    const entry = functionSpecs[functionName]?.entry;
    if (!entry) throw new OpsError(`The wiring has no function ${functionName}`);
    const module = (await import(pathToFileURL(join(projectRoot, entry)).href)) as {
      handler: (event: unknown, context: unknown) => Promise<unknown>;
    };
    return module.handler(event, {});
  });
}

/** What the operator piped in (a key is never an argument: it would land in the shell history). */
async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: readonly string[]): Promise<void> {
  const stageAt = argv.indexOf('--stage');
  const stage = stageAt >= 0 ? argv[stageAt + 1] : undefined;
  if (stageAt >= 0 && !stage) throw new OpsError('--stage needs a stage name, e.g. --stage dev');
  const args = stageAt >= 0 ? argv.filter((_, i) => i !== stageAt && i !== stageAt + 1) : argv;
  if (args.length === 0) throw new OpsError(opsUsage);
  if (args[0] === 'preflight') {
    await runPreflight(stage, args.slice(1));
    return;
  }
  const target = stage ? await stageTarget(stage) : await localTargetFromFile();
  await runOps(args, target, (line) => process.stdout.write(`${line}\n`), readStandardInput);
}

/**
 * `preflight [--rotation on] [--callback-concurrency N]`: checks the account and region before a
 * deploy of the stage.
 */
async function runPreflight(stage: string | undefined, args: readonly string[]): Promise<void> {
  if (!stage) throw new OpsError('preflight needs the stage it checks for: --stage <stage>');
  const rotationAt = args.indexOf('--rotation');
  const rotation = rotationAt >= 0 ? args[rotationAt + 1] : 'off';
  if (rotation !== 'on' && rotation !== 'off') {
    throw new OpsError(`--rotation is on or off, got '${rotation}'`);
  }
  const concurrencyAt = args.indexOf('--callback-concurrency');
  const callbackConcurrency = concurrencyAt >= 0 ? Number(args[concurrencyAt + 1]) : undefined;
  if (
    callbackConcurrency !== undefined &&
    !(Number.isInteger(callbackConcurrency) && callbackConcurrency > 0)
  ) {
    throw new OpsError(
      `--callback-concurrency is a whole number from 1, got '${args[concurrencyAt + 1]}'`,
    );
  }
  let checks: Awaited<ReturnType<typeof preflight>>;
  try {
    checks = await preflight(defaultPreflightAws(), {
      stage,
      rotation: rotation === 'on',
      ...(callbackConcurrency === undefined ? {} : { callbackConcurrency }),
    });
  } catch (error) {
    if (/credential/i.test(String(error))) {
      throw new OpsError('No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID.');
    }
    throw error;
  }
  const { lines, ok } = preflightReport(checks);
  for (const line of lines) process.stdout.write(`${line}\n`);
  if (!ok) throw new OpsError(`Stage ${stage} is not ready to deploy: see MISSING above.`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof OpsError ? error.message : String(error)}\n`);
    process.exit(error instanceof OpsError ? 2 : 1);
  }
}
