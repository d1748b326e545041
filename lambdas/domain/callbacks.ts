import * as z from 'zod/mini';
import { isOrderId, type Order, refundFailedAtGateway } from './order.ts';
import { type Move, moveAsDecided } from './order-moves.ts';
import type { SettledOutcome } from './payment-ports.ts';
import { text } from './schemas.ts';
import { applyGatewayOutcome, checkOf, refundFailedMove, type SettleDeps } from './settlement.ts';
import { waitsOutKeyWindow } from './sweep.ts';

export const gatewayEventTypes = [
  'payment.succeeded',
  'payment.failed',
  'payment.pending',
  'refund.succeeded',
  /** A refund that had succeeded failed afterwards: its money is back with the merchant. */
  'refund.failed',
] as const;

/** A gateway's event, as its signed body says; fields we do not use are allowed and ignored. */
export const gatewayEventSchema = z.looseObject({
  id: text({ max: 255 }),
  type: z.enum(gatewayEventTypes),
  created: z.number().check(z.int(), z.nonnegative()),
  data: z.looseObject({
    paymentId: text({ max: 255 }),
    idempotencyKey: text({ max: 255 }),
    amount: z.number().check(z.int(), z.nonnegative()),
    currency: text({ min: 3, max: 3 }).check(z.regex(/^[A-Z]{3}$/)),
    declineCode: z.optional(text({ min: 0, max: 255 })),
    refundId: z.optional(text({ min: 0, max: 255 })),
    /** Why a refund failed (Stripe's `failure_reason`). */
    failureReason: z.optional(text({ min: 0, max: 255 })),
  }),
});
export type GatewayEvent = z.infer<typeof gatewayEventSchema>;

export interface CallbackObserver {
  unknownOrder(event: GatewayEvent): void;
  amountMismatch(event: GatewayEvent, order: Order): void;
  /** A refund that is not the order's own full refund: recorded in its history, nothing more. */
  foreignRefund(event: GatewayEvent, order: Order): void;
}

export type CallbackOutcome =
  /** The event moved the order, or was recorded in its history. */
  | { readonly result: 'applied'; readonly status: Order['status'] }
  /** The event was already applied, or the order is past it: nothing changed. */
  | { readonly result: 'unchanged'; readonly status: Order['status'] }
  /** No such order here: acknowledged so the gateway stops, counted so operators see it. */
  | { readonly result: 'ignored' }
  /** The amount or currency differs from the order's: nothing changed, an alarm goes off. */
  | { readonly result: 'mismatch'; readonly status: Order['status'] };

function outcomeOf(event: GatewayEvent): SettledOutcome | undefined {
  const paymentId = event.data.paymentId;
  switch (event.type) {
    case 'payment.succeeded':
      return { kind: 'succeeded', paymentId };
    case 'payment.pending':
      return { kind: 'pending', paymentId };
    case 'payment.failed':
      return { kind: 'declined', paymentId, declineCode: event.data.declineCode ?? 'declined' };
    default:
      return undefined;
  }
}

/**
 * A success callback for an order already PAID: every order charged at once hears it once more
 * from the gateway, and it changes nothing the order does not already say.
 */
export function isEchoOfPaid(event: GatewayEvent, outcome: CallbackOutcome): boolean {
  return (
    event.type === 'payment.succeeded' &&
    outcome.result === 'unchanged' &&
    outcome.status === 'PAID'
  );
}

/**
 * settlement-callback's use case: one verified event, at most one transition. Duplicates, late
 * and out-of-order events are recognised by the order's state, never by remembering event ids.
 */
export function makeHandleGatewayEvent(
  deps: SettleDeps & { readonly callbacks: CallbackObserver },
) {
  return async function handleGatewayEvent(event: GatewayEvent): Promise<CallbackOutcome> {
    const order = isOrderId(event.data.idempotencyKey)
      ? await deps.orders.get(event.data.idempotencyKey)
      : undefined;
    if (order === undefined) {
      deps.callbacks.unknownOrder(event);
      return { result: 'ignored' };
    }
    const isRefund = event.type === 'refund.succeeded' || event.type === 'refund.failed';
    const amountMatches = isRefund
      ? event.data.amount <= order.amount
      : event.data.amount === order.amount;
    if (!amountMatches || event.data.currency !== order.currency) {
      deps.callbacks.amountMismatch(event, order);
      return { result: 'mismatch', status: order.status };
    }
    const outcome = outcomeOf(event);
    if (outcome !== undefined) {
      const result = await applyGatewayOutcome(deps, order, outcome);
      return { result: result.kind, status: result.status };
    }
    return event.type === 'refund.failed' ? refundFailed(order, event) : refunded(order, event);
  };

  /**
   * Only the reconciler that made the order's refund knows its id, and it records the refund
   * with it. An event for that refund changes nothing; any other refund (another party's, or
   * part of the amount) is written into the history once and counted, and never makes the
   * order REFUNDED while money may still be taken.
   */
  async function refunded(order: Order, event: GatewayEvent): Promise<CallbackOutcome> {
    const { refundId, amount } = event.data;
    const full = amount === order.amount;
    const ours = full && refundId !== undefined && refundId === order.refundId;
    if (ours || (full && order.status === 'REFUND_PENDING' && order.refundId === undefined)) {
      // Ours, or, while our refund is out and unrecorded, most likely ours: its answer records it.
      // An order out of the due index (the sweep gave it up while the refund was pending), or
      // left in it only for a look after the gateway's key window, has nobody asking for that
      // answer until then: the reconciler is asked now.
      if (!ours && (order.dueAt === undefined || waitsOutKeyWindow(order))) {
        await deps.settlementChecks.schedule(checkOf(order, 0), 0);
      }
      deps.observer.ignored(order, `${event.type} while ${order.status}`);
      return { result: 'unchanged', status: order.status };
    }
    const seen = refundId ?? event.id;
    const result = await moveAsDecided(deps, order, (current) =>
      current.observedRefunds?.includes(seen)
        ? undefined
        : {
            event: 'REFUND_OBSERVED',
            changes: { observedRefunds: [...(current.observedRefunds ?? []), seen] },
            errorCode: full ? 'FOREIGN_REFUND' : 'PARTIAL_REFUND',
          },
    );
    if (result.kind === 'applied') {
      deps.callbacks.foreignRefund(event, result.order);
    }
    return { result: result.kind, status: result.order.status };
  }

  /**
   * The order's own refund failed after it succeeded: the order owes the money again and is held
   * for a person, once, however often and in whatever order the failure is told. A failure of a
   * refund that is not the order's (another party's, or one the order no longer names) changes
   * nothing.
   */
  async function refundFailed(order: Order, event: GatewayEvent): Promise<CallbackOutcome> {
    const result = await moveAsDecided(deps, order, (current) => failedMove(current, event));
    if (result.kind === 'applied') {
      deps.observer.refundFailed(result.order);
    } else {
      const held =
        refundFailedAtGateway(result.order) && result.order.refundId === event.data.refundId;
      deps.observer.ignored(
        result.order,
        held
          ? `${event.type} of ${event.data.refundId} told again`
          : `${event.type} of ${event.data.refundId ?? 'a refund'}, not the order's own, while ${result.order.status}`,
      );
    }
    return { result: result.kind, status: result.order.status };
  }
}

/**
 * The move a failed refund makes: only the order's own full refund counts, that is the refund it
 * recorded, or, while its refund is out and unrecorded, a full refund of its payment.
 */
function failedMove(order: Order, event: GatewayEvent): Move | undefined {
  const { refundId, paymentId, amount, failureReason } = event.data;
  if (refundId === undefined || amount !== order.amount) return undefined;
  if (order.gatewayRef !== undefined && order.gatewayRef !== paymentId) return undefined;
  const recorded = order.status === 'REFUNDED' && order.refundId === refundId;
  const unrecorded =
    order.status === 'REFUND_PENDING' &&
    !refundFailedAtGateway(order) &&
    (order.refundId === undefined || order.refundId === refundId);
  if (!recorded && !unrecorded) return undefined;
  return refundFailedMove({ refundId, paymentId, failureReason });
}
