import type { AgentProfile, DailySpend } from './agent.ts';
import type { Order } from './order.ts';

/** What happened to a conditional create of an order. */
export type CreateOrderOutcome =
  | { readonly kind: 'created' }
  /** An order with this id exists already (a replay, or the key reused with another body). */
  | { readonly kind: 'exists'; readonly existing: Order }
  /** The agent's daily auto-pay budget has no room for it; nothing was written. */
  | { readonly kind: 'over-daily-limit' };

export interface OrderRepository {
  /**
   * Creates the order only if no order has its id, together with the daily spend when one is
   * given: both are written or neither is.
   */
  create(order: Order, spend?: DailySpend): Promise<CreateOrderOutcome>;
  get(orderId: string): Promise<Order | undefined>;
}

export interface AgentDirectory {
  get(agentId: string): Promise<AgentProfile | undefined>;
}

/** The message that asks payment submission to pay an order. */
export interface PaymentRequest {
  readonly orderId: string;
  readonly agentId: string;
}

export interface PaymentQueue {
  enqueue(request: PaymentRequest): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
