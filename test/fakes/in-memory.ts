import type { AgentProfile, DailySpend } from '#domain/agent.ts';
import type { Order } from '#domain/order.ts';
import type {
  AgentDirectory,
  Clock,
  CreateOrderOutcome,
  OrderRepository,
  PaymentQueue,
  PaymentRequest,
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
