import { createHash, randomBytes } from 'node:crypto';
import { type AutoPayDecision, type DailySpend, decideAutoPay, utcDay } from './agent.ts';
import {
  applyClaim,
  claimFor,
  defaultGuardPolicy,
  duplicateIn,
  emptyGuardState,
  GIVEN_BACK,
  type GuardClaim,
  type GuardPolicy,
  type GuardState,
  intentHashOf,
  ownRecordIn,
  rateOf,
  retryAfterSeconds,
} from './agent-guards.ts';
import {
  AutopayError,
  IdempotencyKeyReusedError,
  RateLimitedError,
  TransientDependencyError,
  ValidationError,
} from './errors.ts';
import {
  type ConfirmationReason,
  type NewOrder,
  type Order,
  type OrderRequestResult,
  openOrder,
  requestHashOf,
} from './order.ts';
import { type DeadlinePolicy, defaultDeadlinePolicy, secondsAfter } from './order-moves.ts';
import type {
  AgentDirectory,
  ClaimOutcome,
  Clock,
  ControlPanel,
  OperatorControls,
  OrderRepository,
  PaymentQueue,
} from './ports.ts';
import {
  createOrderSchema,
  type IntakePolicy,
  idempotencyKeySchema,
  parseWith,
} from './schemas.ts';

type OrderBase = Omit<NewOrder, 'status'>;

export interface PlaceOrderDeps {
  readonly orders: OrderRepository;
  readonly agents: AgentDirectory;
  readonly payments: PaymentQueue;
  readonly clock: Clock;
  readonly policy: IntakePolicy;
  readonly deadlines?: DeadlinePolicy;
  readonly guards?: GuardPolicy;
  /** The operators' switches; without it nothing is ever paused. */
  readonly controls?: ControlPanel;
}

export interface PlaceOrderCommand {
  readonly agentId: string;
  readonly idempotencyKey: string | undefined;
  /** The parsed JSON body, not yet validated. */
  readonly body: unknown;
  /** The caller's address as the API saw it; the risk engine weighs it. */
  readonly clientIp?: string | undefined;
}

/** The order id is a function of (agent, key): intake needs no lookup to be idempotent. */
export function orderIdFor(agentId: string, idempotencyKey: string): string {
  const digest = createHash('sha256').update(`${agentId}\n${idempotencyKey}`).digest('hex');
  return `ord_${digest.slice(0, 32)}`;
}

/**
 * An order is stored within this long of its placement or not at all, well inside the minute
 * payment submission waits for it (NOT_STORED_GRACE_MS): its message is never given up while
 * the order can still appear.
 */
const STORE_DEADLINE_MS = 20_000;

/** A wrong guess of the agent-day item costs one attempt; racing writers may cost a few. */
const GUARD_ATTEMPTS = 5;
/** The random part of a claim record's token: 4 characters, the record at most 56 bytes. */
const PLACEMENT_BYTES = 3;
/** What one instance remembers of agent-day items, only to guess its next write right. */
const GUESS_CACHE_ENTRIES = 10_000;

/**
 * What the previous day's item and today's say of the intent, as one answer: another order's id
 * over this order's own, and either over an intent given back, so that an intent given back just
 * before midnight never hides an order paid for it just after.
 */
function firstOrderOf(found: readonly (string | undefined)[], orderId: string): string | undefined {
  const known = found.filter((id) => id !== undefined);
  return (
    known.find((id) => id !== GIVEN_BACK && id !== orderId) ??
    known.find((id) => id !== GIVEN_BACK) ??
    known[0]
  );
}

interface Waiting {
  readonly reason: ConfirmationReason;
  readonly duplicateOf?: string;
}

/**
 * Places an order once per (agent, Idempotency-Key). An unregistered or suspended agent's order is
 * refused and nothing is stored. Trusted orders within the agent's limits
 * are stored as PENDING_PAYMENT and queued for payment; the rest wait for the user. Steps:
 * validate; decide whether it may be paid without asking; write the order with its claim on the
 * agent-day item (spend, token bucket, intent), which refuses it over the bucket (429), turns a
 * duplicate intent or a full day's budget into a wait, or only asks for a better guess; then
 * queue the payment of an order paid at once.
 */
export function makePlaceOrder(deps: PlaceOrderDeps) {
  const schema = createOrderSchema(deps.policy);
  const guards = deps.guards ?? defaultGuardPolicy;
  const seen = new Map<string, GuardState>();

  return async function placeOrder(command: PlaceOrderCommand): Promise<OrderRequestResult> {
    const idempotencyKey = command.idempotencyKey;
    if (idempotencyKey === undefined || !idempotencyKeySchema.safeParse(idempotencyKey).success) {
      throw new ValidationError('IDEMPOTENCY_KEY_REQUIRED');
    }
    const request = parseWith(schema, command.body);
    const noControls: OperatorControls = {};
    const orderId = orderIdFor(command.agentId, idempotencyKey);
    // The order is read with the agent rather than after it: one round trip, not two. A replay is
    // still answered only once the agent may place orders.
    const [agent, controls, stored] = await Promise.all([
      deps.agents.get(command.agentId),
      deps.controls?.read() ?? noControls,
      deps.orders.get(orderId),
    ]);
    if (agent === undefined) {
      throw new AutopayError('AGENT_NOT_REGISTERED');
    }
    if (agent.suspended) {
      // Read afresh on every order, so a suspension holds from the next request on.
      throw new AutopayError('AGENT_SUSPENDED');
    }
    const now = deps.clock.now();
    const base = {
      orderId,
      agentId: command.agentId,
      // The owner index's key: who may see and act on the order, without reading the agent.
      ownerId: agent.ownerId,
      idempotencyKey,
      requestHash: requestHashOf(request),
      ...request,
      ...(command.clientIp ? { clientIp: command.clientIp } : {}),
      attempts: 0,
      createdAt: now.toISOString(),
    };

    const decision = decideAutoPay(agent, request.action, request, now);
    const rate = rateOf(agent, guards);
    const hash = intentHashOf(request);
    const seenKey = `${command.agentId}#${utcDay(now)}`;
    let state = seen.get(seenKey) ?? emptyGuardState;
    let wait: Waiting | undefined = !decision.autoPay
      ? { reason: decision.reason }
      : controls.autopayPaused
        ? { reason: 'AUTOPAY_PAUSED' }
        : undefined;

    // A replay is answered from the stored order and writes nothing.
    if (stored !== undefined) {
      return replay(stored, base.requestHash);
    }
    // An earlier attempt with this key that claimed and then failed left its intent, naming this
    // order, or given back: neither is a duplicate.
    let ownIntent = false;
    const placement = randomBytes(PLACEMENT_BYTES).toString('base64url');
    for (let attempt = 0; attempt < GUARD_ATTEMPTS; attempt++) {
      const order =
        wait === undefined ? payingOrder(base, now, decision) : waitingOrder(base, now, wait);
      const claim = claimFor(
        state,
        {
          agentId: command.agentId,
          now: now.getTime(),
          rate,
          hash,
          firstOrderId: wait?.duplicateOf ?? order.orderId,
          checkDuplicate: wait?.duplicateOf === undefined && !ownIntent,
          placement,
        },
        guards,
      );
      const spend = wait === undefined && decision.autoPay ? decision.spend : undefined;
      const outcome = await deps.orders.claim(claim, spend);
      if (outcome.kind === 'claimed') {
        remember(seenKey, applyClaim(state, claim));
        return store(order, claim, spend);
      }
      if (outcome.kind === 'guard-refused' && landedBefore(outcome, claim, wait)) {
        // The answer to this very claim was lost and the SDK sent it again: the first send
        // counted it, so it is not claimed twice.
        remember(seenKey, outcome.observed);
        return store(order, claim, spend);
      }
      if (outcome.kind === 'day-full') {
        // The agent's recent intents fill its day item: they age out slot by slot.
        throw new RateLimitedError(guards.intentSlotSeconds);
      }
      state = outcome.observed;
      remember(seenKey, state);
      const retryAfter = retryAfterSeconds(state, now.getTime(), rate);
      if (retryAfter !== undefined) {
        throw new RateLimitedError(retryAfter);
      }
      const duplicateOf = firstOrderOf(
        [
          outcome.previousDay && claim.previousDay
            ? duplicateIn(outcome.previousDay, hash, claim.previousDay.checks)
            : undefined,
          duplicateIn(state, hash, claim.intent.checks),
        ],
        order.orderId,
      );
      if (duplicateOf === order.orderId || duplicateOf === GIVEN_BACK) {
        ownIntent = true;
      } else if (duplicateOf !== undefined && wait?.duplicateOf === undefined) {
        wait = { reason: 'POSSIBLE_DUPLICATE', duplicateOf };
      } else if (spend !== undefined && (state.spent ?? 0) + spend.amount > spend.dailyLimit) {
        wait = { reason: 'OVER_DAILY_LIMIT' };
      }
    }
    throw new TransientDependencyError('agent-day');
  };

  /**
   * Whether a refused claim is its own earlier send, applied with its answer lost: the write was
   * resent and the slot holds the claim's record under this order's own id. A claim that records
   * another order's id (a duplicate's) says nothing of itself, and a refusal of a write sent once
   * is not its own doing.
   */
  function landedBefore(
    outcome: Extract<ClaimOutcome, { kind: 'guard-refused' }>,
    claim: GuardClaim,
    wait: Waiting | undefined,
  ): boolean {
    return (
      outcome.resent === true &&
      wait?.duplicateOf === undefined &&
      ownRecordIn(outcome.observed, claim)
    );
  }

  /**
   * Stores a claimed order. A paid one is queued first, so no stored order can miss its message:
   * payment submission waits a little for an order it cannot find yet. What the claim took is
   * given back only when the order is known not to be stored by this placement: a queue failure,
   * a put that failed and left nothing, or a racing request with the same key that stored it
   * first. A put whose answer was lost may have landed: the order is read back to tell.
   */
  async function store(
    order: Order,
    claim: GuardClaim,
    spend: DailySpend | undefined,
  ): Promise<OrderRequestResult> {
    // A duplicate's claim records the intent under the first order's id, not its own: it has
    // nothing of its own to give back but an interval of the bucket.
    const giveBack = async () => {
      if (order.duplicateOf === undefined) {
        await deps.orders.unclaim(claim, spend).catch(() => undefined);
      }
    };
    if (order.status === 'PENDING_PAYMENT') {
      await enqueue(order).catch(async (error: unknown) => {
        await giveBack();
        throw error;
      });
    }
    if (deps.clock.now().getTime() - Date.parse(order.createdAt) > STORE_DEADLINE_MS) {
      // Too late to store it: its payment may have stopped waiting for it.
      await giveBack();
      throw new TransientDependencyError('order-store');
    }
    let stored: Order | undefined;
    try {
      const outcome = await deps.orders.create(order);
      if (outcome.kind === 'created') return { order, replayed: false };
      stored = outcome.existing;
      if (outcome.resent !== true) {
        // Refused at its only send: another placement of this key stored the order first, even
        // one made in the same millisecond, whose order is this one to the last field.
        await giveBack();
        return replay(stored, order.requestHash);
      }
    } catch (error) {
      const found = await deps.orders.get(order.orderId).catch(() => null);
      // Unknown whether it landed: the claim stays (the day counts an order too many, never
      // one too few) and the client retries with the same key.
      if (found === null) throw error;
      if (found === undefined) {
        await giveBack();
        throw error;
      }
      stored = found;
    }
    // This placement's own put (its answer lost, or retried by the SDK after it landed).
    if (stored.createdAt === order.createdAt && stored.requestHash === order.requestHash) {
      return { order: stored, replayed: false };
    }
    await giveBack();
    return replay(stored, order.requestHash);
  }

  function remember(key: string, state: GuardState): void {
    if (seen.size >= GUESS_CACHE_ENTRIES) seen.clear();
    seen.set(key, state);
  }

  function payingOrder(base: OrderBase, now: Date, decision: AutoPayDecision): Order {
    const deadlines = deps.deadlines ?? defaultDeadlinePolicy;
    const payBy = secondsAfter(now, deadlines.paymentWindowSeconds);
    return openOrder({
      ...base,
      status: 'PENDING_PAYMENT',
      payBy,
      ...(decision.autoPay ? { spendDay: decision.spend.day } : {}),
    });
  }

  function waitingOrder(base: OrderBase, now: Date, wait: Waiting): Order {
    const confirmBy = new Date(now.getTime() + deps.policy.confirmationWindowSeconds * 1000);
    const waiting: NewOrder = {
      ...base,
      status: 'AWAITING_CONFIRMATION',
      confirmationReason: wait.reason,
      ...(wait.duplicateOf ? { duplicateOf: wait.duplicateOf } : {}),
      confirmBy: confirmBy.toISOString(),
      dueAt: confirmBy.toISOString(),
    };
    return openOrder(waiting);
  }

  async function replay(existing: Order, requestHash: string): Promise<OrderRequestResult> {
    if (existing.requestHash !== requestHash) {
      throw new IdempotencyKeyReusedError(existing.orderId);
    }
    return { order: existing, replayed: true };
  }

  async function enqueue(order: Order): Promise<void> {
    try {
      await deps.payments.enqueue({
        orderId: order.orderId,
        agentId: order.agentId,
        placedAt: order.createdAt,
      });
    } catch (error) {
      throw new TransientDependencyError('payment-queue', { cause: error });
    }
  }
}
