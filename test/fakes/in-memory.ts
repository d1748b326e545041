import type { AgentProfile, DailySpend } from '#domain/agent.ts';
import type { Order, PaymentFields } from '#domain/order.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import type {
  AgentDirectory,
  Clock,
  CreateOrderOutcome,
  OrderRepository,
  OrderTransition,
  PaymentQueue,
  PaymentRequest,
  SettlementCheckQueue,
  TransitionOutcome,
} from '#domain/ports.ts';

/** Keeps the adapter's contract: create is all-or-nothing and never overwrites an order. */
export class InMemoryOrders implements OrderRepository {
  readonly orders = new Map<string, Order>();
  readonly spent = new Map<string, number>();
  writes = 0;

  async create(order: Order, spend?: DailySpend): Promise<CreateOrderOutcome> {
    const existing = this.orders.get(order.orderId);
    if (existing) {
      return { kind: 'exists', existing: structuredClone(existing) };
    }
    if (spend) {
      const key = `${spend.agentId}#${spend.day}`;
      const before = this.spent.get(key) ?? 0;
      if (before + spend.amount > spend.dailyLimit) {
        return { kind: 'over-daily-limit' };
      }
      this.spent.set(key, before + spend.amount);
      this.writes++;
    }
    this.orders.set(order.orderId, structuredClone(order));
    this.writes++;
    return { kind: 'created' };
  }

  async get(orderId: string): Promise<Order | undefined> {
    const order = this.orders.get(orderId);
    return order ? structuredClone(order) : undefined;
  }

  async transition(move: OrderTransition): Promise<TransitionOutcome> {
    const current = this.orders.get(move.orderId);
    if (current === undefined || current.status !== move.from) {
      return { kind: 'stale', current: current ? structuredClone(current) : undefined };
    }
    const entry = {
      from: move.from,
      to: move.to,
      at: move.at,
      cause: move.event,
      ...(move.errorCode ? { errorCode: move.errorCode } : {}),
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

  async findDue(before: string, limit: number): Promise<Order[]> {
    return [...this.orders.values()]
      .filter((order) => order.dueAt !== undefined && order.dueAt <= before)
      .sort((a, b) => (a.dueAt ?? '').localeCompare(b.dueAt ?? ''))
      .slice(0, limit)
      .map((order) => structuredClone(order));
  }

  async annotate(
    orderId: string,
    status: OrderStatus,
    changes: Partial<PaymentFields>,
  ): Promise<boolean> {
    const current = this.orders.get(orderId);
    if (current === undefined || current.status !== status) {
      return false;
    }
    this.orders.set(orderId, withChanges(current, changes));
    this.writes++;
    return true;
  }
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
  constructor(private readonly agents: readonly AgentProfile[] = []) {}

  async get(agentId: string): Promise<AgentProfile | undefined> {
    return this.agents.find((agent) => agent.agentId === agentId);
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

export class FixedClock implements Clock {
  constructor(private current: Date) {}

  now(): Date {
    return new Date(this.current);
  }

  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}
