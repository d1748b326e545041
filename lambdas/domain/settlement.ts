import { type BackoffPolicy, backoffSeconds } from './backoff.ts';
import type { Order, PaymentFields } from './order.ts';
import { type MoveDeps, moveOrder } from './order-moves.ts';
import type { PaymentGateway, SettledOutcome, TransientOutcome } from './payment-ports.ts';
import type { PaymentQueue, SettlementCheckQueue } from './ports.ts';

/** The decline code a gateway gives a payment that was voided before it settled. */
export const VOIDED = 'voided';

export interface SettlementSchedule {
  /** The first status query after a PENDING answer. */
  readonly firstCheckSeconds: number;
  readonly intervalSeconds: number;
  /** Status queries before the payment is voided and the order fails. */
  readonly checks: number;
}

export const defaultSettlementSchedule: SettlementSchedule = {
  firstCheckSeconds: 60,
  intervalSeconds: 300,
  checks: 5,
};

/** What settlement tells the outside world about; handlers log and count it. */
export interface SettlementObserver {
  /** Money was taken for an order the user will not get: it is being refunded. */
  lateSuccess(order: Order): void;
  /** A gateway event or answer that this order's state has already moved past. */
  ignored(order: Order, why: string): void;
}

export interface SettleDeps extends MoveDeps {
  readonly settlementChecks: SettlementCheckQueue;
  readonly schedule: SettlementSchedule;
  readonly observer: SettlementObserver;
}

export type SettleResult =
  | { readonly kind: 'applied'; readonly status: Order['status'] }
  | { readonly kind: 'unchanged'; readonly status: Order['status'] };

/**
 * Brings an order in line with what the gateway says happened to its money: the one place that
 * decides, for every state, what a success, a pending payment or a decline means. Whatever
 * arrives twice, late or out of order changes nothing or moves the order forward, never back.
 */
export async function applyGatewayOutcome(
  deps: SettleDeps,
  order: Order,
  outcome: SettledOutcome,
  extra: Partial<PaymentFields> = {},
): Promise<SettleResult> {
  const ref = outcome.paymentId ? { gatewayRef: outcome.paymentId } : {};
  const status = order.status;
  switch (outcome.kind) {
    case 'succeeded':
      if (status === 'PENDING_PAYMENT' || status === 'AWAITING_SETTLEMENT') {
        return moved(await moveOrder(deps, order, 'GATEWAY_SUCCEEDED', { ...extra, ...ref }));
      }
      if (status === 'FAILED' || status === 'CANCELLED' || status === 'EXPIRED') {
        const result = await moveOrder(deps, order, 'GATEWAY_SUCCEEDED', {
          ...ref,
          compensation: true,
        });
        if (result.kind === 'applied') {
          deps.observer.lateSuccess(result.order);
          await deps.settlementChecks.schedule(checkOf(order, 0), 0);
        }
        return moved(result);
      }
      break;
    case 'pending':
      if (status === 'PENDING_PAYMENT') {
        const { firstCheckSeconds, intervalSeconds, checks } = deps.schedule;
        const deadline = firstCheckSeconds + intervalSeconds * (checks - 1);
        const settleBy = new Date(deps.clock.now().getTime() + deadline * 1000).toISOString();
        // Scheduled before the write: a check of an order that no longer waits is a no-op,
        // while an order waiting with no check scheduled would wait for the sweep.
        await deps.settlementChecks.schedule(checkOf(order, 1), firstCheckSeconds);
        return moved(
          await moveOrder(deps, order, 'GATEWAY_PENDING', { ...extra, ...ref, settleBy }),
        );
      }
      break;
    case 'declined':
      if (status === 'AWAITING_SETTLEMENT' && outcome.declineCode === VOIDED) {
        // Only autopay voids, and only at the settlement deadline: whichever run sees the void
        // first records it as the timeout it is, not as the card's decline.
        return moved(
          await moveOrder(
            deps,
            order,
            'SETTLEMENT_DEADLINE_PASSED',
            { ...extra, ...ref, lastError: 'SETTLEMENT_TIMEOUT' },
            'SETTLEMENT_TIMEOUT',
          ),
        );
      }
      if (status === 'PENDING_PAYMENT' || status === 'AWAITING_SETTLEMENT') {
        const declined = {
          ...extra,
          ...ref,
          declineCode: outcome.declineCode,
          lastError: 'GATEWAY_DECLINED',
        };
        return moved(
          await moveOrder(deps, order, 'GATEWAY_DECLINED', declined, 'GATEWAY_DECLINED'),
        );
      }
      break;
  }
  deps.observer.ignored(order, `${outcome.kind} while ${status}`);
  return { kind: 'unchanged', status };
}

function moved(result: Awaited<ReturnType<typeof moveOrder>>): SettleResult {
  return result.kind === 'applied'
    ? { kind: 'applied', status: result.order.status }
    : { kind: 'unchanged', status: result.current?.status ?? 'FAILED' };
}

export function checkOf(order: Order, check: number) {
  return { orderId: order.orderId, agentId: order.agentId, check };
}

export interface ReconcileDeps extends SettleDeps {
  readonly gateway: PaymentGateway;
  readonly payments: PaymentQueue;
  readonly backoff: BackoffPolicy;
}

export interface ReconcileRequest {
  readonly orderId: string;
  /** Which status query this is (1-based); 0 for a compensation or refund, which is no query. */
  readonly check: number;
}

export type ReconcileResult =
  | { readonly kind: 'done'; readonly detail: string }
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly reason: string };

/**
 * settlement-reconciler's use case: asks the gateway for the truth about one order and acts on
 * it. Pending payments are queried on a schedule and voided at the deadline; refunds (a user's,
 * or the compensation of a late success) are sent until the gateway confirms them.
 */
export function makeReconcile(deps: ReconcileDeps) {
  const { orders, gateway, schedule } = deps;

  return async function reconcile(
    request: ReconcileRequest,
    receiveCount: number,
  ): Promise<ReconcileResult> {
    const order = await orders.get(request.orderId);
    if (order === undefined) {
      return { kind: 'done', detail: 'no such order' };
    }
    switch (order.status) {
      case 'AWAITING_SETTLEMENT':
        return settle(order, request.check, receiveCount);
      case 'PENDING_PAYMENT':
      case 'FAILED':
      case 'CANCELLED':
      case 'EXPIRED':
        return lookUp(order, receiveCount);
      case 'REFUND_PENDING':
        return sendRefund(order, receiveCount);
      default:
        return { kind: 'done', detail: `nothing to do while ${order.status}` };
    }
  };

  async function settle(order: Order, check: number, receiveCount: number) {
    const lookup = await gateway.findByIdempotencyKey(order.orderId);
    if (lookup.kind !== 'found' && lookup.kind !== 'not-found') {
      return later(lookup, receiveCount);
    }
    if (lookup.kind === 'found' && lookup.outcome.kind !== 'pending') {
      return done(await applyGatewayOutcome(deps, order, lookup.outcome));
    }
    const overdue =
      check >= schedule.checks ||
      (order.settleBy !== undefined && deps.clock.now().toISOString() >= order.settleBy);
    const paymentId = lookup.kind === 'found' ? lookup.outcome.paymentId : order.gatewayRef;
    if (!overdue || paymentId === undefined) {
      await deps.settlementChecks.schedule(checkOf(order, check + 1), schedule.intervalSeconds);
      return { kind: 'done' as const, detail: `still pending after check ${check}` };
    }
    const voided = await gateway.void(paymentId);
    if (voided.kind === 'settled') {
      return done(await applyGatewayOutcome(deps, order, voided.outcome));
    }
    if (voided.kind !== 'voided') {
      return later(voided, receiveCount);
    }
    const result = await moveOrder(
      deps,
      order,
      'SETTLEMENT_DEADLINE_PASSED',
      { lastError: 'SETTLEMENT_TIMEOUT' },
      'SETTLEMENT_TIMEOUT',
    );
    return { kind: 'done' as const, detail: result.kind === 'applied' ? 'voided' : 'raced' };
  }

  /** A PENDING_PAYMENT order whose outcome is unknown, or a closed order money may have reached. */
  async function lookUp(order: Order, receiveCount: number) {
    const lookup = await gateway.findByIdempotencyKey(order.orderId);
    if (lookup.kind === 'found') {
      return done(await applyGatewayOutcome(deps, order, lookup.outcome));
    }
    if (lookup.kind !== 'not-found') {
      return later(lookup, receiveCount);
    }
    if (order.status === 'PENDING_PAYMENT') {
      // The gateway never saw it: hand it back to payment submission.
      await deps.payments.enqueue({ orderId: order.orderId, agentId: order.agentId });
      return { kind: 'done' as const, detail: 'requeued for payment' };
    }
    return { kind: 'done' as const, detail: 'no payment at the gateway' };
  }

  async function sendRefund(order: Order, receiveCount: number) {
    let paymentId = order.gatewayRef;
    if (paymentId === undefined) {
      const lookup = await gateway.findByIdempotencyKey(order.orderId);
      if (lookup.kind !== 'found' && lookup.kind !== 'not-found') {
        return later(lookup, receiveCount);
      }
      paymentId = lookup.kind === 'found' ? lookup.outcome.paymentId : undefined;
    }
    if (paymentId === undefined) {
      return { kind: 'done' as const, detail: 'nothing to refund' };
    }
    const refund = await gateway.refund({
      paymentId,
      amount: order.amount,
      currency: order.currency,
      // One refund per order, whoever asks and however often.
      idempotencyKey: `refund_${order.orderId}`,
    });
    if (refund.kind === 'rejected') {
      await orders.annotate(order.orderId, 'REFUND_PENDING', { lastError: 'REFUND_REJECTED' });
      return { kind: 'done' as const, detail: `refund rejected: ${refund.reason}` };
    }
    if (refund.kind !== 'refunded') {
      return later(refund, receiveCount);
    }
    const result = await moveOrder(deps, order, 'REFUND_SUCCEEDED', {
      refundId: refund.refundId,
      gatewayRef: paymentId,
      lastError: undefined,
    });
    return { kind: 'done' as const, detail: result.kind === 'applied' ? 'REFUNDED' : 'raced' };
  }

  async function later(outcome: TransientOutcome, receiveCount: number): Promise<ReconcileResult> {
    if (outcome.kind === 'unauthorized') {
      // The key may have rotated under us: the next delivery uses the current one.
      await gateway.refreshCredentials();
    }
    const delay = backoffSeconds(receiveCount, deps.backoff);
    return {
      kind: 'retry',
      delaySeconds:
        outcome.kind === 'throttled' ? Math.max(delay, outcome.retryAfterSeconds) : delay,
      reason: outcome.kind,
    };
  }
}

function done(result: SettleResult): ReconcileResult {
  return { kind: 'done', detail: `${result.kind} ${result.status}` };
}
