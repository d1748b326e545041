import { IllegalTransitionError } from './errors.ts';

/**
 * The order state machine (DESIGN §2). Pure: it knows the legal moves and nothing else. Every
 * write of a status elsewhere is a conditional write whose `from` and `to` come from here.
 */
export const orderStatuses = [
  'AWAITING_CONFIRMATION',
  'PENDING_PAYMENT',
  'AWAITING_SETTLEMENT',
  'HELD_FOR_REVIEW',
  'PAID',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
  'REFUND_PENDING',
  'REFUNDED',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export const orderEvents = [
  'CONFIRM',
  'CANCEL',
  'CONFIRMATION_WINDOW_PASSED',
  'GATEWAY_SUCCEEDED',
  'GATEWAY_PENDING',
  'GATEWAY_DECLINED',
  'RISK_REJECTED',
  'HELD_FOR_REVIEW',
  'OUTCOME_UNKNOWN',
  'SETTLEMENT_DEADLINE_PASSED',
  'REFUND_REQUESTED',
  'REFUND_SUCCEEDED',
] as const;
export type OrderEvent = (typeof orderEvents)[number];

/** How intake starts an order: the only way into the machine. */
export type InitialStatus = Extract<OrderStatus, 'PENDING_PAYMENT' | 'AWAITING_CONFIRMATION'>;

type Table = { readonly [S in OrderStatus]: Partial<Readonly<Record<OrderEvent, OrderStatus>>> };

const transitions: Table = {
  AWAITING_CONFIRMATION: {
    CONFIRM: 'PENDING_PAYMENT',
    CANCEL: 'CANCELLED',
    CONFIRMATION_WINDOW_PASSED: 'EXPIRED',
  },
  PENDING_PAYMENT: {
    GATEWAY_SUCCEEDED: 'PAID',
    GATEWAY_PENDING: 'AWAITING_SETTLEMENT',
    GATEWAY_DECLINED: 'FAILED',
    RISK_REJECTED: 'FAILED',
    HELD_FOR_REVIEW: 'HELD_FOR_REVIEW',
    // The outcome is unknown until the gateway says: the order stays where it is.
    OUTCOME_UNKNOWN: 'PENDING_PAYMENT',
  },
  HELD_FOR_REVIEW: {
    CONFIRM: 'PENDING_PAYMENT',
    CANCEL: 'CANCELLED',
  },
  AWAITING_SETTLEMENT: {
    GATEWAY_SUCCEEDED: 'PAID',
    GATEWAY_DECLINED: 'FAILED',
    SETTLEMENT_DEADLINE_PASSED: 'FAILED',
  },
  PAID: {
    REFUND_REQUESTED: 'REFUND_PENDING',
  },
  // Money taken for an order the user does not get is given back automatically.
  FAILED: { GATEWAY_SUCCEEDED: 'REFUND_PENDING' },
  CANCELLED: { GATEWAY_SUCCEEDED: 'REFUND_PENDING' },
  EXPIRED: { GATEWAY_SUCCEEDED: 'REFUND_PENDING' },
  REFUND_PENDING: {
    REFUND_SUCCEEDED: 'REFUNDED',
  },
  REFUNDED: {},
};

/** The status an order in `from` moves to on `event`; throws when the move is illegal. */
export function transition(from: OrderStatus, event: OrderEvent): OrderStatus {
  const to = transitions[from][event];
  if (to === undefined) {
    throw new IllegalTransitionError(from, event);
  }
  return to;
}

export function canTransition(from: OrderStatus, event: OrderEvent): boolean {
  return transitions[from][event] !== undefined;
}

/** Statuses no event moves out of except a late gateway success (compensated by a refund). */
export const terminalStatuses: ReadonlySet<OrderStatus> = new Set([
  'PAID',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
  'REFUNDED',
]);

export function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === 'string' && (orderStatuses as readonly string[]).includes(value);
}
