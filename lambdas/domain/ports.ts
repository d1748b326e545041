import type { AgentProfile, DailySpend, SpendClaim } from './agent.ts';
import type { GuardClaim, GuardState } from './agent-guards.ts';
import type { Order, PaymentFields } from './order.ts';
import type { OrderEvent, OrderStatus } from './order-state.ts';

/** What happened to a conditional create of an order. */
export type CreateOrderOutcome =
  | { readonly kind: 'created' }
  /** An order with this id exists already (a replay, or the key reused with another body). */
  | {
      readonly kind: 'exists';
      readonly existing: Order;
      /** The put was sent more than once (an SDK retry): the order found may be its own. */
      readonly resent?: boolean;
    };

/** What happened to a placement's claim on its agent-day item. */
export type ClaimOutcome =
  | { readonly kind: 'claimed' }
  /** The agent-day item would pass DynamoDB's item size: too many recent intents. */
  | { readonly kind: 'day-full' }
  /**
   * The agent-day item was not as the guard claim assumed (an empty bucket, a recent duplicate,
   * no room in the day's budget, or only a wrong guess); nothing was written. `observed` is the
   * item as the write found it, `previousDay` the previous day's when its check failed.
   */
  | {
      readonly kind: 'guard-refused';
      readonly observed: GuardState;
      readonly previousDay?: GuardState | undefined;
      /**
       * The write was sent more than once (resent after an answer that never came): the refusal
       * may be of the claim's own earlier send, which landed.
       */
      readonly resent?: boolean | undefined;
    };

/** One move of the state machine, applied only if the order is still in `from`. */
export interface OrderTransition {
  readonly orderId: string;
  readonly from: OrderStatus;
  readonly to: OrderStatus;
  readonly event: OrderEvent;
  readonly at: string;
  /** This call's token, written in the move's history entry (`HistoryEntry.call`). */
  readonly call: string;
  readonly errorCode?: string | undefined;
  readonly changes?: Partial<PaymentFields>;
  /**
   * The version the caller read. Given, the move also fails if the order has moved meanwhile
   * and come back to `from` (PENDING_PAYMENT → HELD_FOR_REVIEW → PENDING_PAYMENT).
   */
  readonly expectedVersion?: number;
  /**
   * Given back to its agent-day's budget in the same atomic write, which also sets
   * `spendReleased`; refused (stale) if the order has given it back already.
   */
  readonly release?: SpendClaim;
}

export type TransitionOutcome =
  | { readonly kind: 'applied'; readonly order: Order }
  /** The order was not in `from` (another delivery got there first); nothing was written. */
  | {
      readonly kind: 'stale';
      readonly current: Order | undefined;
      /**
       * The write was sent more than once (resent after an answer that never came): the refusal
       * may be of the move's own earlier send, which landed.
       */
      readonly resent?: boolean | undefined;
    };

/** Which orders a listing reads: one agent's, or those of every agent of one user. */
export type OrderListing = (
  | { readonly by: 'agent'; readonly agentId: string; readonly ownerId: string }
  | { readonly by: 'owner'; readonly ownerId: string }
) & {
  readonly status?: OrderStatus | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
};

export interface OrderPage {
  readonly orders: readonly Order[];
  /** Opaque; absent on the last page. */
  readonly cursor?: string | undefined;
}

/** The listings of orders, newest first, by an index (never a scan). */
export interface OrderIndex {
  list(listing: OrderListing): Promise<OrderPage>;
}

/**
 * The due index's two lanes: orders whose state holds or may hold money (a payment sent or its
 * outcome unknown, a settlement, a hold, a refund), and orders waiting for their user, which hold
 * none and expire at no cost. The sweep serves the money lane first.
 */
export type DueLane = 'money' | 'waiting';

export interface OrderRepository {
  /** Creates the order only if no order has its id: one conditional put. */
  create(order: Order): Promise<CreateOrderOutcome>;
  /**
   * One placement's claim on its agent-day item (token bucket, recent intent, and the spend when
   * it is paid at once): one conditional update, written whole or not at all.
   */
  claim(guard: GuardClaim, spend?: DailySpend): Promise<ClaimOutcome>;
  /**
   * Gives back what a claim took for an order that was not stored after all: its spend and its
   * place in the bucket. The recent intent stays, naming the order id the claim was made for.
   */
  unclaim(guard: GuardClaim, spend?: DailySpend): Promise<void>;
  get(orderId: string): Promise<Order | undefined>;
  /** The orders of these ids that exist, by id, read together; each read as `get` reads it. */
  getMany(orderIds: readonly string[]): Promise<Map<string, Order>>;
  /** One conditional write: the status, the history entry and the changes, or nothing. */
  transition(transition: OrderTransition): Promise<TransitionOutcome>;
  /**
   * Orders whose deadline in their current state is at or before `before`, oldest first: those
   * of one lane, or of both.
   */
  findDue(before: string, limit: number, lane?: DueLane): Promise<Order[]>;
  /**
   * Updates payment fields of an order still in `status`, without a state change. Given
   * `whileDueAt`, only while the order's deadline is still that one: a move made since the order
   * was read that kept its status but set or removed its deadline is not overwritten.
   */
  annotate(
    orderId: string,
    status: OrderStatus,
    changes: Partial<PaymentFields>,
    whileDueAt?: string,
  ): Promise<boolean>;
}

export interface AgentDirectory {
  get(agentId: string): Promise<AgentProfile | undefined>;
}

/** The message that asks payment submission to pay an order. */
export interface PaymentRequest {
  readonly orderId: string;
  readonly agentId: string;
  /**
   * Set by intake, which queues the payment just before it stores the order: until a little
   * after this instant, an order not found yet is waited for rather than given up.
   */
  readonly placedAt?: string;
}

export interface PaymentQueue {
  enqueue(request: PaymentRequest): Promise<void>;
}

/** A payment request read from a message that failed every delivery. */
export interface DeadPaymentRequest extends PaymentRequest {
  /**
   * When its message was first sent to the payment queue (ISO), where known: the dead-letter
   * queue's retention counts from it, not from the move.
   */
  readonly sentAt?: string | undefined;
}

/**
 * The payment messages that failed every delivery, read where they wait (the payment queue's
 * dead-letter queue) and left there: its alarm and an operator's redrive still see them.
 */
export interface DeadPaymentMessages {
  /** The longest the queue keeps a message read out of view. */
  readonly longestHideSeconds: number;
  /** How many messages wait, those kept out of view included (approximately). */
  depth(): Promise<number>;
  /**
   * The requests of up to `limit` messages waiting, each order once at most (with its oldest
   * message's `sentAt`); none is removed. The messages read are kept out of the next peeks for
   * `hideSeconds`, so that those read the messages behind them.
   */
  peek(limit: number, hideSeconds: number): Promise<DeadPaymentRequest[]>;
  /**
   * Shows the messages the last peek received again at once, for a run that could not handle
   * them: the next peek reads them rather than the peeks after their hiding. Given `orderIds`,
   * only the messages naming those orders; without, every message the peek received. A message
   * is shown again once at most: a later call leaves it as it is.
   */
  showAgain(orderIds?: readonly string[]): Promise<void>;
}

/** Delayed checks of a payment the gateway has not settled yet. */
export interface SettlementCheckQueue {
  schedule(
    request: PaymentRequest & { readonly check: number },
    delaySeconds: number,
  ): Promise<void>;
}

/** An operator's switch as it stands: who turned it, and when. */
export interface PauseRecord {
  readonly by: string;
  readonly at: string;
}

/** The operators' global switches (the degrade switch); absent means not paused. */
export interface OperatorControls {
  readonly autopayPaused?: PauseRecord | undefined;
  readonly paymentsPaused?: PauseRecord | undefined;
}

export interface ControlPanel {
  /** The switches, at most a few seconds old (each adapter says its bound). */
  read(): Promise<OperatorControls>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
