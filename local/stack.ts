import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CreateTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import {
  type ExternalService,
  functionSpecs,
  type QueueName,
  type QueueSpec,
  queueNames,
  queueVariables,
  type SecretName,
  secretNames,
  wiring,
} from '#shared/wiring.ts';
import {
  freePort,
  localCredentials,
  localRegion,
  startDynamoDbLocal,
  startSecretsManagerLocal,
  startSqsLocal,
} from './emulators.ts';
import type { FaultPatch } from './faults.ts';
import {
  defaultGatewayApiKeys,
  type GatewayFaults,
  type GatewaySimulator,
  startGatewaySimulator,
} from './gateway-simulator.ts';
import { type LocalRoute, type StaticResponder, startLocalHttpApi } from './http-api.ts';
import { lambdaContext } from './lambda-context.ts';
import {
  type DuplicateDelivery,
  type QueuePoller,
  type SqsHandler,
  startQueuePoller,
} from './queue-poller.ts';
import {
  type RiskFaults,
  type RiskRules,
  type RiskSimulator,
  startRiskSimulator,
} from './risk-simulator.ts';
import { seedAgents } from './seed.ts';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface LocalStackOptions {
  /** Port of the local HTTP API; 0 picks a free one. */
  readonly apiPort?: number;
  /** POWERTOOLS_LOG_LEVEL for the functions (the wiring's level when not given). */
  readonly logLevel?: string;
  /** Whether to start the queue pollers (tests of one function may run without them). */
  readonly pollers?: boolean;
  readonly staticResponder?: StaticResponder;
  readonly gatewayFaults?: FaultPatch<GatewayFaults>;
  readonly riskFaults?: FaultPatch<RiskFaults>;
  readonly riskRules?: RiskRules;
  /** Fixes the simulators' random draws, for repeatable runs. */
  readonly seed?: number;
  /** Settings that replace the wiring's for every function (tests shorten backoffs with it). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Queue settings that replace the wiring's (tests lower maxReceiveCount with it). */
  readonly queues?: Partial<Record<QueueName, Partial<QueueSpec>>>;
  /** How often scheduled functions run locally (AWS runs them every few minutes). */
  readonly scheduleSeconds?: number;
  /** Whether the gateway simulator sends its callbacks to the local API (default: yes). */
  readonly callbacks?: boolean;
  /** Asked after each queue consumer invocation: true plays the consumer killed mid-batch. */
  readonly crashAfterInvoke?: () => boolean;
  /** Asked for each message a queue poller receives: a duplicate delivery to play, or none. */
  readonly duplicateDelivery?: (queue: QueueName) => DuplicateDelivery | undefined;
}

/** The secret the gateway simulator signs its callbacks with, until a rotation replaces it. */
export const localWebhookSecret = process.env.AUTOPAY_WEBHOOK_SECRET ?? 'whsec_autopay_local';

/** The local secret values: obviously fake, and the ones the simulators expect. */
const localSecretValues: Readonly<Record<SecretName, string>> = {
  gatewayApiKey: defaultGatewayApiKeys[0] ?? 'sk_local_gateway_key_not_secret',
  webhookSigningSecret: localWebhookSecret,
};

/** Where the gateway simulator posts its events: the callback route under GATEWAY_NAME. */
export function localCallbackUrl(apiUrl: string): string {
  return `${apiUrl}/v1/callbacks/${process.env.GATEWAY_NAME ?? 'simulator'}`;
}

export interface LocalStack {
  readonly apiUrl: string;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly secretsManagerEndpoint: string;
  readonly gateway: GatewaySimulator;
  readonly risk: RiskSimulator;
  /** Secret name → the id the functions read it by. */
  readonly secretIds: Readonly<Record<SecretName, string>>;
  readonly tableName: string;
  readonly queueUrls: Readonly<Record<QueueName, { url: string; arn: string; dlqUrl: string }>>;
  /** Clients bound to the emulators, for tests and operator tools. */
  readonly dynamodb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly secretsManager: SecretsManagerClient;
  /** Invokes one of the wiring's functions directly, as the Lambda Invoke API would. */
  invoke(functionName: string, event: unknown): Promise<unknown>;
  /** The environment the functions run with: endpoints, resource names, settings. */
  readonly environment: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

const tableName = `${wiring.service}-orders`;

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

export function localQueueName(queue: QueueName): string {
  return `${wiring.service}-${kebab(queue)}`;
}

/**
 * Starts everything `npm start` runs, in this process: DynamoDB Local (a Java child process),
 * fauxqs, the table and queues of the wiring, the seed agents, the local HTTP API and the queue
 * pollers. The handlers are the same modules Lambda runs, loaded after their environment is set.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started: Array<{ stop(): Promise<void> }> = [];
  let server: Server | undefined;
  const pollers: QueuePoller[] = [];
  const timers: NodeJS.Timeout[] = [];
  const stop = async () => {
    for (const timer of timers) clearInterval(timer);
    await Promise.allSettled(pollers.map((poller) => poller.stop()));
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    }
    await Promise.allSettled(started.reverse().map((emulator) => emulator.stop()));
  };

  try {
    const [dynamo, sqsEmulator, secrets, gateway, risk] = await Promise.all([
      startDynamoDbLocal(),
      startSqsLocal(),
      startSecretsManagerLocal(),
      startGatewaySimulator({
        ...(options.gatewayFaults ? { faults: options.gatewayFaults } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
      }),
      startRiskSimulator({
        ...(options.riskFaults ? { faults: options.riskFaults } : {}),
        ...(options.riskRules ? { rules: options.riskRules } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
      }),
    ]);
    started.push(dynamo, sqsEmulator, secrets, gateway, risk);

    Object.assign(process.env, {
      AWS_REGION: localRegion,
      AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsEmulator.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    });
    const clientConfig = { region: localRegion, credentials: localCredentials };
    const rawDynamo = new DynamoDBClient({ ...clientConfig, endpoint: dynamo.endpoint });
    const dynamodb = DynamoDBDocumentClient.from(rawDynamo, {
      marshallOptions: { removeUndefinedValues: true },
    });
    const sqs = new SQSClient({
      ...clientConfig,
      endpoint: sqsEmulator.endpoint,
      useQueueUrlAsEndpoint: false,
    });

    const secretsManager = new SecretsManagerClient({
      ...clientConfig,
      endpoint: secrets.endpoint,
    });

    await createTable(rawDynamo);
    const queueSpecs = Object.fromEntries(
      queueNames.map((queue) => [queue, { ...wiring.queues[queue], ...options.queues?.[queue] }]),
    ) as Record<QueueName, QueueSpec>;
    const queueUrls = await createQueues(sqs, queueSpecs);
    const secretIds = await createSecrets(secretsManager);
    const agents = new DynamoDbAgentDirectory(dynamodb, tableName);
    await Promise.all(seedAgents.map((agent) => agents.put(agent)));

    const environment = setFunctionEnvironment(
      queueUrls,
      queueSpecs,
      secretIds,
      { paymentGateway: gateway.url, riskEngine: risk.url },
      {
        ...options.environment,
        ...(options.logLevel ? { POWERTOOLS_LOG_LEVEL: options.logLevel } : {}),
      },
    );
    const handlers = await loadHandlers();

    const routes: LocalRoute[] = Object.entries(functionSpecs).flatMap(([name, spec]) =>
      spec.routes.map((route) => ({
        ...route,
        functionName: name,
        timeoutSeconds: spec.timeoutSeconds,
        handler: handlers[name] as LocalRoute['handler'],
      })),
    );
    const apiPort = options.apiPort ?? 0;
    server = await startLocalHttpApi(
      routes,
      apiPort === 0 ? await freePort() : apiPort,
      options.staticResponder,
    );
    const address = server.address();
    const apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : apiPort}`;

    if (options.callbacks ?? true) {
      gateway.setCallbackUrl(localCallbackUrl(apiUrl));
    }
    gateway.setWebhookSecrets([localSecretValues.webhookSigningSecret]);

    if (options.pollers ?? true) {
      const every = (options.scheduleSeconds ?? 30) * 1000;
      for (const [name, spec] of Object.entries(functionSpecs)) {
        if (!spec.schedule) continue;
        const run = handlers[name] as (event: unknown, context: unknown) => Promise<unknown>;
        timers.push(
          setInterval(() => {
            run(scheduledEvent(name), lambdaContext(name, spec.timeoutSeconds)).catch(
              (error: unknown) => process.stderr.write(`${name}: ${String(error)}\n`),
            );
          }, every),
        );
      }
      const duplicateDelivery = options.duplicateDelivery;
      for (const [name, spec] of Object.entries(functionSpecs)) {
        const source = spec.consumes;
        if (!source) continue;
        const queue = queueUrls[source.queue];
        pollers.push(
          startQueuePoller({
            sqs,
            queueUrl: queue.url,
            queueArn: queue.arn,
            functionName: name,
            timeoutSeconds: spec.timeoutSeconds,
            handler: handlers[name] as SqsHandler,
            batchSize: source.batchSize,
            concurrency: Math.min(source.maxConcurrency, 4),
            onInvokeError: (error) => process.stderr.write(`${name}: ${String(error)}\n`),
            ...(options.crashAfterInvoke ? { crashAfterInvoke: options.crashAfterInvoke } : {}),
            ...(duplicateDelivery ? { duplicate: () => duplicateDelivery(source.queue) } : {}),
          }),
        );
      }
    }

    return {
      apiUrl,
      dynamodbEndpoint: dynamo.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      secretsManagerEndpoint: secrets.endpoint,
      gateway,
      risk,
      secretIds,
      secretsManager,
      tableName,
      queueUrls,
      dynamodb,
      sqs,
      environment: {
        ...environment,
        AWS_REGION: localRegion,
        AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_SQS: sqsEmulator.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      },
      invoke: async (functionName, event) => {
        const spec = functionSpecs[functionName];
        const run = handlers[functionName] as
          | ((event: unknown, context: unknown) => Promise<unknown>)
          | undefined;
        if (!spec || !run) throw new Error(`No function named ${functionName}`);
        return run(event, lambdaContext(functionName, spec.timeoutSeconds));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function createTable(client: DynamoDBClient): Promise<void> {
  await client.send(createTableCommand(tableName));
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: wiring.table.ttlAttribute, Enabled: true },
    }),
  );
}

/** The table of the wiring, with its indexes, as CreateTable input. */
export function createTableCommand(name: string): CreateTableCommand {
  const { partitionKey, indexes } = wiring.table;
  const keys = new Set([
    partitionKey,
    ...indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ]);
  return new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...keys].map((key) => ({ AttributeName: key, AttributeType: 'S' })),
    KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  });
}

async function createQueues(
  sqs: SQSClient,
  specs: Readonly<Record<QueueName, QueueSpec>>,
): Promise<LocalStack['queueUrls']> {
  const entries = await Promise.all(
    queueNames.map(async (queue) => {
      const spec = specs[queue];
      const dlq = await sqs.send(
        new CreateQueueCommand({
          QueueName: `${localQueueName(queue)}-dlq`,
          Attributes: { MessageRetentionPeriod: String(spec.dlqRetentionDays * 86_400) },
        }),
      );
      const dlqArn = await queueArn(sqs, dlq.QueueUrl ?? '');
      const main = await sqs.send(
        new CreateQueueCommand({
          QueueName: localQueueName(queue),
          Attributes: {
            VisibilityTimeout: String(spec.visibilityTimeoutSeconds),
            MessageRetentionPeriod: String(spec.retentionDays * 86_400),
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: dlqArn,
              maxReceiveCount: spec.maxReceiveCount,
            }),
          },
        }),
      );
      const url = main.QueueUrl ?? '';
      return [queue, { url, arn: await queueArn(sqs, url), dlqUrl: dlq.QueueUrl ?? '' }] as const;
    }),
  );
  return Object.fromEntries(entries) as LocalStack['queueUrls'];
}

/** The event an EventBridge schedule rule sends its target function. */
function scheduledEvent(name: string) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: localRegion,
    resources: [`arn:aws:events:${localRegion}:000000000000:rule/${name}`],
    detail: {},
  };
}

async function createSecrets(client: SecretsManagerClient): Promise<LocalStack['secretIds']> {
  const entries = await Promise.all(
    secretNames.map(async (secret) => {
      const created = await client.send(
        new CreateSecretCommand({
          Name: `${wiring.service}/local/${secret}`,
          SecretString: localSecretValues[secret],
        }),
      );
      return [secret, created.ARN ?? ''] as const;
    }),
  );
  return Object.fromEntries(entries) as LocalStack['secretIds'];
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = result.Attributes?.QueueArn;
  if (!arn) throw new Error(`No ARN for ${queueUrl}`);
  return arn;
}

/**
 * Every function runs in this one process, so their environments merge into process.env; two
 * functions giving one variable different values would make local differ from AWS, so refuse.
 */
function setFunctionEnvironment(
  queueUrls: LocalStack['queueUrls'],
  queueSpecs: Readonly<Record<QueueName, QueueSpec>>,
  secretIds: LocalStack['secretIds'],
  endpoints: Readonly<Record<ExternalService, string>>,
  overrides: Readonly<Record<string, string>>,
): Record<string, string> {
  const merged: Record<string, string> = { TABLE_NAME: tableName };
  for (const [name, spec] of Object.entries(functionSpecs)) {
    const own: Record<string, string> = { ...spec.environment };
    for (const [variable, queue] of Object.entries(spec.sendsTo)) {
      own[variable] = queueUrls[queue].url;
    }
    if (spec.consumes) {
      const variables = queueVariables(spec.consumes.queue);
      own[variables.url] = queueUrls[spec.consumes.queue].url;
      own[variables.maxReceiveCount] = String(queueSpecs[spec.consumes.queue].maxReceiveCount);
    }
    for (const [variable, secret] of Object.entries(spec.secrets ?? {})) {
      own[variable] = secretIds[secret];
    }
    for (const [variable, service] of Object.entries(spec.endpoints ?? {})) {
      own[variable] = endpoints[service];
    }
    for (const [variable, value] of Object.entries(own)) {
      if (merged[variable] !== undefined && merged[variable] !== value) {
        throw new Error(`${name} sets ${variable} differently from another function`);
      }
      merged[variable] = value;
    }
  }
  Object.assign(process.env, merged, overrides);
  return { ...merged, ...overrides };
}

async function loadHandlers(): Promise<Record<string, unknown>> {
  const entries = await Promise.all(
    Object.entries(functionSpecs).map(async ([name, spec]) => {
      const module = (await import(pathToFileURL(join(projectRoot, spec.entry)).href)) as {
        handler?: unknown;
      };
      if (typeof module.handler !== 'function') {
        throw new Error(`${spec.entry} exports no handler`);
      }
      return [name, module.handler] as const;
    }),
  );
  return Object.fromEntries(entries);
}
