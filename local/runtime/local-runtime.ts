import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CreateTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbControlPanel } from '#adapters/dynamodb-controls.ts';
import { itemPrefixes } from '#adapters/table-keys.ts';
import { type BoundResources, functionEnvironment } from '#shared/function-environment.ts';
import {
  functionSpecs,
  type QueueName,
  type QueueSpec,
  queueNames,
  type SecretName,
  secretNames,
  wiring,
} from '#shared/wiring.ts';
import type { FaultPatch } from '../simulators/faults.ts';
import type { GatewayFaults } from '../simulators/gateway/fault-settings.ts';
import { defaultGatewayApiKeys } from '../simulators/gateway/keys.ts';
import { type GatewaySimulator, startGatewaySimulator } from '../simulators/gateway/server.ts';
import { localRiskCredentials } from '../simulators/risk/contract.ts';
import type { RiskFaults } from '../simulators/risk/fault-settings.ts';
import type { RiskRules } from '../simulators/risk/rules.ts';
import { type RiskSimulator, startRiskSimulator } from '../simulators/risk/server.ts';
import {
  type Emulator,
  freePort,
  localCredentials,
  localRegion,
  startDynamoDbLocal,
  startSecretsManagerLocal,
  startSqsLocal,
} from './emulators.ts';
import {
  type LocalFunctionUrl,
  type LocalRoute,
  type StaticResponder,
  startLocalHttpApi,
} from './http-api.ts';
import { lambdaContext } from './lambda-context.ts';
import {
  BatchHold,
  type DuplicateDelivery,
  type QueuePoller,
  type SqsHandler,
  startQueuePoller,
} from './queue-poller.ts';
import { seedAgents } from './seed.ts';
import { type StreamHandler, type StreamPoller, startStreamPoller } from './stream-poller.ts';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface LocalRuntimeOptions {
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
  /**
   * Which gateway protocol the functions speak to the simulator: its own (`simulator`, the
   * default) or Stripe's, through the official SDK (`stripe`).
   */
  readonly gateway?: LocalGateway;
  /**
   * Wraps each function's handler where the local platform calls it (HTTP API, pollers,
   * schedules, invoke): the benchmark times invocations and counts their log bytes with it.
   */
  readonly wrapHandler?: (functionName: string, handler: LocalHandler) => LocalHandler;
  /** Told of each batch a queue poller gathers, before it invokes its function with it. */
  readonly onQueueBatch?: (
    functionName: string,
    batch: { readonly receives: number; readonly messages: number },
  ) => void;
}

export type LocalHandler = (event: unknown, context: unknown) => Promise<unknown>;

export const localGateways = ['simulator', 'stripe'] as const;
export type LocalGateway = (typeof localGateways)[number];

/** The gateway a run uses: the option, else the simulator's own protocol. */
export function localGatewayOf(options: { readonly gateway?: LocalGateway }): LocalGateway {
  return options.gateway ?? 'simulator';
}

/**
 * The gateway named by a command line or the GATEWAY variable (`npm start`, the chaos run);
 * tests name theirs, so a developer's shell never changes what they run.
 */
export function parseLocalGateway(value: string | undefined): LocalGateway {
  const chosen = value ?? 'simulator';
  if (!(localGateways as readonly string[]).includes(chosen)) {
    throw new Error(`GATEWAY must be one of ${localGateways.join(', ')}, not ${chosen}`);
  }
  return chosen as LocalGateway;
}

/** The local Stripe key the simulator's Stripe API accepts: a test key, obviously fake. */
export const localStripeApiKey = 'sk_test_autopay_local';

/** Who pays locally at the simulated Stripe: one customer and Stripe's test Visa card. */
export const localStripePayers = {
  default: { customer: 'cus_autopay_local', paymentMethod: 'pm_card_visa' },
} as const;

/** The secret the gateway simulator signs its callbacks with, until a rotation replaces it. */
export const localWebhookSecret = process.env.AUTOPAY_WEBHOOK_SECRET ?? 'whsec_autopay_local';

/** The local secret values: obviously fake, and the ones the simulators expect. */
function localSecretValues(gateway: LocalGateway): Readonly<Record<SecretName, string>> {
  return {
    gatewayApiKey:
      gateway === 'stripe'
        ? localStripeApiKey
        : (defaultGatewayApiKeys[0] ?? 'sk_local_gateway_key_not_secret'),
    webhookSigningSecret: localWebhookSecret,
    riskEngineCredentials: JSON.stringify(localRiskCredentials),
    webhookEndpointKey: 'whkey_autopay_local_not_secret',
  };
}

/** Settings that differ locally from AWS: endpoints on this machine may speak plain http. */
const localSettings: Readonly<Record<string, string>> = { WEBHOOK_URL_POLICY: 'https-or-loopback' };

/** Where the gateway simulator posts its events: the callback route under GATEWAY_NAME. */
export function localCallbackUrl(apiUrl: string): string {
  return `${apiUrl}/v1/callbacks/${process.env.GATEWAY_NAME ?? 'simulator'}`;
}

export interface LocalRuntime {
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
  /**
   * One hold per queue over the batches its consumer's poller gathers (see `BatchHold`): unused
   * unless a tool holds one, so the pollers keep Lambda's SQS behaviour.
   */
  readonly batchHolds: Readonly<Record<QueueName, BatchHold>>;
  /** Invokes one of the wiring's functions directly, as the Lambda Invoke API would. */
  invoke(functionName: string, event: unknown): Promise<unknown>;
  /** The environment the functions run with: endpoints, resource names, settings. */
  readonly environment: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

const tableName = `${wiring.service}-orders`;
/** How often scheduled functions run locally unless told (AWS runs them every few minutes). */
const DEFAULT_SCHEDULE_SECONDS = 30;

/** How stale the payment poller's view of `pause payments` may be. */
const PAYMENT_PAUSE_CACHE_MS = 1_000;

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
 *
 * Its steps: start the emulators and simulators, point the SDK at them, create the wiring's
 * resources, set the functions' environment, load the handlers, serve the HTTP API, send the
 * gateway's callbacks to it, and drive the schedules and queue consumers.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  // What is running, in start order; stopping unwinds it from the last layer to the first.
  const layers: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const stopLayer of layers.reverse()) await stopLayer();
  };

  try {
    const services = await startServices(options);
    layers.push(() => Promise.allSettled(services.all.map((service) => service.stop())));
    const clients = connectToEmulators(services);
    const resources = await createResources(clients, options);
    const environment = setFunctionEnvironment(resources, services, options);
    const handlers = wrapHandlers(await loadHandlers(), options.wrapHandler);

    const batchHolds = Object.fromEntries(
      queueNames.map((queue) => [queue, new BatchHold()]),
    ) as Record<QueueName, BatchHold>;

    const api = await serveHttpApi(handlers, options);
    layers.push(api.stop);
    if (options.callbacks ?? true) {
      services.gateway.setCallbackUrl(localCallbackUrl(api.url));
    }
    services.gateway.setWebhookSecrets([localWebhookSecret]);

    if (options.pollers ?? true) {
      layers.push(runSchedules(handlers, options));
      const controls = new DynamoDbControlPanel(
        clients.dynamodb,
        tableName,
        PAYMENT_PAUSE_CACHE_MS,
      );
      const paused = async () => (await controls.read()).paymentsPaused !== undefined;
      layers.push(
        pollQueues(handlers, clients.sqs, resources.queueUrls, batchHolds, options, paused),
      );
      layers.push(pollStreams(handlers, clients, resources));
    }

    return {
      apiUrl: api.url,
      dynamodbEndpoint: services.dynamo.endpoint,
      sqsEndpoint: services.sqs.endpoint,
      secretsManagerEndpoint: services.secrets.endpoint,
      gateway: services.gateway,
      risk: services.risk,
      secretIds: resources.secretIds,
      secretsManager: clients.secretsManager,
      tableName,
      queueUrls: resources.queueUrls,
      batchHolds,
      dynamodb: clients.dynamodb,
      sqs: clients.sqs,
      environment: { ...environment, ...emulatorEnvironment(services) },
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

interface LocalServices {
  readonly dynamo: Emulator;
  readonly sqs: Emulator;
  readonly secrets: Emulator;
  readonly gateway: GatewaySimulator;
  readonly risk: RiskSimulator;
  readonly all: ReadonlyArray<{ stop(): Promise<void> }>;
}

/** The emulators of the AWS services and the simulators of the third-party ones, side by side. */
async function startServices(options: LocalRuntimeOptions): Promise<LocalServices> {
  const [dynamo, sqs, secrets, gateway, risk] = await Promise.all([
    startDynamoDbLocal(),
    startSqsLocal(),
    startSecretsManagerLocal(),
    startGatewaySimulator({
      ...(localGatewayOf(options) === 'stripe' ? { apiKeys: [localStripeApiKey] } : {}),
      ...(options.gatewayFaults ? { faults: options.gatewayFaults } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    }),
    startRiskSimulator({
      ...(options.riskFaults ? { faults: options.riskFaults } : {}),
      ...(options.riskRules ? { rules: options.riskRules } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    }),
  ]);
  return { dynamo, sqs, secrets, gateway, risk, all: [risk, gateway, secrets, sqs, dynamo] };
}

/** The SDK's standard settings that send every client of this process to the emulators. */
function emulatorEnvironment(services: LocalServices): Record<string, string> {
  return {
    AWS_REGION: localRegion,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: services.dynamo.endpoint,
    AWS_ENDPOINT_URL_SQS: services.sqs.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: services.secrets.endpoint,
  };
}

interface EmulatorClients {
  readonly rawDynamo: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly secretsManager: SecretsManagerClient;
}

/** Points this process's SDK at the emulators, and makes the clients the runtime itself uses. */
function connectToEmulators(services: LocalServices): EmulatorClients {
  Object.assign(process.env, emulatorEnvironment(services));
  const clientConfig = { region: localRegion, credentials: localCredentials };
  const rawDynamo = new DynamoDBClient({ ...clientConfig, endpoint: services.dynamo.endpoint });
  return {
    rawDynamo,
    streams: new DynamoDBStreamsClient({ ...clientConfig, endpoint: services.dynamo.endpoint }),
    dynamodb: DynamoDBDocumentClient.from(rawDynamo, {
      marshallOptions: { removeUndefinedValues: true },
    }),
    sqs: new SQSClient({
      ...clientConfig,
      endpoint: services.sqs.endpoint,
      useQueueUrlAsEndpoint: false,
    }),
    secretsManager: new SecretsManagerClient({
      ...clientConfig,
      endpoint: services.secrets.endpoint,
    }),
  };
}

interface LocalResources {
  readonly streamArn: string;
  readonly queueSpecs: Readonly<Record<QueueName, QueueSpec>>;
  readonly queueUrls: LocalRuntime['queueUrls'];
  readonly secretIds: LocalRuntime['secretIds'];
}

/** The wiring's table, queues and secrets on the emulators, and the seed agents in the table. */
async function createResources(
  clients: EmulatorClients,
  options: LocalRuntimeOptions,
): Promise<LocalResources> {
  const streamArn = await createTable(clients.rawDynamo);
  const queueSpecs = Object.fromEntries(
    queueNames.map((queue) => [queue, { ...wiring.queues[queue], ...options.queues?.[queue] }]),
  ) as Record<QueueName, QueueSpec>;
  const queueUrls = await createQueues(clients.sqs, queueSpecs);
  const secretIds = await createSecrets(clients.secretsManager, localGatewayOf(options));
  const agents = new DynamoDbAgentDirectory(clients.dynamodb, tableName);
  await Promise.all(seedAgents.map((agent) => agents.put(agent)));
  return { streamArn, queueSpecs, queueUrls, secretIds };
}

/** The local HTTP API in front of the functions with routes or URLs, and how to stop it. */
async function serveHttpApi(
  handlers: Readonly<Record<string, unknown>>,
  options: LocalRuntimeOptions,
): Promise<{ url: string; stop(): Promise<void> }> {
  const routes: LocalRoute[] = Object.entries(functionSpecs).flatMap(([name, spec]) =>
    spec.routes.map((route) => ({
      ...route,
      functionName: name,
      timeoutSeconds: spec.timeoutSeconds,
      handler: handlers[name] as LocalRoute['handler'],
    })),
  );
  // Served by their function URLs in AWS, on the same port as the routes here.
  const functionUrls: LocalFunctionUrl[] = Object.entries(functionSpecs).flatMap(([name, spec]) =>
    spec.functionUrl === undefined
      ? []
      : [
          {
            path: spec.functionUrl.path,
            functionName: name,
            timeoutSeconds: spec.timeoutSeconds,
            handler: handlers[name] as LocalFunctionUrl['handler'],
          },
        ],
  );
  const apiPort = options.apiPort ?? 0;
  const server = await startLocalHttpApi(
    routes,
    apiPort === 0 ? await freePort() : apiPort,
    options.staticResponder,
    functionUrls,
  );
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : apiPort}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Runs each scheduled function on a timer, as EventBridge would; returns how to stop them, which
 * lets the runs under way finish before the emulators they call go.
 */
function runSchedules(
  handlers: Readonly<Record<string, unknown>>,
  options: LocalRuntimeOptions,
): () => Promise<void> {
  const every = (options.scheduleSeconds ?? DEFAULT_SCHEDULE_SECONDS) * 1000;
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  for (const [name, spec] of Object.entries(functionSpecs)) {
    if (!spec.schedule) continue;
    const run = handlers[name] as (event: unknown, context: unknown) => Promise<unknown>;
    timers.push(
      setInterval(() => {
        const invocation: Promise<unknown> = run(
          scheduledEvent(name),
          lambdaContext(name, spec.timeoutSeconds),
        )
          .catch((error: unknown) => process.stderr.write(`${name}: ${String(error)}\n`))
          .finally(() => running.delete(invocation));
        running.add(invocation);
      }, every),
    );
  }
  return async () => {
    for (const timer of timers) clearInterval(timer);
    await Promise.allSettled([...running]);
  };
}

/** One poller per queue consumer, as Lambda's event source mappings; returns how to stop them. */
function pollQueues(
  handlers: Readonly<Record<string, unknown>>,
  sqs: SQSClient,
  queueUrls: LocalRuntime['queueUrls'],
  holds: LocalRuntime['batchHolds'],
  options: LocalRuntimeOptions,
  paymentsPaused: () => Promise<boolean>,
): () => Promise<unknown> {
  const pollers: QueuePoller[] = [];
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
        batchingWindowSeconds: source.maxBatchingWindowSeconds,
        concurrency: Math.min(source.maxConcurrency, 4),
        onInvokeError: (error) => process.stderr.write(`${name}: ${String(error)}\n`),
        ...(options.onQueueBatch
          ? { onBatch: (batch) => options.onQueueBatch?.(name, batch) }
          : {}),
        ...(options.crashAfterInvoke ? { crashAfterInvoke: options.crashAfterInvoke } : {}),
        ...(duplicateDelivery ? { duplicate: () => duplicateDelivery(source.queue) } : {}),
        // `npm run ops -- pause payments`: in AWS it disables this mapping.
        ...(source.queue === 'paymentSubmission' ? { paused: paymentsPaused } : {}),
        hold: holds[source.queue],
      }),
    );
  }
  return () => Promise.allSettled(pollers.map((poller) => poller.stop()));
}

/** Lambda's stream event source mappings: one poller per function that reads the stream. */
function pollStreams(
  handlers: Readonly<Record<string, unknown>>,
  clients: EmulatorClients,
  resources: LocalResources,
): () => Promise<unknown> {
  const pollers: StreamPoller[] = [];
  for (const [name, spec] of Object.entries(functionSpecs)) {
    const source = spec.streams;
    if (!source) continue;
    const onFailure = resources.queueUrls[source.onFailure].dlqUrl;
    pollers.push(
      startStreamPoller({
        streams: clients.streams,
        streamArn: resources.streamArn,
        functionName: name,
        timeoutSeconds: spec.timeoutSeconds,
        handler: handlers[name] as StreamHandler,
        batchSize: source.batchSize,
        retryAttempts: source.retryAttempts,
        keyPrefixes: source.itemKinds.map((kind) => itemPrefixes[kind]),
        onInvokeError: (error) => process.stderr.write(`${name}: ${String(error)}\n`),
        // As Lambda's on-failure destination: where the change was, not the change itself.
        onGiveUp: (record) => {
          clients.sqs
            .send(
              new SendMessageCommand({
                QueueUrl: onFailure,
                MessageBody: JSON.stringify({
                  functionName: name,
                  streamArn: record.eventSourceARN,
                  sequenceNumber: record.dynamodb?.SequenceNumber,
                }),
              }),
            )
            .catch((error: unknown) => process.stderr.write(`${name}: ${String(error)}\n`));
        },
      }),
    );
  }
  return () => Promise.allSettled(pollers.map((poller) => poller.stop()));
}

/** Creates the table with its stream on; returns the stream's ARN. */
async function createTable(client: DynamoDBClient): Promise<string> {
  const created = await client.send(createTableCommand(tableName));
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: wiring.table.ttlAttribute, Enabled: true },
    }),
  );
  const streamArn = created.TableDescription?.LatestStreamArn;
  if (!streamArn) throw new Error(`DynamoDB Local gave ${tableName} no stream`);
  return streamArn;
}

/** The table of the wiring, with its indexes, as CreateTable input. */
export function createTableCommand(name: string): CreateTableCommand {
  const { partitionKey, indexes, stream } = wiring.table;
  const keys = new Set([
    partitionKey,
    ...indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ]);
  return new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...keys].map((key) => ({ AttributeName: key, AttributeType: 'S' })),
    KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
    StreamSpecification: { StreamEnabled: true, StreamViewType: stream },
    GlobalSecondaryIndexes: indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: index.projection === 'all' ? 'ALL' : 'KEYS_ONLY' },
    })),
  });
}

async function createQueues(
  sqs: SQSClient,
  specs: Readonly<Record<QueueName, QueueSpec>>,
): Promise<LocalRuntime['queueUrls']> {
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
  return Object.fromEntries(entries) as LocalRuntime['queueUrls'];
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

async function createSecrets(
  client: SecretsManagerClient,
  gateway: LocalGateway,
): Promise<LocalRuntime['secretIds']> {
  const values = localSecretValues(gateway);
  const entries = await Promise.all(
    secretNames.map(async (secret) => {
      const created = await client.send(
        new CreateSecretCommand({
          Name: `${wiring.service}/local/${secret}`,
          SecretString: values[secret],
        }),
      );
      return [secret, created.ARN ?? ''] as const;
    }),
  );
  return Object.fromEntries(entries) as LocalRuntime['secretIds'];
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
  resources: LocalResources,
  services: LocalServices,
  options: LocalRuntimeOptions,
): Record<string, string> {
  const stripe = localGatewayOf(options) === 'stripe';
  const bound: BoundResources = {
    stage: 'local',
    tableName,
    queueUrls: Object.fromEntries(
      queueNames.map((queue) => [queue, resources.queueUrls[queue].url]),
    ) as Record<QueueName, string>,
    deadLetterQueueUrls: Object.fromEntries(
      queueNames.map((queue) => [queue, resources.queueUrls[queue].dlqUrl]),
    ) as Record<QueueName, string>,
    maxReceiveCounts: Object.fromEntries(
      queueNames.map((queue) => [queue, resources.queueSpecs[queue].maxReceiveCount]),
    ) as Record<QueueName, number>,
    secretIds: resources.secretIds,
    endpoints: {
      paymentGateway: stripe ? services.gateway.stripeUrl : services.gateway.url,
      riskEngine: services.risk.url,
    },
    // No user pool locally: agents created over the API get ids, and tokens from `npm run token`.
    userPoolId: '',
  };
  // No X-Ray daemon runs locally: the tracer stays off, records nothing and patches no client.
  const merged: Record<string, string> = { POWERTOOLS_TRACE_ENABLED: 'false' };
  for (const [name, spec] of Object.entries(functionSpecs)) {
    for (const [variable, value] of Object.entries(functionEnvironment(spec, bound))) {
      if (merged[variable] !== undefined && merged[variable] !== value) {
        throw new Error(`${name} sets ${variable} differently from another function`);
      }
      merged[variable] = value;
    }
  }
  const overrides = {
    ...localSettings,
    SWEEP_EVERY_SECONDS: String(options.scheduleSeconds ?? DEFAULT_SCHEDULE_SECONDS),
    ...(stripe ? { GATEWAY_NAME: 'stripe', STRIPE_PAYERS: JSON.stringify(localStripePayers) } : {}),
    ...options.environment,
    ...(options.logLevel ? { POWERTOOLS_LOG_LEVEL: options.logLevel } : {}),
  };
  Object.assign(process.env, merged, overrides);
  return { ...merged, ...overrides };
}

function wrapHandlers(
  handlers: Record<string, unknown>,
  wrap: LocalRuntimeOptions['wrapHandler'],
): Record<string, unknown> {
  if (!wrap) return handlers;
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [name, wrap(name, handler as LocalHandler)]),
  );
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
