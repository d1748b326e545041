import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbWebhookEndpoints } from '#adapters/dynamodb-webhook-endpoints.ts';
import { MAX_RATE_BURST, MAX_RATE_PER_SECOND } from '#domain/agent-guards.ts';
import { functionSpecs, wiring } from '#shared/wiring.ts';
import { signAgentToken } from '../../runtime/auth.ts';
import { localCredentials, localRegion } from '../../runtime/emulators.ts';
import { type LocalRuntime, startLocalRuntime } from '../../runtime/local-runtime.ts';
import { toolOwnerOf } from '../../runtime/seed.ts';
import { itemBytes } from '../scale/item-size.ts';
import { AwsMeter } from './aws-meter.ts';
import { InvocationMeter, type InvocationRecord } from './invocations.ts';
import { percentile, progress, sleep } from './stats.ts';

/** The README's example order: one medium latte, 4.50 CNY from the wallet. */
export const benchOrder = {
  action: 'order_coffee',
  sessionId: 's-bench',
  items: [{ sku: 'latte', size: 'medium', quantity: 1 }],
  amount: 450,
  currency: 'CNY',
  paymentMethod: 'wallet',
} as const;

/**
 * Places the bench order under `key` through the local API. Each order is its own intent (its
 * session is the key): the same body again within 300 s would wait for its user.
 */
export function postBenchOrder(apiUrl: string, token: string, key: string): Promise<Response> {
  return fetch(`${apiUrl}/v1/orders`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify({ ...benchOrder, sessionId: key }),
  });
}

/**
 * Trusted agents with a daily limit no benchmark reaches (the seed agents allow 44 lattes), and
 * the widest token bucket a user may set. Enough of them that each places a few orders in the
 * duplicate window, as a real agent does: an agent's recent intents live in its agent-day item,
 * and one placing dozens within minutes makes that item, and each of its writes, bigger.
 */
export const benchAgentCount = 64;
const agentIds = Array.from({ length: benchAgentCount }, (_, index) => `bench-agent-${index}`);

interface EsmQueueStats {
  /** Invocations: the batches the mapping's pollers gathered. */
  batches: number;
  messages: number;
  /** The ReceiveMessage calls that gathered them (not the idle mapping's empty polls). */
  receives: number;
  deletes: number;
}

/**
 * Watches the local event source mappings: the batches each poller gathers (the local runtime
 * tells of each, with the receives that gathered it) and the deletes it makes (counted on the
 * stack's own SQS client, which the pollers use), per function. Messages received and not yet
 * deleted are in flight.
 */
class EsmMeter {
  readonly functions = new Map<string, EsmQueueStats>();
  #inFlight = 0;
  readonly #functionOfUrl = new Map<string, string>();

  constructor(sqs: LocalRuntime['sqs'], queueUrls: LocalRuntime['queueUrls']) {
    for (const [name, spec] of Object.entries(functionSpecs)) {
      if (spec.consumes) this.#functionOfUrl.set(queueUrls[spec.consumes.queue].url, name);
    }
    const stack = sqs.middlewareStack as unknown as {
      add: (middleware: unknown, options: Record<string, unknown>) => void;
    };
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: {
          input?: { QueueUrl?: string; Entries?: Array<{ ReceiptHandle?: string }> };
        }) => {
          const name = this.#functionOfUrl.get(args.input?.QueueUrl ?? '');
          const command = context.commandName ?? '';
          if (name !== undefined && command === 'DeleteMessageBatchCommand') {
            this.#stats(name).deletes += 1;
            this.#inFlight = Math.max(0, this.#inFlight - (args.input?.Entries?.length ?? 0));
          }
          const result = (await next(args)) as { output?: { Messages?: unknown[] } };
          if (name !== undefined && command === 'ReceiveMessageCommand') {
            this.#inFlight += result.output?.Messages?.length ?? 0;
          }
          return result;
        },
      { step: 'initialize', name: 'benchEsmMeter', priority: 'high' },
    );
  }

  /** What the local runtime tells of each batch (`onQueueBatch`). */
  batch(functionName: string, batch: { readonly receives: number; readonly messages: number }) {
    const stats = this.#stats(functionName);
    stats.batches += 1;
    stats.messages += batch.messages;
    stats.receives += batch.receives;
  }

  #stats(functionName: string): EsmQueueStats {
    let stats = this.functions.get(functionName);
    if (!stats) {
      stats = { batches: 0, messages: 0, receives: 0, deletes: 0 };
      this.functions.set(functionName, stats);
    }
    return stats;
  }

  inFlight(): number {
    return this.#inFlight;
  }

  reset(): void {
    this.functions.clear();
  }
}

/**
 * A counting, timing proxy in front of the local API for the gateway's callbacks: each one is
 * an API Gateway request and a settlementCallback invocation in AWS.
 */
class CallbackProxy {
  count = 0;
  inFlight = 0;
  readonly statuses = new Map<number, number>();
  server: Server | undefined;

  async start(target: string): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.count += 1;
        this.inFlight += 1;
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers)) {
          if (typeof value === 'string' && name !== 'host' && name !== 'content-length') {
            headers[name] = value;
          }
        }
        fetch(`${target}${request.url ?? '/'}`, {
          method: request.method ?? 'POST',
          headers,
          body: Buffer.concat(chunks),
        })
          .then(async (answer) => {
            const body = Buffer.from(await answer.arrayBuffer());
            this.statuses.set(answer.status, (this.statuses.get(answer.status) ?? 0) + 1);
            response.writeHead(answer.status, { 'content-type': 'application/json' });
            response.end(body);
          })
          .catch(() => {
            response.writeHead(502);
            response.end();
          })
          .finally(() => {
            this.inFlight -= 1;
          });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.count = 0;
    this.statuses.clear();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** The bench users' webhook endpoint: answers 200 to every delivery and counts them. */
class WebhookReceiver {
  deliveries = 0;
  server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        this.deliveries += 1;
        response.writeHead(200);
        response.end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

export interface PlacedRun {
  readonly orderIds: string[];
  readonly latenciesMs: number[];
  readonly startedAt: number;
  /** Order id → when its 202 came back (performance.now()). */
  readonly answeredAt: ReadonlyMap<string, number>;
}

class Bench {
  readonly meter = new AwsMeter();
  /** The notification functions' own clients, counted apart from the payment path's. */
  readonly notificationMeter = new AwsMeter();
  readonly proxy = new CallbackProxy();
  readonly receiver = new WebhookReceiver();
  esm!: EsmMeter;
  tokens: string[] = [];
  #sequence = 0;

  constructor(
    readonly stack: LocalRuntime,
    readonly invocations: InvocationMeter,
  ) {}

  async prepare(): Promise<void> {
    const agents = new DynamoDbAgentDirectory(this.stack.dynamodb, this.stack.tableName);
    await Promise.all(
      agentIds.map((agentId) =>
        agents.put({
          agentId,
          ownerId: toolOwnerOf(agentId) ?? agentId,
          suspended: false,
          trustedActions: ['order_coffee', 'submit_payment'],
          limitCurrency: 'CNY',
          perOrderLimit: 5000,
          dailyLimit: 1_000_000_000,
          ratePerSecond: MAX_RATE_PER_SECOND,
          rateBurst: MAX_RATE_BURST,
        }),
      ),
    );
    this.tokens = await Promise.all(agentIds.map((agentId) => signAgentToken(agentId)));
    // Each bench user hears of its orders' payments at one endpoint: one event per paid order.
    const hooks = await this.receiver.start();
    const endpoints = new DynamoDbWebhookEndpoints(this.stack.dynamodb, this.stack.tableName);
    await Promise.all(
      agentIds.map((agentId) =>
        endpoints.create(
          {
            endpointId: `we_${agentId}`,
            userId: toolOwnerOf(agentId) ?? agentId,
            url: hooks,
            events: ['order.paid'],
            createdAt: new Date().toISOString(),
            requestHash: 'bench',
          },
          10,
        ),
      ),
    );
    const proxyUrl = await this.proxy.start(this.stack.apiUrl);
    this.stack.gateway.setCallbackUrl(
      `${proxyUrl}/v1/callbacks/${process.env.GATEWAY_NAME ?? 'simulator'}`,
    );
    this.esm = new EsmMeter(this.stack.sqs, this.stack.queueUrls);
    const clients = await import('#adapters/aws-clients.ts');
    const { secretsManager } = await import('#adapters/secrets-manager-client.ts');
    const { notificationClients } = await import('#adapters/notification-clients.ts');
    this.meter
      .attach(clients.dynamodb, 'DynamoDB')
      .attach(clients.sqs, 'SQS')
      .attach(secretsManager, 'SecretsManager');
    this.notificationMeter
      .attach(notificationClients.dynamodb, 'DynamoDB')
      .attach(notificationClients.sqs, 'SQS');
  }

  async place(count: number, concurrency: number): Promise<PlacedRun> {
    const orderIds: string[] = [];
    const latenciesMs: number[] = [];
    const answeredAt = new Map<string, number>();
    let next = 0;
    const startedAt = performance.now();
    this.lastPlacements = [];
    // Each order comes from the next bench agent in turn, so each agent places a few orders a
    // run, not one lane's whole share: an agent's day item (its recent intents) grows with its
    // own rate, which docs/SCALE.md measures apart.
    const lane = async () => {
      while (next < count) {
        next += 1;
        const sequence = ++this.#sequence;
        const token = this.tokens[sequence % this.tokens.length] ?? '';
        const key = `bench-${randomUUID()}-${sequence}`;
        const started = performance.now();
        const response = await postBenchOrder(this.stack.apiUrl, token, key);
        const text = await response.text();
        latenciesMs.push(performance.now() - started);
        if (response.status !== 202) {
          throw new Error(`placing an order answered ${response.status}: ${text}`);
        }
        const body = JSON.parse(text) as { orderId: string; status: string };
        if (body.status !== 'PENDING_PAYMENT') {
          throw new Error(`order ${body.orderId} is ${body.status}, not PENDING_PAYMENT`);
        }
        orderIds.push(body.orderId);
        answeredAt.set(body.orderId, performance.now());
        this.lastPlacements.push({ token, key, orderId: body.orderId });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => lane()));
    return { orderIds, latenciesMs, startedAt, answeredAt };
  }

  /** The placements of the last `place`, to replay them and to read their orders back. */
  lastPlacements: { readonly token: string; readonly key: string; readonly orderId: string }[] = [];

  /** Sends every placement of the last `place` again, same key and body: each must be a replay. */
  async replayLast(): Promise<Record<string, number>> {
    const statuses: Record<string, number> = {};
    for (const { token, key } of this.lastPlacements) {
      const response = await postBenchOrder(this.stack.apiUrl, token, key);
      await response.text();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    }
    return statuses;
  }

  /**
   * Polls through the stack's own client (not counted) until every order is PAID; `paidAt` gets
   * when each was first seen PAID (polls 50 ms apart).
   */
  async waitPaid(
    orderIds: readonly string[],
    timeoutMs = 120_000,
    paidAt = new Map<string, number>(),
  ): Promise<number> {
    const pending = new Set(orderIds);
    const deadline = Date.now() + timeoutMs;
    while (pending.size > 0) {
      const ids = [...pending];
      for (let start = 0; start < ids.length; start += 100) {
        const chunk = ids.slice(start, start + 100);
        const result = await this.stack.dynamodb.send(
          new BatchGetCommand({
            RequestItems: {
              [this.stack.tableName]: {
                Keys: chunk.map((id) => ({ pk: `ORDER#${id}` })),
                ProjectionExpression: 'pk, #status',
                ExpressionAttributeNames: { '#status': 'status' },
              },
            },
          }),
        );
        for (const item of result.Responses?.[this.stack.tableName] ?? []) {
          if (item.status === 'PAID') {
            const orderId = String(item.pk).slice('ORDER#'.length);
            pending.delete(orderId);
            if (!paidAt.has(orderId)) paidAt.set(orderId, performance.now());
          } else if (item.status === 'FAILED' || item.status === 'PAYMENT_UNKNOWN') {
            throw new Error(`order ${String(item.pk)} ended ${String(item.status)}`);
          }
        }
      }
      if (pending.size === 0) break;
      if (Date.now() > deadline) throw new Error(`${pending.size} orders not PAID in time`);
      await sleep(50);
    }
    return performance.now();
  }

  /**
   * Waits for the gateway's callbacks, the webhook deliveries and the pollers to finish what the
   * orders started.
   */
  async waitQuiet(expected: number, timeoutMs = 20_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const idle = () =>
      this.proxy.inFlight === 0 && this.esm.inFlight() === 0 && this.invocations.inFlight === 0;
    while (Date.now() < deadline) {
      if (this.proxy.count >= expected && this.receiver.deliveries >= expected && idle()) {
        await sleep(500);
        if (idle()) return true;
      }
      await sleep(50);
    }
    return false;
  }

  resetMeters(): void {
    this.meter.reset();
    this.notificationMeter.reset();
    this.esm.reset();
    this.proxy.reset();
    this.receiver.deliveries = 0;
  }
}

export interface RequestRun {
  readonly orders: number;
  readonly calls: Record<string, number>;
  readonly rcu: number;
  readonly wcu: number;
  /** Of `wcu`, the write units of global secondary index entries. */
  readonly indexWcu: number;
  readonly unreportedCapacity: number;
  /** DynamoDB operation → [RRU, WRU] DynamoDB Local reported for it over the run. */
  readonly capacity: Record<string, [number, number]>;
  readonly apiPosts: number;
  /** From the first order posted to the last one answered. */
  readonly placedSeconds: number;
  /** Each order's time from its 202 to when the bench's poll (every 50 ms) first saw it PAID. */
  readonly paidAfterMs: readonly number[];
  readonly callbacks: number;
  readonly callbackStatuses: Record<string, number>;
  readonly submissionBatches: number;
  readonly submissionMessages: number;
  readonly submissionReceives: number;
  readonly submissionDeletes: number;
  readonly reconcilerBatches: number;
  readonly reconcilerReceives: number;
  readonly reconcilerDeletes: number;
  /** Function → every invocation it had in the run, measured where the local platform calls it. */
  readonly invocations: Readonly<Record<string, readonly InvocationRecord[]>>;
  /** Requests of the notification functions' own clients. */
  readonly notificationCalls: Record<string, number>;
  readonly notificationRcu: number;
  readonly notificationBatches: number;
  readonly notificationReceives: number;
  readonly notificationDeletes: number;
  /** Webhook deliveries the bench users' endpoint answered (events delivered). */
  readonly deliveries: number;
  readonly quiet: boolean;
}

export interface ThroughputRun {
  readonly orders: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly ordersPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rawWrites: number;
  readonly rawWritesPerSecond: number;
}

/** The last run's placements sent again (same key, same body), counted as the paid orders were. */
export interface ReplayRun {
  readonly replays: number;
  readonly statuses: Record<string, number>;
  readonly calls: Record<string, number>;
  readonly rcu: number;
  readonly wcu: number;
}

/** The sizes DynamoDB counts for the items a paid order writes, in bytes, at the run's end. */
export interface ItemSizes {
  /** Each order of the last run, PAID. */
  readonly orders: readonly number[];
  /** Each bench agent's item of the day. */
  readonly agentDays: readonly number[];
}

export interface PipelineResults {
  readonly itemSizes: ItemSizes;
  readonly replay: ReplayRun;
  readonly requests: RequestRun[];
  /**
   * Secrets Manager requests during the warm-up, when every instance reads its secrets for the
   * first time: one per secret (and version stage) a function reads, as each refresh repeats.
   */
  readonly firstSecretReads: Record<string, number>;
  /** CPU µs the invocation meter's hooks cost per async resource, taken off each CPU time. */
  readonly hookMicrosPerResource: number;
  readonly throughput: ThroughputRun[];
}

export interface PipelineOptions {
  readonly requestRuns: number;
  readonly ordersPerRequestRun: number;
  readonly throughputRuns: number;
  readonly throughputOrders: number;
  readonly concurrency: number;
  readonly rawWrites: number;
}

async function measureItemSizes(
  stack: LocalRuntime,
  orderIds: readonly string[],
): Promise<ItemSizes> {
  const raw = new DynamoDBClient({
    region: localRegion,
    credentials: localCredentials,
    endpoint: stack.dynamodbEndpoint,
  });
  const sizeOf = async (pk: string) => {
    const read = await raw.send(
      new GetItemCommand({ TableName: stack.tableName, Key: { pk: { S: pk } } }),
    );
    return read.Item ? itemBytes(read.Item) : undefined;
  };
  const day = new Date().toISOString().slice(0, 10);
  const orders = await Promise.all(orderIds.map((id) => sizeOf(`ORDER#${id}`)));
  const agentDays = await Promise.all(agentIds.map((id) => sizeOf(`SPEND#${id}#${day}`)));
  raw.destroy();
  const known = (sizes: (number | undefined)[]) =>
    sizes.filter((size): size is number => size !== undefined);
  return { orders: known(orders), agentDays: known(agentDays) };
}

export async function runPipelineBenchmarks(options: PipelineOptions): Promise<PipelineResults> {
  progress('starting the local stack');
  const memoryOf = (name: string) => functionSpecs[name]?.memoryMb ?? 128;
  const invocations = new InvocationMeter(memoryOf);
  invocations.install();
  await invocations.calibrate();
  // The pollers tell of their batches from the start; the meter exists once the bench does.
  const batches: { meter?: EsmMeter } = {};
  // The log level, sampling and metrics the wiring ships with: their lines are what is billed.
  const stack = await startLocalRuntime({
    callbacks: true,
    seed: 2026,
    // The sweep runs every 5 minutes in AWS; kept out of the per-order counts.
    scheduleSeconds: 24 * 3600,
    wrapHandler: invocations.wrap,
    onQueueBatch: (functionName, batch) => batches.meter?.batch(functionName, batch),
  });
  const bench = new Bench(stack, invocations);
  try {
    await bench.prepare();
    batches.meter = bench.esm;
    progress('warming up (10 orders)');
    const warm = await bench.place(10, 2);
    await bench.waitPaid(warm.orderIds);
    await bench.waitQuiet(warm.orderIds.length);
    const firstSecretReads = Object.fromEntries(
      Object.entries(bench.meter.snapshot().calls).filter(([name]) =>
        name.startsWith('SecretsManager.'),
      ),
    );

    const requests: RequestRun[] = [];
    // In AWS every line carries the invocation's X-Ray trace id (tracing is active).
    process.env._X_AMZN_TRACE_ID = `Root=1-${'0'.repeat(8)}-${'0'.repeat(24)};Parent=${'0'.repeat(16)};Sampled=1`;
    for (let run = 1; run <= options.requestRuns; run += 1) {
      bench.resetMeters();
      invocations.start();
      const placed = await bench.place(options.ordersPerRequestRun, 4);
      const placedSeconds = (performance.now() - placed.startedAt) / 1000;
      const paidAt = new Map<string, number>();
      await bench.waitPaid(placed.orderIds, undefined, paidAt);
      const quiet = await bench.waitQuiet(placed.orderIds.length);
      invocations.stop();
      const snapshot = bench.meter.snapshot();
      const notifications = bench.notificationMeter.snapshot();
      const submission = bench.esm.functions.get('paymentSubmission');
      const reconciler = bench.esm.functions.get('settlementReconciler');
      const notification = bench.esm.functions.get('notificationDelivery');
      requests.push({
        orders: placed.orderIds.length,
        calls: snapshot.calls,
        rcu: snapshot.rcu,
        wcu: snapshot.wcu,
        indexWcu: snapshot.indexWcu,
        unreportedCapacity: snapshot.unreported,
        capacity: snapshot.capacity,
        apiPosts: placed.latenciesMs.length,
        placedSeconds,
        paidAfterMs: placed.orderIds.map(
          (orderId) => (paidAt.get(orderId) ?? 0) - (placed.answeredAt.get(orderId) ?? 0),
        ),
        callbacks: bench.proxy.count,
        callbackStatuses: Object.fromEntries(
          [...bench.proxy.statuses].map(([status, n]) => [String(status), n]),
        ),
        submissionBatches: submission?.batches ?? 0,
        submissionMessages: submission?.messages ?? 0,
        submissionReceives: submission?.receives ?? 0,
        submissionDeletes: submission?.deletes ?? 0,
        reconcilerBatches: reconciler?.batches ?? 0,
        reconcilerReceives: reconciler?.receives ?? 0,
        reconcilerDeletes: reconciler?.deletes ?? 0,
        invocations: Object.fromEntries(invocations.records),
        notificationCalls: notifications.calls,
        notificationRcu: notifications.rcu,
        notificationBatches: notification?.batches ?? 0,
        notificationReceives: notification?.receives ?? 0,
        notificationDeletes: notification?.deletes ?? 0,
        deliveries: bench.receiver.deliveries,
        quiet,
      });
      progress(
        `requests run ${run}/${options.requestRuns}: ${placed.orderIds.length} orders PAID, ` +
          `${Object.values(snapshot.calls).reduce((a, b) => a + b, 0)} AWS calls, ` +
          `${bench.receiver.deliveries} webhook deliveries`,
      );
    }
    delete process.env._X_AMZN_TRACE_ID;
    // The throughput runs below measure the pipeline, not its logging: as before, no log lines.
    // (Loaded only now: the functions' logger reads the environment the stack set.)
    const { logger } = await import('#shared/observability.ts');
    logger.setLogLevel('SILENT');

    const itemSizes = await measureItemSizes(
      stack,
      bench.lastPlacements.map(({ orderId }) => orderId),
    );
    bench.resetMeters();
    const replayStatuses = await bench.replayLast();
    const replayed = bench.meter.snapshot();
    const replay: ReplayRun = {
      replays: bench.lastPlacements.length,
      statuses: replayStatuses,
      calls: replayed.calls,
      rcu: replayed.rcu,
      wcu: replayed.wcu,
    };
    progress(`replayed ${replay.replays} placements: ${replay.wcu} WRU`);

    const rawClient = new DynamoDBClient({
      region: localRegion,
      credentials: localCredentials,
      endpoint: stack.dynamodbEndpoint,
    });
    const scratchTable = `${wiring.service}-bench-scratch`;
    try {
      await rawClient.send(
        new CreateTableCommand({
          TableName: scratchTable,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }

    const throughput: ThroughputRun[] = [];
    for (let run = 1; run <= options.throughputRuns; run += 1) {
      bench.resetMeters();
      const placed = await bench.place(options.throughputOrders, options.concurrency);
      const paidAt = await bench.waitPaid(placed.orderIds);
      const seconds = (paidAt - placed.startedAt) / 1000;
      await bench.waitQuiet(placed.orderIds.length);

      const writesStarted = performance.now();
      for (let index = 0; index < options.rawWrites; index += 1) {
        await rawClient.send(
          new PutItemCommand({
            TableName: scratchTable,
            Item: {
              pk: { S: `scratch-${run}-${index}-${randomUUID()}` },
              status: { S: 'PENDING_PAYMENT' },
              amount: { N: '450' },
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      }
      const writeSeconds = (performance.now() - writesStarted) / 1000;
      const result: ThroughputRun = {
        orders: placed.orderIds.length,
        concurrency: options.concurrency,
        seconds,
        ordersPerSecond: placed.orderIds.length / seconds,
        p50Ms: percentile(placed.latenciesMs, 50),
        p99Ms: percentile(placed.latenciesMs, 99),
        rawWrites: options.rawWrites,
        rawWritesPerSecond: options.rawWrites / writeSeconds,
      };
      throughput.push(result);
      progress(
        `throughput run ${run}/${options.throughputRuns}: ${result.ordersPerSecond.toFixed(1)} ` +
          `orders/s, raw ${result.rawWritesPerSecond.toFixed(0)} writes/s`,
      );
    }
    rawClient.destroy();
    return {
      itemSizes,
      replay,
      requests,
      throughput,
      firstSecretReads,
      hookMicrosPerResource: invocations.hookMicrosPerResource,
    };
  } finally {
    progress('stopping the local stack');
    await bench.proxy.stop();
    await bench.receiver.stop();
    await stack.stop();
    invocations.uninstall();
  }
}
