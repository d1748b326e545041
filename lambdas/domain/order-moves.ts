import { randomBytes } from 'node:crypto';
import { spendClaimOf } from './agent.ts';
import { TransientDependencyError } from './errors.ts';
import type { Order, PaymentFields } from './order.ts';
import { type OrderEvent, type OrderStatus, transition } from './order-state.ts';
import type { Clock, DueLane, OrderRepository, TransitionOutcome } from './ports.ts';

/** How long each waiting state may last before the sweep looks at the order. */
export interface DeadlinePolicy {
  /** From PENDING_PAYMENT to a gateway answer, however many retries. */
  readonly paymentSeconds: number;
  /** From REFUND_PENDING to the refund. */
  readonly refundSeconds: number;
  /** HELD_FOR_REVIEW before an operator is alarmed. */
  readonly reviewSeconds: number;
  /** From entering PENDING_PAYMENT to the last moment a charge may go out (`payBy`). */
  readonly paymentWindowSeconds: number;
}

export const defaultDeadlinePolicy: DeadlinePolicy = {
  paymentSeconds: 900,
  refundSeconds: 900,
  reviewSeconds: 24 * 3600,
  paymentWindowSeconds: 24 * 3600,
};

/**
 * When an order in `status` is overdue; undefined for the states that wait for nothing. The
 * value feeds a sparse index, so terminal orders drop out of it by having none.
 */
export function dueAtFor(
  status: OrderStatus,
  at: Date,
  order: Pick<PaymentFields, 'settleBy' | 'payBy'> & { readonly confirmBy?: string | undefined },
  policy: DeadlinePolicy,
): string | undefined {
  switch (status) {
    case 'AWAITING_CONFIRMATION':
      return order.confirmBy;
    case 'PENDING_PAYMENT':
      return earliest(secondsAfter(at, policy.paymentSeconds), order.payBy);
    case 'AWAITING_SETTLEMENT':
      return order.settleBy;
    case 'HELD_FOR_REVIEW':
      return secondsAfter(at, policy.reviewSeconds);
    case 'REFUND_PENDING':
      return secondsAfter(at, policy.refundSeconds);
    default:
      return undefined;
  }
}

/** An order waiting for its user holds no money; every other state in the due index may. */
export function dueLaneOf(status: OrderStatus): DueLane {
  return status === 'AWAITING_CONFIRMATION' ? 'waiting' : 'money';
}

export function secondsAfter(at: Date, seconds: number): string {
  return new Date(at.getTime() + seconds * 1000).toISOString();
}

/** Whether an optional ISO deadline has come. */
export function isPast(iso: string | undefined, clock: Clock): boolean {
  return iso !== undefined && clock.now().toISOString() >= iso;
}

/** The earlier of two ISO times, the second being optional. */
export function earliest(time: string, other: string | undefined): string {
  return other !== undefined && other < time ? other : time;
}

/**
 * Random bytes of a move's call token: two calls that make the same move of the same order at
 * once tell their entries apart unless 24 bits collide. Four characters in the entry.
 */
const CALL_TOKEN_BYTES = 3;

/** Where an order ends without keeping the money: its auto-pay budget is given back. */
const givesBudgetBack: ReadonlySet<OrderStatus> = new Set([
  'FAILED',
  'CANCELLED',
  'EXPIRED',
  'REFUNDED',
]);

export interface MoveDeps {
  readonly orders: OrderRepository;
  readonly clock: Clock;
  readonly deadlines: DeadlinePolicy;
}

/**
 * Applies one event of the state machine to an order with one conditional write: the new
 * status, its history entry, its deadline and the given changes, or nothing if another writer
 * moved the order first. Entering PENDING_PAYMENT opens a payment window; ending without the
 * money gives the order's auto-pay budget back, in the same write, once; entering a state
 * restarts the sweep's redrive count and its count of refund key windows. A self-loop keeps the
 * deadline; `changes.dueAt`, when given, replaces the computed one.
 *
 * The entry carries a token of this call. A write refused on the SDK's resend, after an answer
 * that never came, whose order holds an entry with the token was this call's first send,
 * applied: it answers `applied`, with the order as it now is. A refusal at the only send is
 * always another writer's, even one that made the very same move in the same millisecond.
 */
export async function moveOrder(
  deps: MoveDeps,
  order: Order,
  event: OrderEvent,
  changes: Partial<PaymentFields> = {},
  errorCode?: string,
): Promise<TransitionOutcome> {
  const to = transition(order.status, event);
  const now = deps.clock.now();
  const entering = to !== order.status;
  const window =
    entering && to === 'PENDING_PAYMENT'
      ? { payBy: secondsAfter(now, deps.deadlines.paymentWindowSeconds) }
      : {};
  // A refund that failed after it succeeded leaves the order owing the money, not keeping it: its
  // budget is given back as a refund's is, even when the failure came before the refund was
  // recorded (a move that stays in REFUND_PENDING).
  const endsWithoutMoney = (entering && givesBudgetBack.has(to)) || event === 'REFUND_FAILED';
  const release =
    endsWithoutMoney && order.spendReleased !== true ? spendClaimOf(order) : undefined;
  // Each state has its own redrive budget: one spent waiting out an outage in PENDING_PAYMENT
  // leaves the settlement that follows its backstop.
  const budget = entering
    ? {
        ...(order.redrives === undefined ? {} : { redrives: undefined }),
        ...(order.refundKeyWindows === undefined ? {} : { refundKeyWindows: undefined }),
      }
    : {};
  const fields = {
    ...window,
    ...budget,
    ...changes,
    ...(release ? { spendReleased: true } : {}),
  };
  const deadline =
    'dueAt' in changes || !entering
      ? {}
      : { dueAt: dueAtFor(to, now, { ...order, ...fields }, deps.deadlines) };
  const call = randomBytes(CALL_TOKEN_BYTES).toString('base64url');
  const result = await deps.orders.transition({
    orderId: order.orderId,
    from: order.status,
    to,
    event,
    at: now.toISOString(),
    call,
    errorCode,
    changes: { ...fields, ...deadline },
    expectedVersion: order.version,
    ...(release ? { release } : {}),
  });
  if (result.kind === 'stale' && result.resent === true) {
    const current = result.current;
    if (current?.history.some((entry) => entry.call === call)) {
      return { kind: 'applied', order: current };
    }
  }
  return result;
}

/** One move an order should make, decided from the order as it is. */
export interface Move {
  readonly event: OrderEvent;
  readonly changes?: Partial<PaymentFields>;
  readonly errorCode?: string;
}

export type DecidedMove =
  | { readonly kind: 'applied'; readonly order: Order }
  /** The order, as it now is, needed no move. */
  | { readonly kind: 'unchanged'; readonly order: Order };

/** An order that loses this many races in a row is left for a retry of the whole step. */
const RACES = 8;

/**
 * Decides a move from the order and applies it; each time another writer moved the order first,
 * decides again from what that writer left. A lost race never drops what the caller knows.
 */
export async function moveAsDecided(
  deps: MoveDeps,
  order: Order,
  decide: (order: Order) => Move | undefined | Promise<Move | undefined>,
): Promise<DecidedMove> {
  let current = order;
  for (let race = 0; race < RACES; race++) {
    const move = await decide(current);
    if (move === undefined) {
      return { kind: 'unchanged', order: current };
    }
    const result = await moveOrder(deps, current, move.event, move.changes, move.errorCode);
    if (result.kind === 'applied' || result.current === undefined) {
      return result.kind === 'applied' ? result : { kind: 'unchanged', order: current };
    }
    current = result.current;
  }
  throw new TransientDependencyError('orders');
}
