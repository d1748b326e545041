import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbBreakerStore } from '#adapters/dynamodb-breaker.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { HttpPaymentGateway } from '#adapters/http-payment-gateway.ts';
import { CircuitBreaker, defaultBreakerPolicy } from '#domain/circuit-breaker.ts';
import { openOrder } from '#domain/order.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import type { RiskEngine } from '#domain/payment-ports.ts';
import { defaultRiskPolicy } from '#domain/risk-policy.ts';
import { defaultSettlementSchedule } from '#domain/settlement.ts';
import { makeSubmitPayment, type PaymentObserver } from '#domain/submit-payment.ts';
import { wiring } from '#shared/wiring.ts';
import { localCredentials, localRegion, startDynamoDbLocal } from '../../runtime/emulators.ts';
import { createTableCommand } from '../../runtime/local-runtime.ts';
import { defaultGatewayApiKeys } from '../../simulators/gateway/keys.ts';
import { startGatewaySimulator } from '../../simulators/gateway/server.ts';
import { benchOrder } from '../bench/pipeline.ts';
import { percentile, progress } from '../bench/stats.ts';
import { trustedAgent } from './agent.ts';
import { type DynamoCall, DynamoCallLog } from './dynamo-calls.ts';

/**
 * The shared circuit breaker in front of a gateway that fails every call (503), driven through
 * the real payment-submission use case, its DynamoDB breaker store and order repository on
 * DynamoDB Local, and the HTTP gateway adapter against the gateway simulator. Each "instance" has
 * its own CircuitBreaker object, as each Lambda execution environment has its own module scope;
 * the risk check always passes, so only the gateway and the breaker are in play.
 */

export interface BreakerCase {
  readonly label: string;
  /** Concurrent consumer instances (Lambda execution environments). */
  readonly instances: number;
  /** Payment messages waiting in the queue. */
  readonly messages: number;
  /**
   * How long instances keep taking batches; none: each takes one batch, all at the same moment.
   * An instance handles its batch's messages in parallel with one breaker object, as the
   * consumer does (Powertools' BatchProcessor, records in parallel).
   */
  readonly seconds?: number;
}

export interface BreakerResult {
  readonly label: string;
  readonly instances: number;
  readonly deliveries: number;
  /** Charges sent to the gateway, all of which failed. */
  readonly charges: number;
  readonly chargesBeforeOpen: number;
  /** Charges sent after the breaker was open in the table, by instances trusting a cached state. */
  readonly chargesAfterOpen: number;
  /** Deliveries the breaker returned for later without a gateway call. */
  readonly heldByBreaker: number;
  /** From the first charge to the write that opened the breaker, ms; NaN if it never opened. */
  readonly msToOpen: number;
  readonly breakerReads: number;
  readonly windowWrites: number;
  readonly stateWrites: number;
  /** State writes refused by their condition: instances racing to open a breaker already open. */
  readonly stateWritesRefused: number;
  /** The most writes one breaker item took within one wall-clock second. */
  readonly peakItemWritesPerSecond: number;
  readonly breakerWriteUnits: number;
  readonly windowWriteP50Ms: number;
  readonly windowWriteP99Ms: number;
  /** Writes to the orders themselves (the retry recorded on each failed delivery). */
  readonly orderWrites: number;
}

const { batchSize, maxConcurrency } = wiring.functions.paymentSubmission.consumes;

export const breakerCases: readonly BreakerCase[] = [
  {
    label: `1,000 at once (100 instances × batch of ${batchSize})`,
    instances: 100,
    messages: 1000,
  },
  {
    label: `maxConcurrency ${maxConcurrency} (the wiring), 4 s`,
    instances: maxConcurrency,
    messages: 1000,
    seconds: 4,
  },
  { label: 'maxConcurrency 20, 6 s', instances: 20, messages: 1000, seconds: 6 },
];

const tableName = `${wiring.service}-scale-breaker`;
const agentId = 'scale-breaker-agent';

/** The gateway's failures: a 503 after 20–60 ms, on every call. */
const gatewayFaults = { errorRate: 1, errorStatuses: [503], latencyMs: { min: 20, max: 60 } };

export async function runBreaker(
  cases: readonly BreakerCase[] = breakerCases,
): Promise<BreakerResult[]> {
  progress('breaker: starting DynamoDB Local and the gateway simulator');
  const [dynamo, gateway] = await Promise.all([
    startDynamoDbLocal(),
    startGatewaySimulator({ seed: 11, faults: gatewayFaults }),
  ]);
  try {
    // One client per role, each with room for every instance's request at once, as each Lambda
    // environment has its own connections.
    const clientFor = () =>
      DynamoDBDocumentClient.from(
        new DynamoDBClient({
          endpoint: dynamo.endpoint,
          region: localRegion,
          credentials: localCredentials,
          requestHandler: { httpAgent: { keepAlive: true, maxSockets: 1000 } },
        }),
        { marshallOptions: { removeUndefinedValues: true } },
      );
    const ordersClient = clientFor();
    const breakerClient = clientFor();
    await ordersClient.send(createTableCommand(tableName));
    const breakerLog = new DynamoCallLog().attach(breakerClient);
    const ordersLog = new DynamoCallLog().attach(ordersClient);
    const orders = new DynamoDbOrderRepository(ordersClient, tableName);
    const agents = new DynamoDbAgentDirectory(ordersClient, tableName);
    await agents.put(trustedAgent(agentId));
    const results: BreakerResult[] = [];
    for (const [index, breakerCase] of cases.entries()) {
      const orderIds = await createOrders(orders, `c${index}`, breakerCase.messages);
      breakerLog.clear();
      ordersLog.clear();
      const run = await runCase(breakerCase, `scale-${index}`, orderIds, {
        orders,
        agents,
        breakerStore: new DynamoDbBreakerStore(breakerClient, tableName),
        gatewayUrl: gateway.url,
      });
      const last = summarize(breakerCase, run, breakerLog.calls, ordersLog.calls);
      results.push(last);
      progress(
        `breaker: ${breakerCase.label}: ${last.charges} charges (${last.chargesAfterOpen} after ` +
          `it opened), ${last.windowWrites + last.stateWrites} breaker writes`,
      );
    }
    return results;
  } finally {
    progress('breaker: stopping');
    await Promise.allSettled([gateway.stop(), dynamo.stop()]);
  }
}

async function createOrders(
  orders: DynamoDbOrderRepository,
  prefix: string,
  count: number,
): Promise<string[]> {
  const ids = Array.from(
    { length: count },
    (_, n) => `ord_scale${prefix}${String(n).padStart(24 - prefix.length, '0')}`,
  );
  const createdAt = new Date().toISOString();
  for (let start = 0; start < ids.length; start += 50) {
    await Promise.all(
      ids.slice(start, start + 50).map((orderId) =>
        orders.create(
          openOrder({
            ...benchOrder,
            items: [...benchOrder.items],
            orderId,
            agentId,
            idempotencyKey: orderId,
            requestHash: 'scale',
            status: 'PENDING_PAYMENT',
            attempts: 0,
            createdAt,
          }),
        ),
      ),
    );
  }
  return ids;
}

interface CaseDeps {
  readonly orders: DynamoDbOrderRepository;
  readonly agents: DynamoDbAgentDirectory;
  readonly breakerStore: DynamoDbBreakerStore;
  readonly gatewayUrl: string;
}

interface CaseRun {
  readonly deliveries: number;
  readonly chargeStarts: number[];
  readonly heldByBreaker: number;
  readonly openedAt: number | undefined;
}

const passingRisk: RiskEngine = {
  assess: async () => ({ kind: 'assessed', level: 'pass', requestId: 'scale-risk' }),
};

async function runCase(
  breakerCase: BreakerCase,
  breakerName: string,
  orderIds: readonly string[],
  deps: CaseDeps,
): Promise<CaseRun> {
  const chargeStarts: number[] = [];
  let openedAt: number | undefined;
  const observer: PaymentObserver = {
    gatewayCall: (operation, _outcome, ms) => {
      if (operation === 'charge') chargeStarts.push(performance.now() - ms);
    },
    riskAnswered: () => {},
    riskBypassed: () => {},
    lateSuccess: () => {},
    ignored: () => {},
    refundRejected: () => {},
    foreignRefund: () => {},
    refundFailed: () => {},
    paymentWindowExpired: () => {},
  };
  const gateway = new HttpPaymentGateway({
    name: 'simulator',
    baseUrl: deps.gatewayUrl,
    timeoutMs: Number(wiring.functions.paymentSubmission.environment.GATEWAY_TIMEOUT_MS),
    apiKey: {
      get: async () => defaultGatewayApiKeys[0] ?? '',
      refresh: async () => {},
    },
  });
  const clock = { now: () => new Date() };
  const instance = () =>
    makeSubmitPayment({
      orders: deps.orders,
      agents: deps.agents,
      gateway,
      risk: passingRisk,
      breaker: new CircuitBreaker(
        deps.breakerStore,
        breakerName,
        clock,
        defaultBreakerPolicy,
        (from, to) => {
          if (from === 'closed' && to === 'open' && openedAt === undefined) {
            openedAt = performance.now();
          }
        },
      ),
      settlementChecks: { schedule: async () => {} },
      clock,
      observer,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      policy: {
        risk: defaultRiskPolicy,
        backoff: { baseSeconds: 1, maxSeconds: 1 },
        settlement: defaultSettlementSchedule,
        deadlines: defaultDeadlinePolicy,
      },
    });
  const delivery = { receiveCount: 1, maxReceiveCount: 8, remainingMs: () => 30_000 };
  let heldByBreaker = 0;
  let deliveries = 0;
  const deliver = async (submit: ReturnType<typeof instance>, orderId: string) => {
    deliveries += 1;
    const result = await submit({ orderId, agentId }, delivery);
    if (result.kind === 'retry' && result.reason === 'CIRCUIT_OPEN') heldByBreaker += 1;
  };

  let next = 0;
  const takeBatch = () => {
    const batch = orderIds.slice(next, next + batchSize);
    next += batch.length;
    return batch;
  };
  const deadline = performance.now() + (breakerCase.seconds ?? 0) * 1000;
  await Promise.all(
    Array.from({ length: breakerCase.instances }, async () => {
      const submit = instance();
      do {
        const batch = takeBatch();
        if (batch.length === 0) break;
        await Promise.all(batch.map((orderId) => deliver(submit, orderId)));
      } while (breakerCase.seconds !== undefined && performance.now() < deadline);
    }),
  );
  return { deliveries, chargeStarts, heldByBreaker, openedAt };
}

function summarize(
  breakerCase: BreakerCase,
  run: CaseRun,
  breakerCalls: readonly DynamoCall[],
  orderCalls: readonly DynamoCall[],
): BreakerResult {
  const writes = breakerCalls.filter((call) => call.operation === 'UpdateItem');
  const windowWrites = writes.filter((call) => call.keys.some((key) => key.includes('#W#')));
  const stateWrites = writes.filter((call) => !windowWrites.includes(call));
  const perItemSecond = new Map<string, number>();
  for (const call of writes) {
    const slot = `${call.keys[0]}@${Math.floor(call.startedAt / 1000)}`;
    perItemSecond.set(slot, (perItemSecond.get(slot) ?? 0) + 1);
  }
  const firstCharge = Math.min(...run.chargeStarts);
  const opened = run.openedAt;
  return {
    label: breakerCase.label,
    instances: breakerCase.instances,
    deliveries: run.deliveries,
    charges: run.chargeStarts.length,
    chargesBeforeOpen:
      opened === undefined
        ? run.chargeStarts.length
        : run.chargeStarts.filter((start) => start < opened).length,
    chargesAfterOpen:
      opened === undefined ? 0 : run.chargeStarts.filter((start) => start >= opened).length,
    heldByBreaker: run.heldByBreaker,
    msToOpen: opened === undefined ? Number.NaN : opened - firstCharge,
    breakerReads: breakerCalls.filter((call) => call.operation === 'BatchGetItem').length,
    windowWrites: windowWrites.length,
    stateWrites: stateWrites.length,
    stateWritesRefused: stateWrites.filter((call) => call.outcome.startsWith('ConditionalCheck'))
      .length,
    peakItemWritesPerSecond: Math.max(0, ...perItemSecond.values()),
    breakerWriteUnits: writes.reduce(
      (sum, call) => sum + (call.outcome === 'ok' ? call.writeUnits : 1),
      0,
    ),
    windowWriteP50Ms: percentile(
      windowWrites.map((call) => call.ms),
      50,
    ),
    windowWriteP99Ms: percentile(
      windowWrites.map((call) => call.ms),
      99,
    ),
    orderWrites: orderCalls.filter((call) =>
      ['UpdateItem', 'PutItem', 'TransactWriteItems'].includes(call.operation),
    ).length,
  };
}
