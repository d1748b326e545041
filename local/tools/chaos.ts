import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { orderKey } from '#adapters/table-keys.ts';
import { MAX_RATE_BURST, MAX_RATE_PER_SECOND } from '#domain/agent-guards.ts';
import type { HoldReason, Order } from '#domain/order.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import { orderIdFor } from '#domain/place-order.ts';
import { closedStatuses } from '#domain/settlement.ts';
import type { QueueName } from '#shared/wiring.ts';
import { signAgentToken, signOwnerToken } from '../runtime/auth.ts';
import {
  type LocalGateway,
  type LocalRuntime,
  parseLocalGateway,
  startLocalRuntime,
} from '../runtime/local-runtime.ts';
import type { DuplicateDelivery } from '../runtime/queue-poller.ts';
import { driveRotation } from '../runtime/rotation.ts';
import { toolOwnerOf } from '../runtime/seed.ts';
import { between, chance, type Random, seededRandom } from '../simulators/faults.ts';
import { defaultGatewayFaults } from '../simulators/gateway/fault-settings.ts';
import { localRiskCredentials } from '../simulators/risk/contract.ts';
import { type Check, checkInvariants, type Placed, type Violation } from './chaos/checks.ts';
import { DeadDeliveries, type DeadDeliveryCounts } from './chaos/dead-deliveries.ts';
import {
  checkGuards,
  defaultGuardAgentSettings,
  type GuardAgentSettings,
  guardAgentIds,
  guardAgentRows,
  type PlacedAnswer,
  runGuardAgents,
} from './chaos/guard-agents.ts';
import { type IntakeFaultCounts, IntakeFaults } from './chaos/intake-faults.ts';
import { scanSpend, watchUntilQuiet } from './chaos/observe.ts';
import { printSummary } from './chaos/report.ts';
import { type SettlementFaultCounts, SettlementFaults } from './chaos/settlement-faults.ts';
import { type UserAnswer, type UserBehaviour, Users } from './chaos/users.ts';
import { FlakyEndpoints, waitForEvents } from './chaos/webhooks.ts';

export interface ChaosOptions {
  readonly orders: number;
  /** Trusted agents placing orders at once; a tenth as many more that need confirmation. */
  readonly agents: number;
  /** Orders in flight at once. */
  readonly concurrency: number;
  readonly seed: number;
  /** Consumer invocations killed mid-batch over the run. */
  readonly kills: number;
  /** How long the pipeline may take to settle everything after the last order. */
  readonly settleTimeoutMs: number;
  /** Unsettled orders with no transition anywhere for this long are stuck; the wait ends. */
  readonly stallMs: number;
  /**
   * Also require every final state to be reached and every fault to be injected: a run too
   * small to reach them all leaves it off.
   */
  readonly coverage: boolean;
  /** Violations of each check printed in full, with the order's history and ledger entry. */
  readonly show: number;
  readonly log: (line: string) => void;
  /** How the users' requests reach the local API (a test passes one that checks each answer). */
  readonly fetch: (url: string, init: RequestInit) => Promise<Response>;
  /** The retry-loop and flooding agents (local/tools/chaos/guard-agents.ts). */
  readonly guardAgents: GuardAgentSettings;
  /** The gateway protocol the pipeline speaks to the simulator (GATEWAY, else the simulator's). */
  readonly gateway: LocalGateway;
}

export const defaultChaosOptions: ChaosOptions = {
  orders: 2000,
  agents: 40,
  concurrency: 16,
  seed: 2026,
  kills: 5,
  settleTimeoutMs: 10 * 60_000,
  stallMs: 60_000,
  coverage: true,
  show: 3,
  log: (line) => process.stdout.write(`${line}\n`),
  fetch: (url, init) => fetch(url, init),
  guardAgents: defaultGuardAgentSettings,
  gateway: 'simulator',
};

/**
 * Orders a trusted agent places at once while its user suspends it, besides `orders`: the first
 * third races the suspension, the rest is queued when it lands (see the placement).
 */
export const SUSPENSION_BURST = 6;

/**
 * Orders another trusted agent places at once while its user takes `submit_payment` from its
 * trusted actions, besides `orders`; split as `SUSPENSION_BURST` is.
 */
export const RESTRAINT_BURST = 10;

/** The hold reasons of an order whose agent its user restrained before the charge. */
const restraintReasons: ReadonlySet<HoldReason> = new Set<HoldReason>([
  'ACTION_NOT_TRUSTED',
  'OVER_ORDER_LIMIT',
  'LIMIT_CURRENCY_MISMATCH',
]);

/** The agent whose orders are closed after their charge (`chaosFaults.closedAfterCharge`). */
const closingAgentId = 'chaos-closing';

/** Above this amount an order whose risk check was bypassed is held instead of paid. */
const RISK_FAIL_OPEN_LIMIT = 3_000;

/** The faults of the run, each settable; rates are of the requests, messages or orders seen. */
export const chaosFaults = {
  gateway: {
    // Timeouts 10 %: half hang without charging, half charge and then never answer.
    hangRate: 0.05,
    chargeThenTimeoutRate: 0.05,
    errorRate: 0.1,
    throttleRate: 0.05,
    declineRate: 0.05,
    pendingRate: 0.3,
    hangMs: 1_500,
    settleAfterMs: 500,
    // A fifth of pending payments stay pending until their void at the settlement deadline,
    // and some of those voids do not hold: the money is taken a second later, before the first
    // lookup after the void, or, for half of them, between that lookup and the last one (the
    // run's capture window), and half of those captures are never announced: only a lookup
    // from the due index finds them.
    neverSettleRate: 0.2,
    lateSuccessRate: 0.3,
    lateSuccessAfterMs: 1_000,
    slowLateSuccessRate: 0.5,
    slowLateSuccessAfterMs: { min: 3_000, max: 16_000 },
    lateSuccessCallbackLostRate: 0.5,
    // A refund whose answer is lost leaves its callbacks, stray ones included, the first word.
    refundThenTimeoutRate: 0.1,
    // A refund that succeeds and fails half a second later (a closed card): the order owes the
    // money again, whether its events arrive, arrive twice, or are lost (the look at the refund
    // the reconciler schedules when it records it finds the failure then).
    refundFailRate: 0.25,
    refundFailAfterMs: 500,
    // On Stripe, a fifth of refunds are pending first: they succeed half a second later, or fail
    // then (when they drew refundFailRate) with no money given back, their events told or lost.
    refundPendingRate: 0.2,
    callbacks: { duplicateRate: 0.2, outOfOrderRate: 0.1, lostRate: 0.1, strayRefundRate: 0.3 },
  },
  /**
   * On Stripe only: refunds answered a 500 that Stripe saves under the key and replays until it
   * prunes the key, half of them after the refund was made (read from the payment's refunds at
   * once), half before (unknown, retried until the key is pruned, then made). The simulated
   * Stripe keeps a key 45 s here, above the run's payment window (40 s), or a charge resent under
   * a pruned key would make a second PaymentIntent; that is shorter than the sweep's redrive
   * budget, so the refund is made by a retry before the sweep gives it up. A refund the sweep
   * does give up is sent again 46 s later (less than the watch's `stallMs`), not a day later.
   */
  stripeSavedError: {
    faults: {
      refundSavedErrorRate: 0.05,
      refundSavedErrorUnmadeShare: 0.5,
      idempotencyKeyWindowMs: 45_000,
    },
    environment: { GATEWAY_IDEMPOTENCY_KEY_WINDOW_SECONDS: '46' },
  },
  risk: {
    internalErrorRate: 0.3,
    hangRate: 0.05,
    hangMs: 1_500,
    rejectRate: 0.03,
    reviewRate: 0.04,
  },
  /**
   * Intake's payment message and order put: refused, or made with the answer lost; the agent
   * retries with the same key.
   */
  intake: {
    sendRefusedRate: 0.02,
    sendAnswerLostRate: 0.02,
    putRefusedRate: 0.02,
    putAnswerLostRate: 0.02,
  },
  /**
   * Settlement moves made and their answer lost, so the SDK resends them and the resend is
   * refused; a late success's move to REFUND_PENDING more often, for the check of its refund.
   */
  settlement: { answerLostRate: 0.03, compensationLostRate: 0.5 },
  /**
   * Payment messages whose every delivery dies unhandled, on their way to the DLQ with nothing
   * written; every other one charged on its first delivery before it died.
   */
  deadDeliveries: { rate: 0.01, max: 6 },
  /**
   * Orders of one agent charged by their message's first delivery, which then crashes; a racing
   * delivery closes the order (failed by the risk engine, or held and cancelled by the user) and
   * every later delivery dies: the sweep's lookup through the dead message finds the charge.
   * Above the fail-open limit, so a silent risk engine holds the order rather than pay it.
   * Their charges take no gateway fault, so the first delivery charges unless the breaker is
   * open or the risk engine stops it: the agent places orders until `orders` of them were
   * charged and closed, `maxOrders` at most.
   */
  closedAfterCharge: { orders: 4, amount: 4_200, maxOrders: 12 },
  /** The users' webhook endpoints: some deliveries answered 500, some never answered. */
  webhooks: { errorRate: 0.2, hangRate: 0.05 },
  /** SQS delivering a message twice: in the same batch, or a copy seconds (prod: minutes) later. */
  queues: { sameBatchRate: 0.04, laterRate: 0.04, laterSeconds: { min: 3, max: 30 } },
  users: {
    waiting: { confirmRate: 0.5, cancelRate: 0.25, withinMs: 7_000 },
    held: { confirmRate: 0.35, cancelRate: 0.35 },
    refund: { rate: 0.15, sameKeyTwiceRate: 0.3, otherKeyRate: 0.3 },
  } satisfies UserBehaviour,
} as const;

/** The final states the default run must reach, each at least once. */
const expectedStates: readonly OrderStatus[] = [
  'PAID',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
  'REFUNDED',
  'HELD_FOR_REVIEW',
];

/** Separate streams, so that how one part's draws interleave cannot shift another's. */
const streams = {
  orders: 1,
  consumers: 2,
  users: 3,
  webhooks: 4,
  guards: 5,
  intake: 6,
  deadDeliveries: 7,
  settlement: 8,
} as const;

export interface ChaosReport {
  readonly orders: number;
  /** Placements refused because their agent was suspended: no order was made for them. */
  readonly refused: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly faults: readonly { readonly fault: string; readonly count: number }[];
  readonly checks: readonly Check[];
  readonly seconds: number;
  readonly ok: boolean;
}

/**
 * Drives orders through the whole local stack while every simulated dependency misbehaves and
 * the users act on the same orders, waits until nothing more can happen, then checks what must
 * hold whatever happened: nothing lost or stuck, the gateway's money matching every order, every
 * history a legal path, no replay making a second order, every agent's budget holding only what
 * was kept.
 */
export async function runChaos(overrides: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const options = { ...defaultChaosOptions, ...overrides };
  const random = (stream: number) => seededRandom(options.seed * 31 + stream);
  const consumerRandom = random(streams.consumers);
  const started = Date.now();
  const injected = {
    kills: 0,
    duplicates: {} as Record<string, number>,
    rotations: 0,
    riskKeyDisabled: false,
    sameKeyRaces: 0,
  };
  let cancelAsUser = async (_orderId: string): Promise<void> => {};
  const deadDeliveries = new DeadDeliveries(
    random(streams.deadDeliveries),
    chaosFaults.deadDeliveries,
    {
      agentId: closingAgentId,
      rejectAgent: (reject) =>
        stack.risk.setRules(reject ? { byAgent: { [closingAgentId]: 'reject' } } : {}),
      cancel: (orderId) => cancelAsUser(orderId),
    },
  );
  const stack = await startLocalRuntime({
    wrapHandler: deadDeliveries.wrap,
    gateway: options.gateway,
    logLevel: 'SILENT',
    seed: options.seed,
    scheduleSeconds: 2,
    gatewayFaults: {
      ...chaosFaults.gateway,
      ...(options.gateway === 'stripe' ? chaosFaults.stripeSavedError.faults : {}),
    },
    riskFaults: chaosFaults.risk,
    environment: {
      POWERTOOLS_METRICS_DISABLED: 'true',
      BACKOFF_MAX_SECONDS: '2',
      GATEWAY_TIMEOUT_MS: '1000',
      SETTLEMENT_FIRST_CHECK_SECONDS: '2',
      SETTLEMENT_INTERVAL_SECONDS: '2',
      SETTLEMENT_CHECKS: '4',
      // After a void: looked up 2 s later (the interval), then from the due index at 6 s, 12 s
      // and at the end of the run's capture window, 20 s; the sweep runs every 2 s.
      SETTLEMENT_VOID_LOOKUP_SECONDS: '6,12',
      GATEWAY_CAPTURE_WINDOW_SECONDS: '20',
      CONFIRMATION_WINDOW_SECONDS: '5',
      PAYMENT_DEADLINE_SECONDS: '30',
      // Orders that cannot be paid within it end FAILED within the run.
      PAYMENT_WINDOW_SECONDS: '40',
      // The breaker's 30 s open is AWS's, against a day's payment window. The gateway faults fail
      // a quarter of the calls, so now and then the first 20 of a 10 s window (its minimum volume)
      // are half failures and trip it; open 30 s, and 30 s more when its probe drew a fault, it
      // held every payment queued meanwhile past the run's window. Scaled as its other times are.
      BREAKER_OPEN_SECONDS: '3',
      REFUND_DEADLINE_SECONDS: '20',
      RISK_FAIL_OPEN_LIMIT: String(RISK_FAIL_OPEN_LIMIT),
      MAX_ORDER_AMOUNT: '1000000',
      NOTIFICATION_BACKOFF_BASE_SECONDS: '1',
      NOTIFICATION_BACKOFF_MAX_SECONDS: '2',
      WEBHOOK_DELIVERY_TIMEOUT_MS: '500',
      ...(options.gateway === 'stripe' ? chaosFaults.stripeSavedError.environment : {}),
    },
    // A killed batch comes back after its visibility timeout: keep it short for the run.
    queues: {
      paymentSubmission: { visibilityTimeoutSeconds: 10, maxReceiveCount: 10 },
      settlementCheck: { visibilityTimeoutSeconds: 10, maxReceiveCount: 10 },
      // A flaky endpoint refuses a quarter of the deliveries: 30 tries all but never run out.
      notification: { visibilityTimeoutSeconds: 10, maxReceiveCount: 30 },
    },
    crashAfterInvoke: () => {
      if (injected.kills >= options.kills || consumerRandom() > 0.05) return false;
      injected.kills++;
      return true;
    },
    duplicateDelivery: (queue) => {
      const duplicate = drawDuplicate(consumerRandom);
      if (duplicate) {
        const name = `${queue} ${duplicate.kind}`;
        injected.duplicates[name] = (injected.duplicates[name] ?? 0) + 1;
      }
      return duplicate;
    },
  });
  const endpoints = await FlakyEndpoints.start(random(streams.webhooks), chaosFaults.webhooks);
  const clients = await import('#adapters/aws-clients.ts');
  const intakeFaults = new IntakeFaults(random(streams.intake), chaosFaults.intake);
  intakeFaults.attach(clients.dynamodb, clients.sqs);
  const settlementFaults = new SettlementFaults(random(streams.settlement), chaosFaults.settlement);
  settlementFaults.attach(clients.dynamodb, clients.sqs, stack.queueUrls.settlementCheck.url);
  deadDeliveries.attach(
    clients.dynamodb,
    stack.sqs,
    stack.queueUrls.paymentSubmission.url,
    clients.sqs,
  );
  let riskKeyWatch: NodeJS.Timeout | undefined;
  try {
    const { trusted, cautious, misbehaving, closing } = await seedChaosAgents(
      stack,
      options.agents,
    );
    const api: LocalApi = { url: stack.apiUrl, fetch: options.fetch };
    const tokens = new Map<string, string>();
    const userTokens = new Map<string, string>();
    for (const agentId of [...trusted, ...cautious, ...misbehaving, ...closing]) {
      tokens.set(agentId, await signAgentToken(agentId));
      userTokens.set(agentId, await signOwnerToken(agentId));
    }
    for (const agentId of [...trusted, ...cautious, ...misbehaving, ...closing]) {
      await registerEndpoint(api, userTokens.get(agentId) ?? '', agentId, endpoints);
    }
    cancelAsUser = async (orderId) => {
      await send(api, userTokens.get(closingAgentId) ?? '', `/v1/orders/${orderId}/cancel`);
    };
    const users = new Users(
      (agentId, path, key, body) => send(api, userTokens.get(agentId) ?? '', path, key, body),
      random(streams.users),
      chaosFaults.users,
    );
    const orderRandom = random(streams.orders);
    // A quarter in, the users of a trusted and of a cautious agent suspend them while their
    // orders are queued or waiting; the trusted one is resumed at half-way, the other never.
    const suspension = {
      at: Math.floor(options.orders / 4),
      resumeAt: Math.floor(options.orders / 2),
      agents: [trusted[0], cautious[0]].filter((agentId) => agentId !== undefined),
      suspended: new Set<string>(),
      /** Agents whose suspension was asked for (from the request on) and not yet resumed. */
      requested: new Set<string>(),
      refused: 0,
    };
    // At the same moment the user of another trusted agent takes `submit_payment` from it while
    // its own burst is queued, and gives it back at half-way: its orders not yet sent are held.
    const restraint = { agent: trusted[1], violations: [] as Violation[] };
    const ownerCall = (agentId: string, action: 'suspend' | 'resume') =>
      send(api, userTokens.get(agentId) ?? '', `/v1/agents/${agentId}/${action}`);
    const placed: Placed[] = [];
    const replayViolations: Violation[] = [];
    const suspensionViolations: Violation[] = [];
    const setTrust = async (agentId: string, trustedActions: readonly string[]) => {
      const path = `/v1/agents/${agentId}`;
      const body = { trustedActions };
      const answer = await send(api, userTokens.get(agentId) ?? '', path, undefined, body, 'PATCH');
      if (answer.status !== 200) {
        restraint.violations.push({ detail: `PATCH ${path} answered ${answer.status}` });
      }
    };
    /**
     * Places orders `from` to `to` (excluded) of one agent's burst at once (1.00, 2.00, … CNY for
     * the burst's first, second, …), to be paid at once.
     */
    const queueBurst = (agentId: string, tag: string, from: number, to: number) =>
      Promise.all(
        Array.from({ length: to - from }, async (_, offset) => {
          const n = from + offset;
          const burstKey = `${tag}-${n}-${randomUUID()}`;
          const amount = 100 + n * 100;
          const queued = await placeOrder(
            api,
            tokens.get(agentId) ?? '',
            burstKey,
            orderBody(amount, burstKey),
          );
          if (queued) placed.push({ agentId, key: burstKey, orderId: queued.orderId, amount });
          else suspension.refused++;
        }),
      );
    let placing = true;
    let next = 0;

    // The risk engine's key pair disabled in CAM for a while: AuthFailure on every check. Each
    // refused check is two AuthFailures (the adapter refreshes the key and asks once more). The
    // key comes back after ten refused checks, which reach several batches (a redelivered batch,
    // a consumer killed or a copy, is checked again once the key is back, and its orders then
    // record a verdict, not the refusal), or after a minute if the consumers ask less: the
    // refusals are counted as they come, not against the orders placed, which a fast placement
    // outruns.
    const watchRiskKey = (index: number) => {
      const disabledAt = Date.now();
      const askedBefore = stack.risk.requests().total;
      stack.risk.setCredentials({ AKIDchaosReplacement: 'not-the-local-key' });
      options.log(`disabled the risk engine's key after ${index} orders`);
      riskKeyWatch = setInterval(() => {
        const asked = stack.risk.requests();
        if (asked.authFailures < 20 && Date.now() - disabledAt < 60_000) return;
        clearInterval(riskKeyWatch);
        stack.risk.setCredentials({
          [localRiskCredentials.SecretId]: localRiskCredentials.SecretKey,
        });
        options.log(
          `restored the risk engine's key after ${next} orders placed, ${Math.round((Date.now() - disabledAt) / 1000)} s (${asked.authFailures} of ${asked.total - askedBefore} requests meanwhile refused)`,
        );
      }, 200);
      riskKeyWatch.unref();
    };
    const placeOne = async (): Promise<void> => {
      const index = next++;
      if (index >= options.orders) return;
      if (!injected.riskKeyDisabled && index >= options.orders / 4) {
        injected.riskKeyDisabled = true;
        watchRiskKey(index);
      }
      if (injected.rotations === 0 && index >= options.orders / 2) {
        injected.rotations++;
        await rotateBoth(stack);
        options.log(`rotated both secrets after ${index} orders`);
      }
      const waits = orderRandom() < 0.1;
      const pool = waits ? cautious : trusted;
      let agentId = pool[Math.floor(orderRandom() * pool.length)] as string;
      if (index === suspension.at) {
        // The race: the first third of each burst is queued and payment submission works through
        // it while its users act. Then the certainty: the payment queue's batches are held back
        // from the function while the rest is placed and the users act, so those orders
        // are queued (their messages in the queue or received, not handed over) when the
        // suspension and the restraint land, and payment submission's re-read of the agent is
        // what holds them once the batches are released.
        const trustedAgent = suspension.agents[0] ?? agentId;
        const restrained = restraint.agent;
        // Two in three held: the product holds for other reasons first now and then (the risk
        // engine's review or rejection, a dead delivery), so more than one keeps the row certain.
        const bursts = (part: 'racing' | 'held') => {
          const range = (size: number) => {
            const racing = Math.floor(size / 3);
            return part === 'racing' ? ([0, racing] as const) : ([racing, size] as const);
          };
          return Promise.all([
            queueBurst(trustedAgent, `chaos-${index}-burst`, ...range(SUSPENSION_BURST)),
            restrained &&
              queueBurst(restrained, `chaos-${index}-restraint`, ...range(RESTRAINT_BURST)),
          ]);
        };
        await bursts('racing');
        const payments = stack.batchHolds.paymentSubmission;
        const heldSince = Date.now();
        payments.hold();
        let held = { batches: 0, messages: 0 };
        try {
          await bursts('held');
          for (const suspended of suspension.agents) suspension.requested.add(suspended);
          await Promise.all([
            ...suspension.agents.map((suspended) => ownerCall(suspended, 'suspend')),
            restrained && setTrust(restrained, ['order_coffee']),
          ]);
        } finally {
          // Whatever happened: a hold left on would stall every payment of the run.
          held = payments.release();
        }
        for (const suspended of suspension.agents) suspension.suspended.add(suspended);
        options.log(
          `suspended ${suspension.agents.join(', ')}, restrained ${restrained} after ${index} orders ` +
            `(payments held back ${secondsSince(heldSince)} s meanwhile: ${held.messages} messages in ${held.batches} batches)`,
        );
        // The next placement is one of the suspended agent's: it must be refused.
        agentId = suspension.agents[0] ?? agentId;
      }
      if (index === suspension.resumeAt && suspension.agents[0] !== undefined) {
        await ownerCall(suspension.agents[0], 'resume');
        suspension.suspended.delete(suspension.agents[0]);
        suspension.requested.delete(suspension.agents[0]);
      }
      if (index === suspension.resumeAt && restraint.agent !== undefined) {
        await setTrust(restraint.agent, ['order_coffee', 'submit_payment']);
      }
      const replays = chance(orderRandom, 0.1);
      const key = `chaos-${index}-${randomUUID()}`;
      const amount = 100 + Math.floor(orderRandom() * 39) * 100;
      // Each order its own intent: the duplicate guard is the retry-loop agent's part.
      const body = orderBody(amount, `chaos-${index}`);
      const suspendedBefore = suspension.suspended.has(agentId);
      // Every other replay is an impatient client's: sent again while the first call still runs,
      // so two placements with the one key claim the agent-day item at once.
      const racing =
        replays && index % 2 === 0
          ? placeOrder(api, tokens.get(agentId) ?? '', key, body)
          : undefined;
      const first = await placeOrder(api, tokens.get(agentId) ?? '', key, body);
      const raced = await racing;
      if (racing !== undefined) injected.sameKeyRaces++;
      const order = first ?? raced;
      // One order for both calls; only a suspension asked for meanwhile refuses just one of them.
      const oneRefused =
        (first === undefined || raced === undefined) && suspension.requested.has(agentId);
      if (
        racing !== undefined &&
        order !== undefined &&
        !oneRefused &&
        raced?.orderId !== first?.orderId
      ) {
        replayViolations.push({
          orderId: order.orderId,
          detail: `the racing calls with ${key} made ${first?.orderId} and ${raced?.orderId}`,
        });
      }
      // Only a state that held from the request to its answer says what the answer must be.
      const suspendedAfter = suspension.suspended.has(agentId);
      if (order === undefined) {
        if (!suspendedBefore && !suspendedAfter) {
          suspensionViolations.push({ detail: `${agentId} was refused while not suspended` });
        }
        suspension.refused++;
        await placeOne();
        return;
      }
      if (suspendedBefore && suspendedAfter) {
        suspensionViolations.push({
          orderId: order.orderId,
          detail: `suspended ${agentId} ordered`,
        });
      }
      placed.push({ agentId, key, orderId: order.orderId, amount });
      if (replays) {
        const replay = await placeOrder(api, tokens.get(agentId) ?? '', key, body);
        // A suspension asked for since the order was placed refuses its replay too (403).
        const refusedAsSuspended = replay === undefined && suspension.requested.has(agentId);
        if (!refusedAsSuspended && replay?.orderId !== order.orderId) {
          replayViolations.push({
            orderId: order.orderId,
            detail: `the replay of ${key} made ${replay?.orderId}`,
          });
        }
      }
      if (order.status === 'AWAITING_CONFIRMATION') users.waiting({ ...order, agentId });
      await placeOne();
    };
    // One at a time: the risk engine's rejection of the agent is for one racing delivery.
    const placeClosing = async (): Promise<void> => {
      const { orders: count, amount, maxOrders } = chaosFaults.closedAfterCharge;
      let charged = 0;
      for (let n = 0; n < maxOrders && charged < count; n++) {
        const key = `chaos-closing-${n}-${randomUUID()}`;
        // Spared before it exists: its message may be delivered before the placement answers.
        stack.gateway.spareCharges([orderIdFor(closingAgentId, key)]);
        const order = await placeOrder(
          api,
          tokens.get(closingAgentId) ?? '',
          key,
          orderBody(amount, key),
        );
        if (order === undefined) continue;
        placed.push({ agentId: closingAgentId, key, orderId: order.orderId, amount });
        await deadDeliveries.whenClosed(order.orderId, 60_000);
        const captured = stack.gateway.ledger().charges[order.orderId]?.captured ?? 0;
        if (deadDeliveries.closed.has(order.orderId) && captured > 0) charged++;
      }
    };
    const watching = watchUntilQuiet(stack, users, {
      placed: () => placed.map((p) => p.orderId),
      placing: () => placing,
      timeoutMs: options.settleTimeoutMs,
      stallMs: options.stallMs,
      pollMs: 2_000,
      log: options.log,
      progressMs: 15_000,
      // Closed after a charge its dead message hides, until the sweep has read that message.
      awaits: (order) =>
        deadDeliveries.closed.has(order.orderId) &&
        closedStatuses.has(order.status) &&
        order.deadLettered !== true,
    });
    // Should placing fail, the watch ends by itself once the stack is stopped.
    watching.catch(() => undefined);
    const [guardRun] = await Promise.all([
      runGuardAgents(
        (agentId, key, body) => postOrder(api, tokens.get(agentId) ?? '', key, body),
        orderIdFor,
        orderBody,
        random(streams.guards),
        options.guardAgents,
        (agentId, key, answer, amount) => {
          const orderId = answer.body.orderId ?? '';
          placed.push({ agentId, key, orderId, amount });
          if (answer.body.status === 'AWAITING_CONFIRMATION') {
            users.waiting({ orderId, agentId });
          }
        },
      ),
      ...Array.from({ length: options.concurrency }, placeOne),
      placeClosing(),
    ]);
    placing = false;
    const placingSeconds = secondsSince(started);
    options.log(
      `placed ${placed.length} orders in ${placingSeconds} s ` +
        `(${suspension.refused} refused: agent suspended); settling...`,
    );

    const watched = await watching;
    await users.done();
    const ledger = stack.gateway.ledger();
    const orders = watched.orders;
    const byStatus = countStatuses(placed, orders);
    const notified = await waitForEvents(placed, orders, endpoints, 60_000);
    const faults = faultsInjected(
      stack,
      orders,
      users,
      {
        ...injected,
        refusedWhileSuspended: suspension.refused,
        intake: intakeFaults.counts,
        settlement: settlementFaults.counts,
        deadDeliveries: {
          ...deadDeliveries.counts,
          doomed: deadDeliveries.doomed,
          closed: deadDeliveries.closed,
        },
      },
      endpoints,
      options.gateway,
    );
    const checks = [
      ...checkInvariants({
        placed,
        orders,
        ledger,
        spend: await scanSpend(stack),
        replayViolations,
      }),
      ...checkGuards(
        guardRun,
        orders,
        await storedOrders(stack, guardRun.flood.refused),
        options.guardAgents,
      ),
      { name: "users' requests were all answered below 500", violations: users.serverErrors },
      {
        name: 'a suspended agent placed nothing, and only a suspended one was refused',
        violations: suspensionViolations,
      },
      {
        name: "a restraint was applied, and held only the restrained agent's orders",
        violations: [
          ...restraint.violations,
          ...[...orders.values()]
            .filter(
              (order) =>
                order.holdReason !== undefined &&
                restraintReasons.has(order.holdReason) &&
                order.agentId !== restraint.agent,
            )
            .map((order) => ({
              orderId: order.orderId,
              detail: `${order.agentId}'s order held ${order.holdReason}`,
            })),
        ],
      },
      {
        name: 'consumers were killed mid-batch',
        violations: injected.kills > 0 || options.kills === 0 ? [] : [{ detail: 'no kill' }],
      },
      notified,
      settlementFaults.check(orders),
      {
        name: 'every event that reached an endpoint was signed with its secret',
        violations:
          endpoints.refused.badSignatures === 0
            ? []
            : [{ detail: `${endpoints.refused.badSignatures} deliveries failed verification` }],
      },
      ...(options.coverage ? coverageChecks(byStatus, faults) : []),
    ];
    const report: ChaosReport = {
      orders: placed.length,
      refused: suspension.refused,
      byStatus,
      faults,
      checks,
      seconds: secondsSince(started),
      ok: checks.every((check) => check.violations.length === 0),
    };
    printSummary(
      {
        ...report,
        placingSeconds,
        seed: options.seed,
        outcome: watched.outcome,
        answers: users.counts.answers,
        shownPerCheck: options.show,
      },
      orders,
      ledger,
      options.log,
    );
    options.log('');
    options.log('| misbehaving agent | what the guards made of it |');
    options.log('|---|---|');
    for (const [agent, what] of guardAgentRows(guardRun, orders)) {
      options.log(`| ${agent} | ${what} |`);
    }
    return report;
  } finally {
    clearInterval(riskKeyWatch);
    intakeFaults.detach(clients.dynamodb, clients.sqs);
    settlementFaults.detach(clients.dynamodb, clients.sqs);
    deadDeliveries.detach(clients.dynamodb, clients.sqs);
    await stack.stop();
    await endpoints.stop();
  }
}

/** The user's endpoint for every order event, registered as the user's app would. */
async function registerEndpoint(
  api: LocalApi,
  userToken: string,
  userId: string,
  endpoints: FlakyEndpoints,
): Promise<void> {
  const answer = await send(api, userToken, '/v1/webhook-endpoints', `chaos-${userId}`, {
    url: endpoints.urlOf(userId),
    events: [
      'order.awaiting_confirmation',
      'order.held_for_review',
      'order.paid',
      'order.failed',
      'order.expired',
      'order.refunded',
      'order.refund_failed',
    ],
  });
  const { secret } = answer.body as { secret?: string };
  if (answer.status !== 201 || !secret) {
    throw new Error(`registering ${userId}'s endpoint answered ${answer.status}`);
  }
  endpoints.registered(userId, secret);
}

function drawDuplicate(random: Random): DuplicateDelivery | undefined {
  const { sameBatchRate, laterRate, laterSeconds } = chaosFaults.queues;
  const draw = random();
  const delaySeconds = between(random, laterSeconds);
  if (draw < sameBatchRate) return { kind: 'same-batch' };
  if (draw < sameBatchRate + laterRate) return { kind: 'later', delaySeconds };
  return undefined;
}

async function seedChaosAgents(stack: LocalRuntime, count: number) {
  const agents = new DynamoDbAgentDirectory(stack.dynamodb, stack.tableName);
  const trusted = Array.from({ length: count }, (_, i) => `chaos-agent-${i}`);
  const cautious = Array.from(
    { length: Math.max(1, Math.ceil(count / 10)) },
    (_, i) => `chaos-cautious-${i}`,
  );
  const limits = { limitCurrency: 'CNY', perOrderLimit: 5_000, dailyLimit: 100_000_000 };
  const paying = ['order_coffee', 'submit_payment'];
  // The run's own agents place as fast as the run drives them: the widest bucket a user may set.
  const bucket = { ratePerSecond: MAX_RATE_PER_SECOND, rateBurst: MAX_RATE_BURST };
  for (const agentId of trusted) {
    await agents.put({
      agentId,
      ownerId: toolOwnerOf(agentId) ?? agentId,
      suspended: false,
      trustedActions: paying,
      ...limits,
      ...bucket,
    });
  }
  for (const agentId of cautious) {
    await agents.put({
      agentId,
      ownerId: toolOwnerOf(agentId) ?? agentId,
      suspended: false,
      trustedActions: ['order_coffee'],
      ...limits,
      ...bucket,
    });
  }
  await agents.put({
    agentId: closingAgentId,
    ownerId: toolOwnerOf(closingAgentId) ?? closingAgentId,
    suspended: false,
    trustedActions: paying,
    ...limits,
    ...bucket,
  });
  // The misbehaving two have the default bucket, as any agent whose user set none.
  for (const agentId of Object.values(guardAgentIds)) {
    await agents.put({
      agentId,
      ownerId: toolOwnerOf(agentId) ?? agentId,
      suspended: false,
      trustedActions: paying,
      ...limits,
    });
  }
  return {
    trusted,
    cautious,
    misbehaving: Object.values(guardAgentIds),
    closing: [closingAgentId],
  };
}

function orderBody(amount: number, sessionId: string) {
  return {
    action: 'order_coffee',
    sessionId,
    items: [{ sku: 'latte', size: 'medium', quantity: 1 }],
    amount,
    currency: 'CNY',
    paymentMethod: 'wallet',
  };
}

interface LocalApi {
  readonly url: string;
  readonly fetch: ChaosOptions['fetch'];
}

async function send(
  api: LocalApi,
  token: string,
  path: string,
  key?: string,
  body?: unknown,
  method: 'POST' | 'PATCH' = 'POST',
): Promise<UserAnswer> {
  const response = await api.fetch(`${api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...(key ? { 'idempotency-key': key } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * A 5xx is safe to retry with the same key: that is what the key is for; a 429 is waited out
 * for its Retry-After, as an agent that reads the answer does. Undefined when the agent is
 * suspended: nothing was placed.
 */
async function placeOrder(
  api: LocalApi,
  token: string,
  key: string,
  body: unknown,
): Promise<{ orderId: string; status: OrderStatus } | undefined> {
  for (let attempt = 0; ; attempt++) {
    const answer = await postOrder(api, token, key, body);
    if (answer.status === 429) {
      await new Promise((resolve) => setTimeout(resolve, (answer.retryAfterSeconds ?? 1) * 1000));
      continue;
    }
    if ((answer.body as { error?: { code?: string } }).error?.code === 'AGENT_SUSPENDED') {
      return undefined;
    }
    if (answer.status < 500 || attempt >= 5) {
      return answer.body as { orderId: string; status: OrderStatus };
    }
    await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
  }
}

/** One placement, answered as it came: its status, its body and a 429's Retry-After. */
async function postOrder(
  api: LocalApi,
  token: string,
  key: string,
  body: unknown,
): Promise<PlacedAnswer> {
  const response = await api.fetch(`${api.url}/v1/orders`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
  });
  const retryAfter = response.headers.get('retry-after');
  return {
    status: response.status,
    body: (await response.json()) as PlacedAnswer['body'],
    ...(retryAfter === null ? {} : { retryAfterSeconds: Number(retryAfter) }),
  };
}

/** Which of these orders the table holds (a refused request must have stored none). */
async function storedOrders(stack: LocalRuntime, orderIds: readonly string[]): Promise<string[]> {
  const stored: string[] = [];
  for (const orderId of orderIds) {
    const found = await stack.dynamodb.send(
      new GetCommand({ TableName: stack.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    if (found.Item !== undefined) stored.push(orderId);
  }
  return stored;
}

async function rotateBoth(stack: LocalRuntime): Promise<void> {
  for (const secretId of [stack.secretIds.gatewayApiKey, stack.secretIds.webhookSigningSecret]) {
    await driveRotation((event) => stack.invoke('keyRotation', event), secretId);
  }
}

function countStatuses(
  placed: readonly Placed[],
  orders: ReadonlyMap<string, Order>,
): Record<string, number> {
  const byStatus: Record<string, number> = Object.fromEntries(
    expectedStates.map((status) => [status, 0]),
  );
  for (const p of placed) {
    const order = orders.get(p.orderId);
    const label =
      order === undefined
        ? 'lost'
        : order.deadLettered && order.status === 'PENDING_PAYMENT'
          ? 'PENDING_PAYMENT (dead-lettered)'
          : order.status;
    byStatus[label] = (byStatus[label] ?? 0) + 1;
  }
  return byStatus;
}

/** What the run did to the pipeline, counted where it happened; each must happen at least once. */
function faultsInjected(
  stack: LocalRuntime,
  orders: ReadonlyMap<string, Order>,
  users: Users,
  injected: {
    kills: number;
    duplicates: Record<string, number>;
    rotations: number;
    sameKeyRaces: number;
    refusedWhileSuspended: number;
    intake: IntakeFaultCounts;
    settlement: SettlementFaultCounts;
    deadDeliveries: DeadDeliveryCounts & {
      readonly doomed: ReadonlySet<string>;
      readonly closed: ReadonlySet<string>;
    };
  },
  endpoints: FlakyEndpoints,
  gateway: LocalGateway,
): { fault: string; count: number }[] {
  const ledger = stack.gateway.ledger();
  const risk = stack.risk.requests();
  const held = [...orders.values()].filter((order) => order.holdReason === 'RISK_UNAVAILABLE');
  const duplicates = (queue: QueueName, kind: DuplicateDelivery['kind']) =>
    injected.duplicates[`${queue} ${kind}`] ?? 0;
  const { waiting, held: review, refunds } = users.counts;
  const voids = ledger.payments.filter((p) => p.status === 'VOIDED').length;
  const declines = ledger.payments.filter(
    (p) => p.declineCode === defaultGatewayFaults.declineCode,
  );
  const rows: [string, number][] = [
    ['payment message delivered twice in one batch', duplicates('paymentSubmission', 'same-batch')],
    ['payment message copied seconds later', duplicates('paymentSubmission', 'later')],
    ['settlement check delivered twice in one batch', duplicates('settlementCheck', 'same-batch')],
    ['settlement check copied seconds later', duplicates('settlementCheck', 'later')],
    ['risk verdict review', risk.verdicts.review],
    ['risk verdict reject', risk.verdicts.reject],
    ['risk engine timeout', risk.faults.hang],
    [
      'risk key refused (AuthFailure): failed open, alarmed',
      [...orders.values()].filter((order) => order.risk?.errorCode?.startsWith('AuthFailure'))
        .length,
    ],
    [
      `held: risk engine silent on an amount above ${RISK_FAIL_OPEN_LIMIT}`,
      held.filter((order) => order.amount > RISK_FAIL_OPEN_LIMIT).length,
    ],
    ['gateway hard decline', declines.length],
    ['pending payment voided at its deadline', voids + ledger.lateSuccesses],
    ['late success after the void', ledger.lateSuccesses],
    ['late success after the first lookup that follows the void', ledger.slowLateSuccesses],
    ['late success never announced (only a lookup finds it)', ledger.lateSuccessCallbacksLost],
    ['stray refund.succeeded (foreign or partial)', ledger.strayRefundEvents],
    ['refund failed after it succeeded (money back)', ledger.failedRefunds],
    // Only Stripe's face answers a refund pending; the simulator's own protocol settles at once.
    ...(gateway === 'stripe'
      ? [
          [
            'refund pending at Stripe, then failed (no money left)',
            ledger.pendingRefundsFailed,
          ] as [string, number],
          [
            'refund answered a saved 500 after it was made (adopted at once)',
            ledger.refundSavedErrors - ledger.refundSavedErrorsUnmade,
          ] as [string, number],
          [
            'refund answered a saved 500, none made (made once the key was pruned)',
            ledger.refundSavedErrorsUnmade,
          ] as [string, number],
        ]
      : []),
    ['user confirmed a waiting order', waiting.confirmed],
    ['user cancelled a waiting order', waiting.cancelled],
    ['user confirmed a held order', review.confirmed],
    ['user cancelled a held order', review.cancelled],
    ['user left a held order held', review.left],
    ['user refunded once', refunds.once],
    ['user refunded twice with one key', refunds.sameKeyTwice],
    ['user refunded again with another key', refunds.otherKey],
    ['secrets rotated midway', injected.rotations],
    ['order refused: its agent suspended', injected.refusedWhileSuspended],
    ['held: agent suspended with the order queued', heldBySuspension(orders)],
    ['held: agent restrained with the order queued', heldByRestraint(orders)],
    ['consumer killed mid-batch', injected.kills],
    ['intake: payment message refused (retried with the key)', injected.intake.sendRefused],
    ['intake: payment message sent, answer lost', injected.intake.sendAnswerLost],
    ['intake: order put refused after the claim', injected.intake.putRefused],
    ['intake: order put made, answer lost', injected.intake.putAnswerLost],
    ['intake: one key placed twice at once (a client resending early)', injected.sameKeyRaces],
    ['settlement move made, its answer lost (the SDK resent it)', injected.settlement.answerLost],
    [
      "late success's move to REFUND_PENDING made, its answer lost",
      injected.settlement.compensationLost,
    ],
    [
      'payment message: every delivery died before writing (to the DLQ)',
      injected.deadDeliveries.diedBeforeWriting,
    ],
    [
      'payment message: charged, then every delivery died (to the DLQ)',
      injected.deadDeliveries.crashedAfterCharge,
    ],
    [
      'payment message: charged, its order closed by a racing delivery, then every delivery died (to the DLQ)',
      injected.deadDeliveries.closedAfterCharge,
    ],
    [
      'closed order looked up by the sweep through its dead payment message',
      [...injected.deadDeliveries.closed].filter((id) => orders.get(id)?.deadLettered === true)
        .length,
    ],
    [
      'charge on a closed order found that way, and given back',
      [...injected.deadDeliveries.closed].filter((id) => {
        const order = orders.get(id);
        return order?.deadLettered === true && order.compensation === true;
      }).length,
    ],
    [
      'order found by the sweep through its dead payment message',
      [...injected.deadDeliveries.doomed].filter((id) => orders.get(id)?.deadLettered === true)
        .length,
    ],
    ['webhook endpoint answered 500', endpoints.refused.errors],
    ['webhook endpoint never answered', endpoints.refused.hangs],
  ];
  return rows.map(([fault, count]) => ({ fault, count }));
}

/** Orders payment submission held because their agent was suspended (a user may have acted since). */
function heldBySuspension(orders: ReadonlyMap<string, Order>): number {
  return [...orders.values()].filter((order) => order.holdReason === 'AGENT_SUSPENDED').length;
}

/** Orders payment submission held because their user restrained their agent (idem). */
function heldByRestraint(orders: ReadonlyMap<string, Order>): number {
  return [...orders.values()].filter(
    (order) => order.holdReason !== undefined && restraintReasons.has(order.holdReason),
  ).length;
}

function coverageChecks(
  byStatus: Readonly<Record<string, number>>,
  faults: readonly { fault: string; count: number }[],
): Check[] {
  return [
    {
      name: `every final state is reached (${expectedStates.join(', ')})`,
      violations: expectedStates
        .filter((status) => (byStatus[status] ?? 0) === 0)
        .map((status) => ({ detail: `no order ended ${status}` })),
    },
    {
      name: 'every fault was injected',
      violations: faults
        .filter(({ count }) => count === 0)
        .map(({ fault }) => ({ detail: `never: ${fault}` })),
    },
  ];
}

function secondsSince(start: number): number {
  return Math.round((Date.now() - start) / 100) / 10;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const flag = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? Number(process.argv[at + 1]) : undefined;
  };
  const overrides: Partial<ChaosOptions> = {};
  for (const name of ['orders', 'agents', 'concurrency', 'seed', 'kills', 'show'] as const) {
    const value = flag(name);
    if (value !== undefined && Number.isFinite(value)) Object.assign(overrides, { [name]: value });
  }
  if (process.argv.includes('--no-coverage')) Object.assign(overrides, { coverage: false });
  const named = process.argv.includes('--gateway')
    ? process.argv[process.argv.indexOf('--gateway') + 1]
    : process.env.GATEWAY;
  Object.assign(overrides, { gateway: parseLocalGateway(named) });
  const report = await runChaos(overrides);
  process.exit(report.ok ? 0 : 1);
}
