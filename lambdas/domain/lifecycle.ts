import * as z from 'zod/mini';
import { AutopayError, IdempotencyKeyReusedError, ValidationError } from './errors.ts';
import { findVisibleOrder } from './get-order.ts';
import { type Order, type OrderRequestResult, requestHashOf } from './order.ts';
import { isPast, type MoveDeps, moveOrder } from './order-moves.ts';
import type { OrderEvent } from './order-state.ts';
import type { AgentDirectory, PaymentQueue, SettlementCheckQueue } from './ports.ts';
import { type Principal, userPrincipal } from './principal.ts';
import { idempotencyKeySchema, parseWith, text } from './schemas.ts';

export interface LifecycleDeps extends MoveDeps {
  /** Where an order's owner is found when the order predates owners on orders. */
  readonly agents: AgentDirectory;
  readonly payments: PaymentQueue;
  readonly settlementChecks: SettlementCheckQueue;
}

export const refundRequestSchema = z.strictObject({
  reason: z.optional(text({ max: 500 })).check(z.describe('Why the user wants the money back')),
});

function conflict(order: Order, action: string): AutopayError {
  return new AutopayError(
    'ILLEGAL_TRANSITION',
    `An order in ${order.status} cannot be ${action}.`,
    {
      currentStatus: order.status,
    },
  );
}

/**
 * The moves on an order once placed: confirm, cancel, refund. Confirm and refund are the user's
 * (or an operator's, on the user's behalf) and take the id of the user who owns the order's agent;
 * cancel moves no money, so the agent that placed a waiting order may withdraw it too. Any other
 * caller gets 404. Each is one conditional write, answers 409 with the current status when the
 * order has moved on, and is safe to repeat.
 */
export function makeLifecycle(deps: LifecycleDeps) {
  const load = (userId: string, orderId: string) =>
    findVisibleOrder(deps, userPrincipal(userId), orderId);

  /**
   * Moves the order on `event`, or throws 409 with the status that won the race. A write of this
   * call that the SDK resent after its answer was lost comes back applied (`moveOrder`).
   */
  async function apply(order: Order, event: OrderEvent, action: string): Promise<Order> {
    const result = await moveOrder(deps, order, event);
    if (result.kind === 'applied') {
      return result.order;
    }
    throw conflict(result.current ?? order, action);
  }

  const lastCause = (order: Order) => order.history.at(-1)?.cause;

  /**
   * Steps: load the order; replay a confirmation made before; expire a window that passed; check
   * the order may be confirmed; confirm it; queue its payment.
   */
  async function confirm(userId: string, orderId: string): Promise<OrderRequestResult> {
    const order = await load(userId, orderId);
    const replayed = await replayConfirmation(order);
    if (replayed !== undefined) {
      return replayed;
    }
    await expireIfLate(order);
    if (order.status !== 'AWAITING_CONFIRMATION' && order.status !== 'HELD_FOR_REVIEW') {
      throw conflict(order, 'confirmed');
    }
    const confirmed = await apply(order, 'CONFIRM', 'confirmed');
    await deps.payments.enqueue(paymentOf(confirmed));
    return { order: confirmed, replayed: false };
  }

  async function replayConfirmation(order: Order): Promise<OrderRequestResult | undefined> {
    if (order.status !== 'PENDING_PAYMENT' || lastCause(order) !== 'CONFIRM') {
      return undefined;
    }
    // Confirmed before; its payment may not have been queued if that call failed half-way,
    // and attempts made before a hold say nothing of that. A second message costs a lookup.
    await deps.payments.enqueue(paymentOf(order));
    return { order, replayed: true };
  }

  /** Throws CONFIRMATION_EXPIRED for an order confirmed too late, once it is marked expired. */
  async function expireIfLate(order: Order): Promise<void> {
    if (order.status === 'AWAITING_CONFIRMATION' && isPast(order.confirmBy, deps.clock)) {
      const expired = await moveOrder(deps, order, 'CONFIRMATION_WINDOW_PASSED');
      const current = expired.kind === 'applied' ? expired.order : (expired.current ?? order);
      throw new AutopayError('CONFIRMATION_EXPIRED', undefined, { currentStatus: current.status });
    }
  }

  /**
   * Steps: load the order (the agent's own, or one of the user's agents'); replay a cancellation
   * made before; check the order may be cancelled; cancel it; have the reconciler look for a
   * charge if it was held.
   */
  async function cancel(principal: Principal, orderId: string): Promise<OrderRequestResult> {
    const order = await findVisibleOrder(deps, principal, orderId);
    if (order.status === 'CANCELLED') {
      // The first call may have stopped before it asked for the lookup: ask again.
      if (wasHeld(order)) await askReconciler(order);
      return { order, replayed: true };
    }
    if (order.status !== 'AWAITING_CONFIRMATION' && order.status !== 'HELD_FOR_REVIEW') {
      throw conflict(order, 'cancelled');
    }
    const cancelled = await apply(order, 'CANCEL', 'cancelled');
    if (order.status === 'HELD_FOR_REVIEW') {
      // A charge may have gone out before the hold, by this order's attempts or by a racing
      // delivery that attempts knows nothing of: let the reconciler ask, so money taken for a
      // cancelled order is found and given back.
      await askReconciler(order);
    }
    return { order: cancelled, replayed: false };
  }

  /** Has the reconciler act on the order now: a lookup, or the refund it owes. */
  async function askReconciler(order: Order): Promise<void> {
    await deps.settlementChecks.schedule(
      { orderId: order.orderId, agentId: order.agentId, check: 0 },
      0,
    );
  }

  /**
   * Steps: read the request; load the order; replay a refund asked for before; check the order
   * may be refunded; record the request on it; have the reconciler send the refund.
   */
  async function refund(
    userId: string,
    orderId: string,
    idempotencyKey: string | undefined,
    body: unknown,
  ): Promise<OrderRequestResult> {
    const request = readRefundRequest(idempotencyKey, body);
    const order = await load(userId, orderId);
    const replayed = await replayRefund(order, request);
    if (replayed !== undefined) {
      return replayed;
    }
    if (order.status !== 'PAID') {
      throw conflict(order, 'refunded');
    }
    return requestRefund(order, request);
  }

  async function replayRefund(
    order: Order,
    { idempotencyKey, requestHash }: RefundRequest,
  ): Promise<OrderRequestResult | undefined> {
    const askedAgain = order.refundKey !== idempotencyKey && refused(order);
    if (order.refundKey === undefined || askedAgain) {
      return undefined;
    }
    if (order.refundKey !== idempotencyKey || order.refundRequestHash !== requestHash) {
      throw order.refundKey === idempotencyKey
        ? new IdempotencyKeyReusedError(order.orderId)
        : conflict(order, 'refunded again');
    }
    if (order.status === 'REFUND_PENDING') {
      // The first call may have failed before the refund was queued: queue it again.
      await askReconciler(order);
    }
    return { order, replayed: true };
  }

  async function requestRefund(
    order: Order,
    { idempotencyKey, requestHash }: RefundRequest,
  ): Promise<OrderRequestResult> {
    const result = await moveOrder(deps, order, 'REFUND_REQUESTED', {
      refundKey: idempotencyKey,
      refundRequestHash: requestHash,
    });
    if (result.kind === 'stale') {
      const current = result.current ?? order;
      if (current.refundKey === idempotencyKey && current.refundRequestHash === requestHash) {
        return { order: current, replayed: true };
      }
      throw conflict(current, 'refunded');
    }
    await askReconciler(order);
    return { order: result.order, replayed: false };
  }

  return { confirm, cancel, refund };
}

interface RefundRequest {
  readonly idempotencyKey: string;
  readonly requestHash: string;
}

function readRefundRequest(idempotencyKey: string | undefined, body: unknown): RefundRequest {
  if (idempotencyKey === undefined || !idempotencyKeySchema.safeParse(idempotencyKey).success) {
    throw new ValidationError('IDEMPOTENCY_KEY_REQUIRED');
  }
  const request = parseWith(refundRequestSchema, body ?? {});
  return { idempotencyKey, requestHash: requestHashOf(request) };
}

/**
 * The gateway refused the order's last refund and the money is still taken: a request under a
 * new key asks again (the cause may be gone), for the user and for an operator alike.
 */
function refused(order: Order): boolean {
  return order.status === 'PAID' && order.lastError === 'REFUND_REJECTED';
}

/** Cancelled from HELD_FOR_REVIEW, where a charge may have gone out. */
function wasHeld(order: Order): boolean {
  return order.history.some(
    (entry) => entry.from === 'HELD_FOR_REVIEW' && entry.cause === 'CANCEL',
  );
}

function paymentOf(order: Order) {
  return { orderId: order.orderId, agentId: order.agentId };
}
