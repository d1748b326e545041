import type { InitialStatus, OrderEvent, OrderStatus } from './order-state.ts';

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
  | 'LIMIT_CURRENCY_MISMATCH';

export interface HistoryEntry {
  readonly from: OrderStatus | null;
  readonly to: OrderStatus;
  readonly at: string;
  readonly cause: OrderEvent | 'INTAKE';
  readonly errorCode?: string;
}

export interface Order extends Money {
  readonly orderId: string;
  readonly agentId: string;
  readonly idempotencyKey: string;
  /** SHA-256 of the canonical request: the same key with another body is refused. */
  readonly requestHash: string;
  readonly action: string;
  readonly sessionId: string;
  readonly items: readonly OrderItem[];
  readonly paymentMethod: PaymentMethod;
  readonly status: OrderStatus;
  readonly version: number;
  readonly confirmationReason?: ConfirmationReason | undefined;
  /** ISO time after which an unconfirmed order expires. */
  readonly confirmBy?: string | undefined;
  readonly attempts: number;
  readonly lastError?: string | undefined;
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

/** What an agent sees of its order: everything but the internals used for idempotency. */
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
    ...(order.confirmBy ? { confirmBy: order.confirmBy } : {}),
    attempts: order.attempts,
    ...(order.lastError ? { lastError: order.lastError } : {}),
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    history: order.history,
  };
}
export type OrderView = ReturnType<typeof orderView>;
