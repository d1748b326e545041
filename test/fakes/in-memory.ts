import type { AgentDay, AgentProfile, DailySpend } from '#domain/agent.ts';
import {
  applyClaim,
  claimHolds,
  duplicateIn,
  emptyGuardState,
  type GuardClaim,
  type GuardState,
  intervalOf,
  ownRecordOf,
} from '#domain/agent-guards.ts';
import {
  AGENT_HISTORY_LIMIT,
  type AgentChange,
  type AgentCreationRecord,
  type AgentIdentities,
  type AgentIdentity,
  type AgentSettings,
  type AgentStore,
  type CreateAgentOutcome,
  type ManagedAgent,
  type Page,
} from '#domain/manage-agents.ts';
import { type Order, openOrder, type PaymentFields } from '#domain/order.ts';
import { dueAtFor, dueLaneOf, type MoveDeps, moveOrder } from '#domain/order-moves.ts';
import type { InitialStatus, OrderEvent, OrderStatus } from '#domain/order-state.ts';
import type {
  AgentDirectory,
  ClaimOutcome,
  Clock,
  ControlPanel,
  CreateOrderOutcome,
  DeadPaymentMessages,
  DeadPaymentRequest,
  DueLane,
  OperatorControls,
  OrderIndex,
  OrderListing,
  OrderPage,
  OrderRepository,
  OrderTransition,
  PaymentQueue,
  PaymentRequest,
  SettlementCheckQueue,
  TransitionOutcome,
} from '#domain/ports.ts';
import type { SweepObserver } from '#domain/sweep.ts';
import type { SigningSecretSource, SigningSecretVersions } from '#domain/webhook-secrets.ts';
import { latteOrder } from '../fixtures/orders.ts';

/** Keeps the adapter's contract: create is all-or-nothing and never overwrites an order. */
export class InMemoryOrders implements OrderRepository, OrderIndex {
  readonly orders = new Map<string, Order>();
  readonly spent = new Map<string, number>();
  /** The guards' part of each agent-day item, by `spendKeyOf`. */
  readonly guards = new Map<string, GuardState>();
  writes = 0;

  async create(order: Order): Promise<CreateOrderOutcome> {
    const existing = this.orders.get(order.orderId);
    if (existing) {
      return { kind: 'exists', existing: structuredClone(existing) };
    }
    this.orders.set(order.orderId, structuredClone(order));
    this.writes++;
    return { kind: 'created' };
  }

  async claim(guard: GuardClaim, spend?: DailySpend): Promise<ClaimOutcome> {
    const key = spendKeyOf(guard);
    const day = { ...(this.guards.get(key) ?? emptyGuardState), spent: this.spent.get(key) };
    const previous = guard.previousDay
      ? (this.guards.get(spendKeyOf({ agentId: guard.agentId, day: guard.previousDay.day })) ??
        emptyGuardState)
      : undefined;
    const previousHolds =
      previous === undefined ||
      duplicateIn(previous, guard.intent.hash, guard.previousDay?.checks ?? []) === undefined;
    const roomHolds = spend === undefined || (day.spent ?? 0) + spend.amount <= spend.dailyLimit;
    if (!claimHolds(day, guard) || !roomHolds || !previousHolds) {
      return {
        kind: 'guard-refused',
        observed: structuredClone(day),
        ...(previousHolds ? {} : { previousDay: structuredClone(previous) }),
      };
    }
    this.guards.set(key, applyClaim(day, guard));
    this.spent.set(key, (day.spent ?? 0) + (spend?.amount ?? 0));
    this.writes++;
    return { kind: 'claimed' };
  }

  async unclaim(guard: GuardClaim, spend?: DailySpend): Promise<void> {
    // As the adapter: conditioned on the claim's record of its own order id, which it removes.
    const key = spendKeyOf(guard);
    const day = this.guards.get(key) ?? emptyGuardState;
    const slot = day.ring[guard.intent.ring] ?? [];
    const own = ownRecordOf(guard);
    if (!slot.includes(own)) return;
    const interval = intervalOf(guard.bucket);
    this.spent.set(key, (this.spent.get(key) ?? 0) - (spend?.amount ?? 0));
    this.guards.set(key, {
      ...day,
      ...(day.tat === undefined ? {} : { tat: day.tat - interval }),
      ring: { ...day.ring, [guard.intent.ring]: slot.filter((element) => element !== own) },
    });
    this.writes++;
  }

  async get(orderId: string): Promise<Order | undefined> {
    const order = this.orders.get(orderId);
    return order ? structuredClone(order) : undefined;
  }

  async getMany(orderIds: readonly string[]): Promise<Map<string, Order>> {
    const found = new Map<string, Order>();
    for (const orderId of orderIds) {
      const order = this.orders.get(orderId);
      if (order) found.set(orderId, structuredClone(order));
    }
    return found;
  }

  async transition(move: OrderTransition): Promise<TransitionOutcome> {
    const current = this.orders.get(move.orderId);
    const moved =
      current === undefined ||
      current.status !== move.from ||
      (move.expectedVersion !== undefined && current.version !== move.expectedVersion) ||
      (move.release !== undefined && current.spendReleased === true);
    if (moved) {
      return { kind: 'stale', current: current ? structuredClone(current) : undefined };
    }
    if (move.release) {
      const key = spendKeyOf(move.release);
      this.spent.set(key, (this.spent.get(key) ?? 0) - move.release.amount);
      this.writes++;
    }
    const entry = {
      from: move.from,
      to: move.to,
      at: move.at,
      cause: move.event,
      ...(move.errorCode ? { errorCode: move.errorCode } : {}),
      call: move.call,
    };
    const next = withChanges(
      {
        ...current,
        status: move.to,
        version: current.version + 1,
        updatedAt: move.at,
        history: [...current.history, entry],
      },
      move.changes ?? {},
    );
    this.orders.set(move.orderId, next);
    this.writes++;
    return { kind: 'applied', order: structuredClone(next) };
  }

  /** As the indexes answer: newest first, a page of `limit`, the status filtered after. */
  async list(listing: OrderListing): Promise<OrderPage> {
    const all = [...this.orders.values()]
      .filter((order) =>
        listing.by === 'agent'
          ? order.agentId === listing.agentId
          : order.ownerId === listing.ownerId,
      )
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.orderId.localeCompare(a.orderId));
    const start = listing.cursor === undefined ? 0 : Number(listing.cursor);
    const page = all.slice(start, start + listing.limit);
    return {
      orders: page
        .filter((order) => listing.status === undefined || order.status === listing.status)
        .map((order) => structuredClone(order)),
      ...(start + listing.limit < all.length ? { cursor: String(start + listing.limit) } : {}),
    };
  }

  async findDue(before: string, limit: number, lane?: DueLane): Promise<Order[]> {
    return [...this.orders.values()]
      .filter((order) => order.dueAt !== undefined && order.dueAt <= before)
      .filter((order) => lane === undefined || dueLaneOf(order.status) === lane)
      .sort((a, b) => (a.dueAt ?? '').localeCompare(b.dueAt ?? ''))
      .slice(0, limit)
      .map((order) => structuredClone(order));
  }

  async annotate(
    orderId: string,
    status: OrderStatus,
    changes: Partial<PaymentFields>,
    whileDueAt?: string,
  ): Promise<boolean> {
    const current = this.orders.get(orderId);
    const moved = whileDueAt !== undefined && current?.dueAt !== whileDueAt;
    if (current === undefined || current.status !== status || moved) {
      return false;
    }
    this.orders.set(orderId, withChanges(current, changes));
    this.writes++;
    return true;
  }
}

/** The key of an agent-day's spend in `InMemoryOrders.spent`. */
export function spendKeyOf(day: AgentDay): string {
  return `${day.agentId}#${day.day}`;
}

/** As the DynamoDB adapter does: a field given `undefined` is removed. */
function withChanges(order: Order, changes: Partial<PaymentFields>): Order {
  const next: Record<string, unknown> = { ...order };
  for (const [field, value] of Object.entries(changes)) {
    if (value === undefined) delete next[field];
    else next[field] = value;
  }
  return next as unknown as Order;
}

export class RecordingSettlementChecks implements SettlementCheckQueue {
  readonly scheduled: Array<{ orderId: string; check: number; delaySeconds: number }> = [];

  async schedule(
    request: PaymentRequest & { readonly check: number },
    delaySeconds: number,
  ): Promise<void> {
    this.scheduled.push({ orderId: request.orderId, check: request.check, delaySeconds });
  }
}

export class InMemoryAgents implements AgentDirectory {
  private readonly agents: AgentProfile[];
  reads = 0;

  constructor(agents: readonly AgentProfile[] = []) {
    this.agents = [...agents];
  }

  async get(agentId: string): Promise<AgentProfile | undefined> {
    this.reads++;
    return this.agents.find((agent) => agent.agentId === agentId);
  }

  /** Suspends or resumes an agent, as its user would. */
  setSuspended(agentId: string, suspended: boolean): void {
    const index = this.agents.findIndex((agent) => agent.agentId === agentId);
    const agent = this.agents[index];
    if (agent === undefined) throw new Error(`no agent ${agentId}`);
    this.agents[index] = { ...agent, suspended };
  }
}

/** A queue that records what it was given and can be told to fail its next sends. */
export class RecordingPaymentQueue implements PaymentQueue {
  readonly sent: PaymentRequest[] = [];
  failNext = 0;

  async enqueue(request: PaymentRequest): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('queue unavailable');
    }
    this.sent.push(request);
  }
}

/**
 * The payment queue's dead-letter queue: a message lands here when its last delivery failed, and
 * stays until an operator moves it (as SQS keeps it, through peeks, for its retention). As SQS
 * serves the adapter's long-polling receives: the oldest visible messages first, `limit` counting
 * messages (not orders), each message read hidden for `hideSeconds` (12 hours at most) on the
 * given clock, and nothing more once `inFlightQuota` messages are hidden at once. `showAgain`
 * shows the last peek's messages again at once, all or those of the orders named.
 */
export class FakeDeadLetterQueue implements DeadPaymentMessages {
  readonly longestHideSeconds = 43_200;
  /** With the time each was first sent (`sentAt`), when a test gives one. */
  readonly messages: DeadPaymentRequest[] = [];
  /** When each message of `messages`, by position, shows again; none while never read. */
  private readonly hiddenUntil: number[] = [];
  peeks = 0;
  failNext = 0;
  /** The hiding each peek asked for, in order. */
  readonly hides: number[] = [];
  /** The positions of the messages the last peek received. */
  private received: number[] = [];
  /** Calls of `showAgain`. */
  shownAgain = 0;
  /** The orders each call of `showAgain` named; none for a call that named none (all). */
  readonly shownAgainOf: (readonly string[] | undefined)[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly inFlightQuota = 120_000,
  ) {}

  async depth(): Promise<number> {
    return this.messages.length;
  }

  async peek(limit: number, hideSeconds: number): Promise<DeadPaymentRequest[]> {
    this.peeks++;
    this.received = [];
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('queue unavailable');
    }
    if (hideSeconds > this.longestHideSeconds) {
      throw new Error(`VisibilityTimeout ${hideSeconds} is over 43200`);
    }
    this.hides.push(hideSeconds);
    const now = this.clock.now().getTime();
    const hidden = this.hiddenUntil.filter((until) => until > now).length;
    const room = Math.min(limit, this.inFlightQuota - hidden);
    const found = new Map<string, DeadPaymentRequest>();
    let read = 0;
    for (let position = 0; position < this.messages.length && read < room; position++) {
      const request = this.messages[position];
      if (request === undefined || (this.hiddenUntil[position] ?? 0) > now) continue;
      this.hiddenUntil[position] = now + hideSeconds * 1000;
      this.received.push(position);
      if (!found.has(request.orderId)) found.set(request.orderId, request);
      read++;
    }
    return [...found.values()];
  }

  async showAgain(orderIds?: readonly string[]): Promise<void> {
    const named = orderIds === undefined ? undefined : new Set(orderIds);
    const shown = (position: number) =>
      named === undefined || named.has(this.messages[position]?.orderId ?? '');
    for (const position of this.received.filter(shown)) this.hiddenUntil[position] = 0;
    this.received = this.received.filter((position) => !shown(position));
    this.shownAgain++;
    this.shownAgainOf.push(orderIds);
  }
}

/** A sweep observer for tests that look at the orders, not at what the sweep reports. */
export const silentSweepObserver: SweepObserver = {
  pastDeadline: () => {},
  expired: () => {},
  redriveLimitReached: () => {},
  strandedFound: () => {},
  deadLettersUnread: () => {},
  deadPaymentUnhandled: () => {},
  oldestDeadPayment: () => {},
};

export class FixedClock implements Clock {
  constructor(private current: Date) {}

  now(): Date {
    return new Date(this.current);
  }

  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}

/**
 * The signing secret's versions as a cache holds them: `stored` is what Secrets Manager holds now,
 * and only a refresh brings it into what `versions()` answers.
 */
export class InMemorySigningSecrets implements SigningSecretSource {
  refreshes = 0;
  private cached: SigningSecretVersions;

  constructor(public stored: SigningSecretVersions) {
    this.cached = stored;
  }

  async versions(): Promise<SigningSecretVersions> {
    return this.cached;
  }

  async refresh(): Promise<void> {
    this.refreshes += 1;
    this.cached = this.stored;
  }
}

/** How intake and the pipeline bring an order to each status, one legal move at a time. */
const pathTo: Readonly<Record<OrderStatus, readonly [InitialStatus, ...OrderEvent[]]>> = {
  AWAITING_CONFIRMATION: ['AWAITING_CONFIRMATION'],
  PENDING_PAYMENT: ['PENDING_PAYMENT'],
  AWAITING_SETTLEMENT: ['PENDING_PAYMENT', 'GATEWAY_PENDING'],
  HELD_FOR_REVIEW: ['PENDING_PAYMENT', 'HELD_FOR_REVIEW'],
  PAID: ['PENDING_PAYMENT', 'GATEWAY_SUCCEEDED'],
  FAILED: ['PENDING_PAYMENT', 'GATEWAY_DECLINED'],
  CANCELLED: ['AWAITING_CONFIRMATION', 'CANCEL'],
  EXPIRED: ['AWAITING_CONFIRMATION', 'CONFIRMATION_WINDOW_PASSED'],
  REFUND_PENDING: ['PENDING_PAYMENT', 'GATEWAY_SUCCEEDED', 'REFUND_REQUESTED'],
  REFUNDED: ['PENDING_PAYMENT', 'GATEWAY_SUCCEEDED', 'REFUND_REQUESTED', 'REFUND_SUCCEEDED'],
};

export interface SeedOrder extends Partial<PaymentFields> {
  readonly orderId: string;
  readonly agentId?: string;
  /** Defaults to the confirmation window of 300 s from now for an order that starts unconfirmed. */
  readonly confirmBy?: string;
  /** The agent-day an auto-paid order counted against. */
  readonly spendDay?: string;
}

/**
 * Creates a 4.50 CNY latte order and walks it to `status` through the state machine at the
 * clock's current time, so its history and due date are the ones the pipeline would write.
 * `fields` are set at intake and kept along the way (`dueAt` is always recomputed).
 */
export async function seedOrder(
  deps: MoveDeps,
  status: OrderStatus,
  { orderId, agentId = 'demo-agent', confirmBy, ...fields }: SeedOrder,
): Promise<Order> {
  const [initial, ...events] = pathTo[status];
  const now = deps.clock.now();
  const window =
    initial === 'AWAITING_CONFIRMATION'
      ? (confirmBy ?? new Date(now.getTime() + 300_000).toISOString())
      : confirmBy;
  let order = openOrder({
    ...latteOrder,
    items: [...latteOrder.items],
    orderId,
    agentId,
    idempotencyKey: `key-${orderId}`,
    requestHash: 'hash',
    status: initial,
    attempts: 0,
    ...fields,
    confirmBy: window,
    createdAt: now.toISOString(),
    dueAt: dueAtFor(initial, now, { ...fields, confirmBy: window }, deps.deadlines),
  });
  const created = await deps.orders.create(order);
  if (created.kind !== 'created') throw new Error(`seedOrder: ${orderId} ${created.kind}`);
  for (const event of events) {
    const moved = await moveOrder(deps, order, event);
    if (moved.kind !== 'applied') throw new Error(`seedOrder: ${orderId} stale on ${event}`);
    order = moved.order;
  }
  return order;
}

/** The operators' switches, flipped by the test. */
export class SwitchableControls implements ControlPanel {
  current: OperatorControls = {};

  async read(): Promise<OperatorControls> {
    return this.current;
  }
}

/** The agents store's contract: creation once per request id, changes only at the read version. */
export class InMemoryAgentStore implements AgentStore {
  readonly agents = new Map<string, ManagedAgent>();
  readonly creations = new Map<string, AgentCreationRecord>();
  writes = 0;

  async get(agentId: string): Promise<AgentProfile | undefined> {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return undefined;
    const { name: _n, createdAt: _c, updatedAt: _u, version: _v, history: _h, ...profile } = agent;
    return structuredClone(profile);
  }

  async getManaged(agentId: string): Promise<ManagedAgent | undefined> {
    const agent = this.agents.get(agentId);
    return agent ? structuredClone(agent) : undefined;
  }

  async create(
    agent: ManagedAgent,
    creation: { readonly requestId: string; readonly requestHash: string },
  ): Promise<CreateAgentOutcome> {
    const existing = this.creations.get(creation.requestId);
    if (existing) return { kind: 'exists', existing: { ...existing } };
    this.creations.set(creation.requestId, {
      agentId: agent.agentId,
      requestHash: creation.requestHash,
    });
    this.agents.set(agent.agentId, structuredClone(agent));
    this.writes++;
    return { kind: 'created' };
  }

  async findCreation(requestId: string): Promise<AgentCreationRecord | undefined> {
    return this.creations.get(requestId);
  }

  async listByOwner(ownerId: string, limit: number): Promise<Page<ManagedAgent>> {
    const items = [...this.agents.values()]
      .filter((agent) => agent.ownerId === ownerId)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, limit);
    return { items: structuredClone(items) };
  }

  async update(
    agentId: string,
    version: number,
    fields: Partial<AgentSettings> & { readonly suspended?: boolean },
    change: AgentChange,
    at: string,
  ): Promise<ManagedAgent | undefined> {
    const agent = this.agents.get(agentId);
    if (agent === undefined || agent.version !== version) return undefined;
    const next: ManagedAgent = {
      ...agent,
      ...fields,
      version: agent.version + 1,
      updatedAt: at,
      history: [...agent.history, change].slice(-AGENT_HISTORY_LIMIT),
    };
    this.agents.set(agentId, next);
    this.writes++;
    return structuredClone(next);
  }
}

/** Hands out agent ids in order, and records the clients removed after a lost race. */
export class RecordingIdentities implements AgentIdentities {
  readonly removed: string[] = [];
  private next = 0;

  async register(): Promise<AgentIdentity> {
    const agentId = `agt_${++this.next}`;
    return { agentId, credentials: { clientId: agentId, clientSecret: `secret-${agentId}` } };
  }

  async remove(agentId: string): Promise<void> {
    this.removed.push(agentId);
  }
}

/**
 * Makes the next move that `orders` applies be sent once more and refused, as the SDK resends a
 * conditional write whose answer was lost after DynamoDB applied it: the caller sees the refusal,
 * marked `resent` as the adapter marks it from the SDK's attempt count.
 */
export function resendNextMove(orders: InMemoryOrders): void {
  const transition = orders.transition.bind(orders);
  let resending = 1;
  orders.transition = async (move): Promise<TransitionOutcome> => {
    const first = await transition(move);
    if (resending === 0 || first.kind !== 'applied') return first;
    resending--;
    const second = await transition(move);
    return second.kind === 'stale' ? { ...second, resent: true } : second;
  };
}
