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
  'PAYMENT_WINDOW_PASSED',
  'REFUND_REJECTED',
  'COMPENSATION_REJECTED',
  'REFUND_OBSERVED',
  'REFUND_FAILED',
] as const;
export type OrderEvent = (typeof orderEvents)[number];

/** How intake starts an order: the only way into the machine. */
export type InitialStatus = Extract<OrderStatus, 'PENDING_PAYMENT' | 'AWAITING_CONFIRMATION'>;

type Moves = Partial<Readonly<Record<OrderEvent, OrderStatus>>>;
type Table = { readonly [S in OrderStatus]: Moves };

/**
 * A refund at the gateway that is not the order's own full refund (another party's, or part of
 * the amount) is written into the history and changes nothing else, whatever the state.
 */
const recordsRefund = <S extends OrderStatus>(status: S, moves: Moves): Moves => ({
  ...moves,
  REFUND_OBSERVED: status,
});

const transitions: Table = {
  AWAITING_CONFIRMATION: recordsRefund('AWAITING_CONFIRMATION', {
    CONFIRM: 'PENDING_PAYMENT',
    CANCEL: 'CANCELLED',
    CONFIRMATION_WINDOW_PASSED: 'EXPIRED',
  }),
  PENDING_PAYMENT: recordsRefund('PENDING_PAYMENT', {
    GATEWAY_SUCCEEDED: 'PAID',
    GATEWAY_PENDING: 'AWAITING_SETTLEMENT',
    GATEWAY_DECLINED: 'FAILED',
    RISK_REJECTED: 'FAILED',
    HELD_FOR_REVIEW: 'HELD_FOR_REVIEW',
    // The outcome is unknown until the gateway says: the order stays where it is.
    OUTCOME_UNKNOWN: 'PENDING_PAYMENT',
    // Nobody is charged long after ordering: the order is looked up, voided if need be, failed.
    PAYMENT_WINDOW_PASSED: 'FAILED',
  }),
  // A racing delivery may have charged before the hold was written: the money it took (or is
  // taking) is the order's payment, and the review stays in the history.
  HELD_FOR_REVIEW: recordsRefund('HELD_FOR_REVIEW', {
    CONFIRM: 'PENDING_PAYMENT',
    CANCEL: 'CANCELLED',
    GATEWAY_SUCCEEDED: 'PAID',
    GATEWAY_PENDING: 'AWAITING_SETTLEMENT',
  }),
  AWAITING_SETTLEMENT: recordsRefund('AWAITING_SETTLEMENT', {
    GATEWAY_SUCCEEDED: 'PAID',
    GATEWAY_DECLINED: 'FAILED',
    SETTLEMENT_DEADLINE_PASSED: 'FAILED',
  }),
  PAID: recordsRefund('PAID', {
    REFUND_REQUESTED: 'REFUND_PENDING',
  }),
  // Money taken for an order the user does not get is given back automatically.
  FAILED: recordsRefund('FAILED', { GATEWAY_SUCCEEDED: 'REFUND_PENDING' }),
  CANCELLED: recordsRefund('CANCELLED', { GATEWAY_SUCCEEDED: 'REFUND_PENDING' }),
  EXPIRED: recordsRefund('EXPIRED', { GATEWAY_SUCCEEDED: 'REFUND_PENDING' }),
  REFUND_PENDING: recordsRefund('REFUND_PENDING', {
    REFUND_SUCCEEDED: 'REFUNDED',
    // The gateway refused the user's refund: the money stays taken, and so the order is PAID.
    REFUND_REJECTED: 'PAID',
    // The gateway refused to give back money taken for an order the user does not get: the
    // order keeps owing it, stops retrying, and waits for a person.
    COMPENSATION_REJECTED: 'REFUND_PENDING',
    // The refund was made and failed before its success was recorded: the order keeps owing it
    // and waits for a person (as below).
    REFUND_FAILED: 'REFUND_PENDING',
  }),
  // The gateway failed the refund after it succeeded (the card was closed, say): the money is
  // back with the merchant, so the order owes it again; it cannot go back to the same card, so a
  // person pays the user back.
  REFUNDED: recordsRefund('REFUNDED', { REFUND_FAILED: 'REFUND_PENDING' }),
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

/**
 * Statuses no event moves out of except a late gateway success (compensated by a refund), or a
 * refund the gateway fails after it succeeded (owed again).
 */
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
