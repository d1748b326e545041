import { restraintOf } from './agent.ts';
import { type BackoffPolicy, backoffSeconds } from './backoff.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { OrderErrorCode } from './errors.ts';
import type { HoldReason, Order, PaymentFields, RiskRecord } from './order.ts';
import { type DeadlinePolicy, dueAtFor, isPast, moveOrder } from './order-moves.ts';
import type { OrderEvent, OrderStatus } from './order-state.ts';
import type {
  GatewayOutcome,
  PaymentGateway,
  PaymentLookup,
  RiskAnswer,
  RiskEngine,
  SettledOutcome,
  TransientOutcome,
} from './payment-ports.ts';
import type {
  AgentDirectory,
  Clock,
  OrderRepository,
  PaymentRequest,
  SettlementCheckQueue,
  TransitionOutcome,
} from './ports.ts';
import { checkRisk, type RiskPolicy, type RiskVerdict } from './risk-policy.ts';
import {
  applyGatewayOutcome,
  checkOf,
  type SettlementObserver,
  type SettlementSchedule,
} from './settlement.ts';

export interface PaymentPolicy {
  readonly risk: RiskPolicy;
  readonly backoff: BackoffPolicy;
  readonly settlement: SettlementSchedule;
  readonly deadlines: DeadlinePolicy;
}

/** What payment submission tells the outside world about; the handler logs and counts it. */
export interface PaymentObserver extends SettlementObserver {
  gatewayCall(
    operation: 'charge' | 'lookup',
    outcome: GatewayOutcome['kind'] | 'not-found' | 'found',
    ms: number,
  ): void;
  /** Every answer of the risk engine, with its RequestId when it gave one. */
  riskAnswered(order: Order, answer: RiskAnswer): void;
  /** The check failed open; `verdict.refused` says the engine refused the request itself. */
  riskBypassed(order: Order, verdict: RiskVerdict): void;
}

export interface SubmitPaymentDeps {
  readonly orders: OrderRepository;
  /** Read before each charge: a suspended or restrained agent's orders are held, not charged. */
  readonly agents: AgentDirectory;
  readonly gateway: PaymentGateway;
  readonly risk: RiskEngine;
  readonly breaker: CircuitBreaker;
  readonly settlementChecks: SettlementCheckQueue;
  readonly clock: Clock;
  readonly policy: PaymentPolicy;
  readonly observer: PaymentObserver;
  readonly sleep: (ms: number) => Promise<void>;
}

/** How this delivery of the payment message came to us. */
export interface Delivery {
  readonly receiveCount: number;
  readonly maxReceiveCount: number;
  readonly remainingMs: () => number;
}

/**
 * How long a payment may wait for its order to be stored: intake stores an order within 20 s of
 * placing it or not at all (and its function times out at 10 s), so an order is never left
 * without its message. Doubling delays cover it in six receives (the queue allows eight).
 */
export const NOT_STORED_GRACE_MS = 60_000;
const NOT_STORED_MAX_RETRY_SECONDS = 30;
const NOT_STORED_PAUSES_MS = [25, 75, 200];

export type SubmitResult =
  | { readonly kind: 'done'; readonly detail: string }
  /** Return the message to the queue, to come back after the delay. */
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly reason: string };

const transientCodes: Readonly<Record<TransientOutcome['kind'], OrderErrorCode>> = {
  unauthorized: 'GATEWAY_UNAUTHORIZED',
  throttled: 'GATEWAY_THROTTLED',
  unavailable: 'GATEWAY_UNAVAILABLE',
  unknown: 'GATEWAY_OUTCOME_UNKNOWN',
  misconfigured: 'GATEWAY_MISCONFIGURED',
};

/** Whether an answer speaks for a healthy gateway; a 401 is our credentials' fault, not its. */
function answeredWell(kind: GatewayOutcome['kind'] | 'found' | 'not-found'): boolean {
  // A misconfigured request was answered by a healthy gateway: an alarm, not a breaker trip.
  return kind !== 'throttled' && kind !== 'unavailable' && kind !== 'unknown';
}

/** Set by each gateway call; a delivery that never reached the gateway says nothing of it. */
interface GatewayHealth {
  healthy: boolean | undefined;
}

function isSettled(outcome: GatewayOutcome): outcome is SettledOutcome {
  return outcome.kind === 'succeeded' || outcome.kind === 'pending' || outcome.kind === 'declined';
}

/** Whether an earlier delivery of this order's payment may have reached the gateway. */
function mayHaveReachedGateway(order: Order, delivery: Delivery): boolean {
  return delivery.receiveCount > 1 || order.attempts > 0 || order.outcomeUnknown === true;
}

/**
 * Whether a delivery held the order before: a racing delivery of the same message may have
 * charged it, dying with its answer, and its user's confirmation may come after the gateway has
 * forgotten the order's idempotency key (Stripe keeps one 24 hours): the gateway is asked first.
 */
function wasHeld(order: Order): boolean {
  return order.history.some((entry) => entry.to === 'HELD_FOR_REVIEW');
}

/**
 * Where a racing delivery may leave an order while its own charge is out: held or failed by its
 * risk verdict, or cancelled by the user after the hold. Only the gateway knows what happened.
 */
const mayHideACharge: ReadonlySet<OrderStatus> = new Set([
  'HELD_FOR_REVIEW',
  'FAILED',
  'CANCELLED',
]);

/**
 * Pays one PENDING_PAYMENT order. No claim is written first: the gateway is idempotent on the
 * orderId, so two deliveries racing each other charge once, and the result is applied with one
 * conditional write that only the first of them wins. Whenever an earlier attempt may have
 * reached the gateway, the gateway is asked before anything is sent again.
 */
export function makeSubmitPayment(deps: SubmitPaymentDeps) {
  const { orders, gateway, breaker, policy, observer } = deps;
  const settleDeps = {
    orders,
    clock: deps.clock,
    deadlines: policy.deadlines,
    settlementChecks: deps.settlementChecks,
    schedule: policy.settlement,
    observer,
  };

  /**
   * Steps: read the order; settle it without a charge when it is gone, no longer pending or past
   * its window; ask the breaker; then, with the breaker told how the gateway answered: find an
   * earlier charge, decide on risk, stop before charging if the verdict says so, and charge.
   */
  return async function submitPayment(
    request: PaymentRequest,
    delivery: Delivery,
  ): Promise<SubmitResult> {
    const order = await orders.get(request.orderId).then((found) => found ?? awaitStored(request));
    if (order === undefined) {
      return notStoredYet(request, delivery);
    }
    const settled = await settleWithoutCharging(order, delivery);
    if (settled !== undefined) {
      return settled;
    }
    const permit = await breaker.permit();
    if (!permit.allowed) {
      return waitForBreaker(order, delivery, permit.retryInMs);
    }
    const health: GatewayHealth = { healthy: undefined };
    try {
      return await pay(order, delivery, health);
    } finally {
      if (health.healthy !== undefined) {
        await breaker.record(health.healthy, permit.probe);
      }
    }
  };

  /**
   * Intake queues a payment just before it stores the order: shortly after `placedAt` the order
   * may not be there yet, and the message comes back for it. Later, the placement failed before
   * storing it (the client got an error and nothing was stored), and the message is dropped.
   */
  function notStoredYet(request: PaymentRequest, delivery: Delivery): SubmitResult {
    if (justPlaced(request)) {
      // Doubling, so that the whole minute takes few receives of the queue's budget.
      const delaySeconds = Math.min(NOT_STORED_MAX_RETRY_SECONDS, 2 ** delivery.receiveCount);
      return { kind: 'retry', delaySeconds, reason: 'ORDER_NOT_STORED_YET' };
    }
    return { kind: 'done', detail: 'no such order' };
  }

  function justPlaced(request: PaymentRequest): boolean {
    const placedAt = request.placedAt === undefined ? Number.NaN : Date.parse(request.placedAt);
    return deps.clock.now().getTime() - placedAt < NOT_STORED_GRACE_MS;
  }

  /**
   * The message usually outruns the order's put by milliseconds only: a few short pauses find it
   * without sending the message round the queue again.
   */
  async function awaitStored(request: PaymentRequest): Promise<Order | undefined> {
    for (const pauseMs of NOT_STORED_PAUSES_MS) {
      if (!justPlaced(request)) return undefined;
      await deps.sleep(pauseMs);
      const order = await orders.get(request.orderId);
      if (order !== undefined) return order;
    }
    return undefined;
  }

  async function settleWithoutCharging(
    order: Order,
    delivery: Delivery,
  ): Promise<SubmitResult | undefined> {
    if (order.status !== 'PENDING_PAYMENT') {
      return mayHaveReachedGateway(order, delivery) && mayHideACharge.has(order.status)
        ? findRacingCharge(order, delivery)
        : { kind: 'done', detail: `already ${order.status}` };
    }
    if (isPast(order.payBy, deps.clock)) {
      // Nobody is charged long after ordering: the reconciler looks the order up, voids what is
      // open, and fails it.
      await deps.settlementChecks.schedule(checkOf(order, 0), 0);
      return { kind: 'done', detail: 'payment window passed' };
    }
    return undefined;
  }

  async function waitForBreaker(
    order: Order,
    delivery: Delivery,
    retryInMs: number,
  ): Promise<SubmitResult> {
    // Not the order's fault and not an attempt: no write, just come back when it may pass;
    // unless this is the last delivery, and the order must say why its message is gone.
    if (delivery.receiveCount >= delivery.maxReceiveCount) {
      await orders.annotate(order.orderId, 'PENDING_PAYMENT', {
        lastError: 'CIRCUIT_OPEN',
        deadLettered: true,
        ...overdueLater(order),
      });
    }
    const delaySeconds = Math.ceil(retryInMs / 1000) + Math.ceil(Math.random() * 5);
    return { kind: 'retry', delaySeconds, reason: 'CIRCUIT_OPEN' };
  }

  async function pay(
    order: Order,
    delivery: Delivery,
    health: GatewayHealth,
  ): Promise<SubmitResult> {
    const reachedGateway = mayHaveReachedGateway(order, delivery);
    if (reachedGateway || wasHeld(order)) {
      const earlier = await findEarlierCharge(order, delivery, health);
      if (earlier !== undefined) {
        return earlier;
      }
    }
    const { verdict, risk } = await decideRisk(order, delivery, reachedGateway);
    const stopped = await stopBeforeCharging(order, verdict, risk);
    if (stopped !== undefined) {
      return stopped;
    }
    // Read last, right before the charge, so a suspension or a restraint that lands while the
    // risk engine is asked still stops it: the order waits for its user instead of being charged.
    const holdReason = await agentHoldReason(order);
    if (holdReason !== undefined) {
      return holdForAgent(order, risk, holdReason);
    }
    return chargeAndApply(order, delivery, risk, health);
  }

  /**
   * Holds the order for its user because of its agent. A delivery of this message that read the
   * agent before the change may have charged and lost its answer, or the lookup before the hold
   * may have missed such a charge: one lookup a little later finds that money and records the
   * order PAID, instead of leaving it held with the money taken until the review is due.
   */
  async function holdForAgent(
    order: Order,
    risk: RiskRecord,
    holdReason: HoldReason,
  ): Promise<SubmitResult> {
    const result = await moveOrder(settleDeps, order, 'HELD_FOR_REVIEW', { risk, holdReason });
    if (result.kind === 'applied') {
      await deps.settlementChecks.schedule(checkOf(order, 0), policy.settlement.intervalSeconds);
    }
    return doneWith(result);
  }

  /**
   * Why the order's agent may not pay it now: one consistent read of the agent's item, no cache,
   * so a suspension, or a change of its trust, limit currency or per-order limit that would no
   * longer let it pay this order without asking, holds every order not yet sent. The daily limit
   * is not asked again: intake claimed the order's share of it atomically. An order its user
   * confirmed, out of a hold or while it waited for them, is theirs to pay, whatever its agent.
   */
  async function agentHoldReason(order: Order): Promise<HoldReason | undefined> {
    if (order.history.some((entry) => entry.cause === 'CONFIRM')) {
      return undefined;
    }
    const agent = await deps.agents.get(order.agentId);
    return agent?.suspended === true ? 'AGENT_SUSPENDED' : restraintOf(agent, order.action, order);
  }

  async function findEarlierCharge(
    order: Order,
    delivery: Delivery,
    health: GatewayHealth,
  ): Promise<SubmitResult | undefined> {
    const lookup = await lookUp(order);
    health.healthy = answeredWell(lookup.kind);
    if (lookup.kind === 'found') {
      return apply(order, lookup.outcome, order.risk);
    }
    if (lookup.kind !== 'not-found') {
      return retryLater(order, lookup, delivery);
    }
    return undefined;
  }

  async function decideRisk(
    order: Order,
    delivery: Delivery,
    reachedGateway: boolean,
  ): Promise<{ readonly verdict: RiskVerdict; readonly risk: RiskRecord }> {
    // A person confirmed this order after the risk check held it: asking again would only
    // hold it again. Their approval stands in for the check.
    const reviewed = order.history.at(-1);
    const approved = reviewed?.from === 'HELD_FOR_REVIEW' && reviewed.cause === 'CONFIRM';
    // Once a charge may be out, the verdict that let it out stands: a second opinion that
    // held the order now would strand a payment the gateway may yet complete.
    const alreadyPassed = order.risk?.level === 'pass' && reachedGateway;
    const verdict: RiskVerdict =
      approved || alreadyPassed
        ? {
            level: 'pass',
            bypassed: alreadyPassed ? (order.risk?.bypassed ?? false) : false,
            requestId: order.risk?.requestId,
            errorCode: alreadyPassed ? order.risk?.errorCode : undefined,
            attempts: 0,
          }
        : await checkRisk(
            {
              assess: async (request) => {
                const answer = await deps.risk.assess(request);
                observer.riskAnswered(order, answer);
                return answer;
              },
            },
            {
              orderId: order.orderId,
              agentId: order.agentId,
              amount: order.amount,
              currency: order.currency,
              paymentMethod: order.paymentMethod,
              clientIp: order.clientIp,
              placedAt: order.createdAt,
            },
            policy.risk,
            delivery.remainingMs,
            deps.sleep,
          );
    const risk: RiskRecord = {
      level: verdict.level,
      bypassed: verdict.bypassed,
      requestId: verdict.requestId,
      errorCode: verdict.errorCode,
      ...(approved ? { approvedAfterReview: true } : {}),
    };
    if (verdict.bypassed && verdict.attempts > 0) {
      observer.riskBypassed(order, verdict);
    }
    return { verdict, risk };
  }

  async function stopBeforeCharging(
    order: Order,
    verdict: RiskVerdict,
    risk: RiskRecord,
  ): Promise<SubmitResult | undefined> {
    if (verdict.level === 'reject') {
      return await reject(order, risk);
    }
    if (verdict.level === 'review') {
      return await move(order, 'HELD_FOR_REVIEW', { risk, holdReason: 'RISK_REVIEW' });
    }
    if (verdict.bypassed && order.amount > policy.risk.failOpenLimit) {
      return await move(order, 'HELD_FOR_REVIEW', { risk, holdReason: 'RISK_UNAVAILABLE' });
    }
    if (verdict.bypassed && verdict.attempts > 0) {
      // Failing open must not overrule a verdict the engine gave a racing delivery meanwhile:
      // charge only an order still as this delivery read it. One read, on the bypass only.
      const current = await orders.get(order.orderId);
      if (current?.status !== 'PENDING_PAYMENT' || current.version !== order.version) {
        return { kind: 'done', detail: `moved while the risk engine failed: ${current?.status}` };
      }
    }
    return undefined;
  }

  async function chargeAndApply(
    order: Order,
    delivery: Delivery,
    risk: RiskRecord,
    health: GatewayHealth,
  ): Promise<SubmitResult> {
    let outcome = await charge(order);
    if (outcome.kind === 'unauthorized') {
      // The key may have rotated under us: fetch the current one and try once more.
      await gateway.refreshCredentials();
      outcome = await charge(order);
    }
    health.healthy = answeredWell(outcome.kind);
    if (isSettled(outcome)) {
      return apply(order, outcome, risk);
    }
    if (outcome.kind === 'action-required') {
      // Off-session, nobody can authenticate the card: the user is told and decides.
      return move(
        order,
        'HELD_FOR_REVIEW',
        { risk, holdReason: 'AUTHENTICATION_REQUIRED', attempts: order.attempts + 1 },
        outcome.reason.toUpperCase(),
      );
    }
    return retryLater(order, outcome, delivery, risk);
  }

  async function lookUp(order: Order): Promise<PaymentLookup> {
    const started = deps.clock.now().getTime();
    let lookup = await gateway.findByIdempotencyKey(order.orderId, order.gatewayRef);
    if (lookup.kind === 'unauthorized') {
      // As for a charge: the key may have rotated under us.
      await gateway.refreshCredentials();
      lookup = await gateway.findByIdempotencyKey(order.orderId, order.gatewayRef);
    }
    observer.gatewayCall('lookup', lookup.kind, deps.clock.now().getTime() - started);
    return lookup;
  }

  /**
   * A redelivery for an order a racing delivery held, failed or that was cancelled since: the
   * charge this message's earlier delivery sent may have landed with nobody to write it.
   */
  async function findRacingCharge(order: Order, delivery: Delivery): Promise<SubmitResult> {
    const lookup = await lookUp(order);
    if (lookup.kind === 'found') {
      return apply(order, lookup.outcome, order.risk);
    }
    if (lookup.kind === 'not-found') {
      return { kind: 'done', detail: `already ${order.status}, no payment at the gateway` };
    }
    const code = transientCodes[lookup.kind];
    return { kind: 'retry', delaySeconds: delayFor(lookup, delivery), reason: code };
  }

  async function charge(order: Order): Promise<GatewayOutcome> {
    const started = deps.clock.now().getTime();
    const outcome = await gateway.charge({
      idempotencyKey: order.orderId,
      amount: order.amount,
      currency: order.currency,
      paymentMethod: order.paymentMethod,
      agentId: order.agentId,
    });
    observer.gatewayCall('charge', outcome.kind, deps.clock.now().getTime() - started);
    return outcome;
  }

  async function apply(
    order: Order,
    outcome: SettledOutcome,
    risk: RiskRecord | undefined,
  ): Promise<SubmitResult> {
    const result = await applyGatewayOutcome(settleDeps, order, outcome, {
      attempts: order.attempts + 1,
      outcomeUnknown: undefined,
      lastError: undefined,
      risk,
    });
    return {
      kind: 'done',
      detail: result.kind === 'applied' ? result.status : `already ${result.status}`,
    };
  }

  async function move(
    order: Order,
    event: OrderEvent,
    changes: Partial<PaymentFields>,
    errorCode?: string,
  ): Promise<SubmitResult> {
    return doneWith(await moveOrder(settleDeps, order, event, changes, errorCode));
  }

  async function reject(order: Order, risk: RiskRecord): Promise<SubmitResult> {
    const result = await moveOrder(settleDeps, order, 'RISK_REJECTED', { risk }, 'RISK_REJECTED');
    if (result.kind === 'applied') {
      // A duplicate delivery of this message may have passed the check and charged, and died
      // with its answer: one lookup a little later finds that money and gives it back.
      await deps.settlementChecks.schedule(checkOf(order, 0), policy.settlement.intervalSeconds);
    }
    return doneWith(result);
  }

  async function retryLater(
    order: Order,
    outcome: TransientOutcome,
    delivery: Delivery,
    risk?: RiskRecord,
  ): Promise<SubmitResult> {
    const code = transientCodes[outcome.kind];
    const lastDelivery = delivery.receiveCount >= delivery.maxReceiveCount;
    await orders.annotate(order.orderId, 'PENDING_PAYMENT', {
      attempts: order.attempts + 1,
      lastError: code,
      outcomeUnknown: order.outcomeUnknown === true || outcome.kind === 'unknown' || undefined,
      ...(risk ? { risk } : {}),
      ...(lastDelivery ? { deadLettered: true } : {}),
      ...overdueLater(order),
    });
    return { kind: 'retry', delaySeconds: delayFor(outcome, delivery), reason: code };
  }

  /**
   * An order paid at once enters the due index only when its payment does not go through on the
   * first try: the happy path writes no index entry, and the sweep still finds every order whose
   * payment is struggling once it is overdue.
   */
  function overdueLater(order: Order): Partial<PaymentFields> {
    return order.dueAt === undefined
      ? { dueAt: dueAtFor('PENDING_PAYMENT', deps.clock.now(), order, policy.deadlines) }
      : {};
  }

  function delayFor(outcome: TransientOutcome, delivery: Delivery): number {
    const backoff = backoffSeconds(delivery.receiveCount, policy.backoff);
    return outcome.kind === 'throttled' ? Math.max(backoff, outcome.retryAfterSeconds) : backoff;
  }
}

function doneWith(result: TransitionOutcome): SubmitResult {
  return result.kind === 'applied'
    ? { kind: 'done', detail: result.order.status }
    : { kind: 'done', detail: `already ${result.current?.status ?? 'gone'}` };
}
