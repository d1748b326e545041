import { createHash } from 'node:crypto';
import { REFUND_FAILED } from './errors.ts';
import type { InitialStatus, OrderEvent, OrderStatus } from './order-state.ts';

/** The shape of every order id intake issues (`orderIdFor`): `ord_` and 32 hex digits. */
export function isOrderId(candidate: string): boolean {
  return /^ord_[0-9a-f]{32}$/.test(candidate);
}

/** What a request with an Idempotency-Key is remembered by: the hash of its parsed body. */
export function requestHashOf(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

/** The answer to a request on an order: the order, and whether the request had been applied. */
export interface OrderRequestResult {
  readonly order: Order;
  /** True when the same request had already been applied and nothing changed now. */
  readonly replayed: boolean;
}

/** Money is an integer in minor units (fen, cents) with its ISO 4217 currency; never a float. */
export interface Money {
  readonly amount: number;
  readonly currency: string;
}

export const paymentMethods = ['wallet', 'card'] as const;
export type PaymentMethod = (typeof paymentMethods)[number];

export interface OrderItem {
  readonly sku: string;
  readonly size?: string | undefined;
  readonly quantity: number;
}

/** Why an order waits for the user instead of being paid at once. */
export type ConfirmationReason =
  | 'ACTION_NOT_TRUSTED'
  | 'OVER_ORDER_LIMIT'
  | 'OVER_DAILY_LIMIT'
  | 'LIMIT_CURRENCY_MISMATCH'
  /** The same intent (session, action, items, price) was placed under another key just before. */
  | 'POSSIBLE_DUPLICATE'
  /** An operator paused auto-pay everywhere: every new order waits for its user. */
  | 'AUTOPAY_PAUSED';

export interface HistoryEntry {
  readonly from: OrderStatus | null;
  readonly to: OrderStatus;
  readonly at: string;
  readonly cause: OrderEvent | 'INTAKE';
  readonly errorCode?: string;
  /**
   * The token of the call that made the move (`moveOrder`), a few random characters: a write the
   * SDK resent after its first send was applied finds it on the order and knows the move its own.
   * Absent on intake's entry and on entries written before moves carried it.
   */
  readonly call?: string;
}

/** What the risk check said, or that it was bypassed because the engine did not answer. */
export interface RiskRecord {
  readonly level: 'pass' | 'review' | 'reject';
  readonly bypassed: boolean;
  readonly requestId?: string | undefined;
  readonly errorCode?: string | undefined;
  /** A person confirmed the order after the check held it; it was not asked again. */
  readonly approvedAfterReview?: boolean | undefined;
}

/**
 * Why an agent's profile alone, whatever it spent today, would not let it pay an order without
 * asking its user: the action or paying is not trusted, the currency or the per-order limit.
 */
export type AgentRestraint = Extract<
  ConfirmationReason,
  'ACTION_NOT_TRUSTED' | 'OVER_ORDER_LIMIT' | 'LIMIT_CURRENCY_MISMATCH'
>;

/**
 * Why an order waits for an operator or its user after the payment step: its risk verdict, the
 * card's issuer asks the user to authenticate (which an off-session charge cannot do), or, before
 * the charge, its agent was suspended or its user restrained it so that it may no longer pay this
 * order on its own (an `AgentRestraint`).
 */
export type HoldReason =
  | 'RISK_REVIEW'
  | 'RISK_UNAVAILABLE'
  | 'AUTHENTICATION_REQUIRED'
  | 'AGENT_SUSPENDED'
  | AgentRestraint;

/** Fields the payment steps may change, beside the status. */
export interface PaymentFields {
  readonly attempts: number;
  readonly lastError?: string | undefined;
  /** The last gateway call ended without knowing whether money moved: ask before resending. */
  readonly outcomeUnknown?: boolean | undefined;
  /** The payment message ran out of deliveries and went to the dead-letter queue. */
  readonly deadLettered?: boolean | undefined;
  readonly gatewayRef?: string | undefined;
  readonly declineCode?: string | undefined;
  readonly risk?: RiskRecord | undefined;
  readonly holdReason?: HoldReason | undefined;
  /** ISO time by which a pending payment must settle, or be voided. */
  readonly settleBy?: string | undefined;
  /** When the order is overdue in its current state; absent once it waits for nothing. */
  readonly dueAt?: string | undefined;
  /**
   * When autopay's void of the payment answered `voided`: a closed order is looked up from the
   * due index at times counted from it, until the gateway can no longer capture.
   */
  readonly voidedAt?: string | undefined;
  /** The Idempotency-Key and request hash of the user's refund request, if any. */
  readonly refundKey?: string | undefined;
  readonly refundRequestHash?: string | undefined;
  readonly refundId?: string | undefined;
  /**
   * Why the gateway failed the refund `refundId` after it succeeded (Stripe's `failure_reason`):
   * the money is back with the merchant, and the order waits for a person to pay the user back.
   */
  readonly refundFailure?: string | undefined;
  /** Money was taken for an order the user does not get; it is being given back. */
  readonly compensation?: boolean | undefined;
  /**
   * ISO time after which a PENDING_PAYMENT order is charged no more: it is looked up, voided if
   * need be, and failed with PAYMENT_WINDOW_EXPIRED. Set each time the order enters the state.
   */
  readonly payBy?: string | undefined;
  /** How many times the sweep set the overdue order moving again; bounded by a budget. */
  readonly redrives?: number | undefined;
  /**
   * How many times the sweep, its budget spent on a refund, waited out the gateway's key window
   * to send it again (`REFUND_AFTER_KEY_WINDOW`); bounded, restarts with the state.
   */
  readonly refundKeyWindows?: number | undefined;
  /** The order's claim on its agent-day's auto-pay budget was given back (exactly once). */
  readonly spendReleased?: boolean | undefined;
  /** Gateway refunds recorded in the history as not the order's own full refund, by id. */
  readonly observedRefunds?: readonly string[] | undefined;
}

/**
 * An order whose refund the gateway failed after it succeeded: it owes the money again, and a
 * person pays the user back (the gateway sends a refund only to the card that paid). No refund
 * is sent for it, and the sweep leaves it alone.
 */
export function refundFailedAtGateway(order: Pick<Order, 'status' | 'lastError'>): boolean {
  return order.status === 'REFUND_PENDING' && order.lastError === REFUND_FAILED;
}

export interface Order extends Money, PaymentFields {
  readonly orderId: string;
  readonly agentId: string;
  /** The user who owned the agent when the order was placed; absent on orders from before owners. */
  readonly ownerId?: string | undefined;
  readonly idempotencyKey: string;
  /** SHA-256 of the canonical request: the same key with another body is refused. */
  readonly requestHash: string;
  readonly action: string;
  readonly sessionId: string;
  readonly items: readonly OrderItem[];
  readonly paymentMethod: PaymentMethod;
  /** The address the agent placed the order from, for the risk engine; never shown to it. */
  readonly clientIp?: string | undefined;
  readonly status: OrderStatus;
  readonly version: number;
  readonly confirmationReason?: ConfirmationReason | undefined;
  /** The order this one may duplicate (reason POSSIBLE_DUPLICATE). */
  readonly duplicateOf?: string | undefined;
  /** ISO time after which an unconfirmed order expires. */
  readonly confirmBy?: string | undefined;
  /**
   * The UTC day (`YYYY-MM-DD`) of the agent's auto-pay budget this order counted against. Only
   * orders paid without asking the user have one: it says both that and which agent-day item.
   */
  readonly spendDay?: string | undefined;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly HistoryEntry[];
}

export interface NewOrder extends Omit<Order, 'status' | 'history' | 'version' | 'updatedAt'> {
  readonly status: InitialStatus;
}

/** The first state of an order, with its first history entry. */
export function openOrder(order: NewOrder): Order {
  return {
    ...order,
    version: 1,
    updatedAt: order.createdAt,
    history: [{ from: null, to: order.status, at: order.createdAt, cause: 'INTAKE' }],
  };
}

/**
 * What an agent (and its user) sees of an order: status, amounts, history and stable codes. Not
 * the internals used for idempotency, and not the risk engine's verdict or request id: an agent
 * that could read them could learn to pass the risk rules. Operators read those with
 * `npm run ops -- order`.
 */
export function orderView(order: Order) {
  return {
    orderId: order.orderId,
    status: order.status,
    action: order.action,
    sessionId: order.sessionId,
    items: order.items,
    amount: order.amount,
    currency: order.currency,
    paymentMethod: order.paymentMethod,
    ...(order.confirmationReason ? { reason: order.confirmationReason } : {}),
    ...(order.duplicateOf ? { duplicateOf: order.duplicateOf } : {}),
    ...(order.confirmBy ? { confirmBy: order.confirmBy } : {}),
    attempts: order.attempts,
    ...(order.lastError ? { lastError: order.lastError } : {}),
    ...(order.deadLettered ? { deadLettered: true } : {}),
    ...(order.gatewayRef ? { gatewayRef: order.gatewayRef } : {}),
    ...(order.declineCode ? { declineCode: order.declineCode } : {}),
    ...(order.holdReason ? { holdReason: order.holdReason } : {}),
    ...(order.settleBy ? { settleBy: order.settleBy } : {}),
    ...(order.refundFailure ? { refundFailure: order.refundFailure } : {}),
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    history: order.history.map(({ call: _call, ...entry }) => entry),
  };
}
export type OrderView = ReturnType<typeof orderView>;
