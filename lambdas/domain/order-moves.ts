import type { Order, PaymentFields } from './order.ts';
import { type OrderEvent, type OrderStatus, transition } from './order-state.ts';
import type { Clock, OrderRepository, TransitionOutcome } from './ports.ts';

/** How long each waiting state may last before the sweep looks at the order. */
export interface DeadlinePolicy {
  /** From PENDING_PAYMENT to a gateway answer, however many retries. */
  readonly paymentSeconds: number;
  /** From REFUND_PENDING to the refund. */
  readonly refundSeconds: number;
  /** HELD_FOR_REVIEW before an operator is alarmed. */
  readonly reviewSeconds: number;
}

export const defaultDeadlinePolicy: DeadlinePolicy = {
  paymentSeconds: 900,
  refundSeconds: 900,
  reviewSeconds: 24 * 3600,
};

/**
 * When an order in `status` is overdue; undefined for the states that wait for nothing. The
 * value feeds a sparse index, so terminal orders drop out of it by having none.
 */
export function dueAtFor(
  status: OrderStatus,
  at: Date,
  order: Pick<PaymentFields, 'settleBy'> & { readonly confirmBy?: string | undefined },
  policy: DeadlinePolicy,
): string | undefined {
  const after = (seconds: number) => new Date(at.getTime() + seconds * 1000).toISOString();
  switch (status) {
    case 'AWAITING_CONFIRMATION':
      return order.confirmBy;
    case 'PENDING_PAYMENT':
      return after(policy.paymentSeconds);
    case 'AWAITING_SETTLEMENT':
      return order.settleBy;
    case 'HELD_FOR_REVIEW':
      return after(policy.reviewSeconds);
    case 'REFUND_PENDING':
      return after(policy.refundSeconds);
    default:
      return undefined;
  }
}

export interface MoveDeps {
  readonly orders: OrderRepository;
  readonly clock: Clock;
  readonly deadlines: DeadlinePolicy;
}

/**
 * Applies one event of the state machine to an order with one conditional write: the new
 * status, its history entry, its deadline and the given changes, or nothing if another writer
 * moved the order first.
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
  const dueAt = dueAtFor(to, now, { ...order, ...changes }, deps.deadlines);
  return deps.orders.transition({
    orderId: order.orderId,
    from: order.status,
    to,
    event,
    at: now.toISOString(),
    errorCode,
    changes: { ...changes, dueAt },
    expectedVersion: order.version,
  });
}
