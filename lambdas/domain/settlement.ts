import { type BackoffPolicy, backoffSeconds } from './backoff.ts';
import { REFUND_FAILED } from './errors.ts';
import { type Order, type PaymentFields, refundFailedAtGateway } from './order.ts';
import { isPast, type Move, type MoveDeps, moveAsDecided, secondsAfter } from './order-moves.ts';
import type { OrderStatus } from './order-state.ts';
import type {
  PaymentGateway,
  PaymentLookup,
  SettledOutcome,
  TransientOutcome,
} from './payment-ports.ts';
import type { PaymentQueue, SettlementCheckQueue } from './ports.ts';

/** The decline code a gateway gives a payment that was voided before it settled. */
export const VOIDED = 'voided';

export interface SettlementSchedule {
  /** The first status query after a PENDING answer. */
  readonly firstCheckSeconds: number;
  readonly intervalSeconds: number;
  /** Status queries before the payment is voided and the order fails. */
  readonly checks: number;
  /**
   * Lookups of an order whose payment was voided, in seconds after the void, besides the first
   * (a delayed check `intervalSeconds` after it): a capture that lands despite the void, and
   * whose callback is lost, is found and given back. The due index brings the order back for
   * each, so only voided orders pay for them.
   */
  readonly voidLookupSeconds: readonly number[];
  /**
   * How long after a void the gateway might still capture the payment: the last lookup comes
   * then, and the order leaves the due index. Stripe cancels an uncaptured card authorization
   * after its validity window, 7 days for most online card payments (up to 30 with extended
   * authorizations); the window runs from the authorization, which comes before the void.
   */
  readonly captureWindowSeconds: number;
}

export const defaultSettlementSchedule: SettlementSchedule = {
  firstCheckSeconds: 60,
  intervalSeconds: 300,
  checks: 5,
  voidLookupSeconds: [3_600, 86_400],
  captureWindowSeconds: 7 * 86_400,
};

/**
 * When, in seconds after a void, its order is looked up from the due index, in order: the last at
 * the end of the capture window.
 */
export function lookupsAfterVoid(
  schedule: Pick<SettlementSchedule, 'voidLookupSeconds' | 'captureWindowSeconds'>,
): number[] {
  const { voidLookupSeconds, captureWindowSeconds } = schedule;
  const within = voidLookupSeconds.filter((seconds) => seconds < captureWindowSeconds);
  return [...new Set([...within, captureWindowSeconds])].sort((a, b) => a - b);
}

/** The first lookup after the void at `voidedAt` that is still to come; none once all have. */
export function nextLookupAfterVoid(
  voidedAt: string | undefined,
  now: Date,
  lookups: readonly number[],
): string | undefined {
  if (voidedAt === undefined) return undefined;
  const from = new Date(voidedAt);
  return lookups.map((seconds) => secondsAfter(from, seconds)).find((at) => at > now.toISOString());
}

/** What a void that answered `voided` leaves on its order: when it was, and the next lookup. */
function voidedNow(deps: SettleDeps): Pick<PaymentFields, 'voidedAt' | 'dueAt'> {
  const now = deps.clock.now();
  const voidedAt = now.toISOString();
  return { voidedAt, dueAt: nextLookupAfterVoid(voidedAt, now, lookupsAfterVoid(deps.schedule)) };
}

/** What settlement tells the outside world about; handlers log and count it. */
export interface SettlementObserver {
  /** Money was taken for an order the user will not get: it is being refunded. */
  lateSuccess(order: Order): void;
  /** A gateway event or answer that this order's state has already moved past. */
  ignored(order: Order, why: string): void;
  /** The gateway refused a refund for good: it is not sent again, and a person must look. */
  refundRejected(order: Order, reason: string): void;
  /** The payment was refunded in full at the gateway by someone else: the order is REFUNDED. */
  foreignRefund(order: Order): void;
  /** The order was not paid within its payment window: it failed, nothing is charged. */
  paymentWindowExpired(order: Order): void;
  /**
   * The gateway failed the order's refund after it succeeded: the money is back with the
   * merchant, the order owes it again, and a person pays the user back.
   */
  refundFailed(order: Order): void;
}

export interface SettleDeps extends MoveDeps {
  readonly settlementChecks: SettlementCheckQueue;
  readonly schedule: SettlementSchedule;
  readonly observer: SettlementObserver;
}

export type SettleResult =
  | { readonly kind: 'applied'; readonly status: Order['status'] }
  | { readonly kind: 'unchanged'; readonly status: Order['status'] };

/** Orders that may be paying: whatever the gateway says of their money is theirs. */
const paying: ReadonlySet<OrderStatus> = new Set([
  'PENDING_PAYMENT',
  'AWAITING_SETTLEMENT',
  'HELD_FOR_REVIEW',
]);

/** Orders our side closed before the gateway's answer: money it took for them goes back. */
export const closedStatuses: ReadonlySet<OrderStatus> = new Set(['FAILED', 'CANCELLED', 'EXPIRED']);

/**
 * Brings an order in line with what the gateway says happened to its money: the one place that
 * decides, for every state, what a success, a pending payment or a decline means. Whatever
 * arrives twice, late or out of order changes nothing or moves the order forward, never back;
 * when another writer moved the order first, the outcome is applied to what it left. A success
 * always ends PAID, or refunded by a compensation, or is found already accounted for.
 */
export async function applyGatewayOutcome(
  deps: SettleDeps,
  order: Order,
  outcome: SettledOutcome,
  extra: Partial<PaymentFields> = {},
): Promise<SettleResult> {
  const ref = outcome.paymentId ? { gatewayRef: outcome.paymentId } : {};
  const result = await moveAsDecided(deps, order, (current) =>
    decide(deps, current, outcome, { ...extra, ...ref }),
  );
  const { status } = result.order;
  if (result.kind === 'applied') {
    if (outcome.kind === 'succeeded' && status === 'REFUND_PENDING') {
      deps.observer.lateSuccess(result.order);
      await deps.settlementChecks.schedule(checkOf(result.order, 0), 0);
    }
    return { kind: 'applied', status };
  }
  if (outcome.kind === 'pending' && closedStatuses.has(status)) {
    // A payment still open at the gateway for an order we closed: the reconciler voids it.
    await deps.settlementChecks.schedule(checkOf(result.order, 0), 0);
  } else {
    deps.observer.ignored(result.order, `${outcome.kind} while ${status}`);
  }
  return { kind: 'unchanged', status };
}

/** The move an outcome makes of an order in its current state, if any. */
async function decide(
  deps: SettleDeps,
  order: Order,
  outcome: SettledOutcome,
  changes: Partial<PaymentFields>,
): Promise<Move | undefined> {
  const status = order.status;
  switch (outcome.kind) {
    case 'succeeded':
      if (paying.has(status)) {
        return { event: 'GATEWAY_SUCCEEDED', changes };
      }
      if (closedStatuses.has(status)) {
        const { gatewayRef } = changes;
        return { event: 'GATEWAY_SUCCEEDED', changes: { gatewayRef, compensation: true } };
      }
      return undefined;
    case 'pending':
      if (status === 'PENDING_PAYMENT' || status === 'HELD_FOR_REVIEW') {
        const { firstCheckSeconds, intervalSeconds, checks } = deps.schedule;
        const deadline = firstCheckSeconds + intervalSeconds * (checks - 1);
        const settleBy = secondsAfter(deps.clock.now(), deadline);
        // Scheduled before the write: a check of an order that no longer waits is a no-op,
        // while an order waiting with no check scheduled would wait for the sweep.
        await deps.settlementChecks.schedule(checkOf(order, 1), firstCheckSeconds);
        return { event: 'GATEWAY_PENDING', changes: { ...changes, settleBy } };
      }
      return undefined;
    case 'declined':
      if (status === 'AWAITING_SETTLEMENT' && outcome.declineCode === VOIDED) {
        // Only autopay voids, and only at the settlement deadline: whichever run sees the void
        // first records it as the timeout it is, not as the card's decline, and starts the
        // lookups that follow a void.
        return settlementTimeout({ ...changes, ...voidedNow(deps) });
      }
      if (status === 'PENDING_PAYMENT' || status === 'AWAITING_SETTLEMENT') {
        return {
          event: 'GATEWAY_DECLINED',
          changes: { ...changes, declineCode: outcome.declineCode, lastError: 'GATEWAY_DECLINED' },
          errorCode: 'GATEWAY_DECLINED',
        };
      }
      return undefined;
  }
}

function settlementTimeout(changes: Partial<PaymentFields>): Move {
  return {
    event: 'SETTLEMENT_DEADLINE_PASSED',
    changes: { ...changes, lastError: 'SETTLEMENT_TIMEOUT' },
    errorCode: 'SETTLEMENT_TIMEOUT',
  };
}

export function checkOf(order: Order, check: number) {
  return { orderId: order.orderId, agentId: order.agentId, check };
}

export interface ReconcileDeps extends SettleDeps {
  readonly gateway: PaymentGateway;
  readonly payments: PaymentQueue;
  readonly backoff: BackoffPolicy;
}

/** How the reconciler closes an order, and what it tells once it has. */
interface Closing {
  readonly decide: (current: Order) => Move | undefined;
  readonly closed?: (order: Order) => void;
}

export interface ReconcileRequest {
  readonly orderId: string;
  /** Which status query this is (1-based); 0 for a lookup, a compensation or a refund. */
  readonly check: number;
}

export type ReconcileResult =
  | { readonly kind: 'done'; readonly detail: string }
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly reason: string };

/**
 * settlement-reconciler's use case: asks the gateway for the truth about one order and acts on
 * it. Pending payments are queried on a schedule and voided at the deadline; orders past their
 * payment window are looked up, voided if need be, and failed; closed orders money may have
 * reached are looked up and anything still open voided; refunds (a user's, or the compensation
 * of a late success) are sent until the gateway confirms or refuses them.
 */
export function makeReconcile(deps: ReconcileDeps) {
  const { orders, gateway, schedule } = deps;

  /**
   * Steps: read the order; then, by its status, settle a pending payment, close a payment window
   * that passed, look up an order money may have reached, or send a refund.
   */
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
        return isPast(order.payBy, deps.clock)
          ? closeWindow(order, receiveCount)
          : lookUp(order, receiveCount);
      case 'HELD_FOR_REVIEW':
      case 'FAILED':
      case 'CANCELLED':
      case 'EXPIRED':
        return lookUp(order, receiveCount);
      case 'REFUNDED':
        return verifyRefund(order, receiveCount);
      case 'REFUND_PENDING':
        // A refund the gateway failed after it succeeded is not sent again: under its key the
        // gateway would replay the success, and no new refund can reach a closed card.
        return refundFailedAtGateway(order)
          ? { kind: 'done', detail: 'refund failed at the gateway: held for a person' }
          : sendRefund(order, receiveCount);
      default:
        return { kind: 'done', detail: `nothing to do while ${order.status}` };
    }
  };

  /**
   * Steps: look the payment up; apply an outcome that settled; check again later until the
   * deadline; void at the deadline.
   */
  async function settle(order: Order, check: number, receiveCount: number) {
    const lookup = await gateway.findByIdempotencyKey(order.orderId, order.gatewayRef);
    if (lookup.kind !== 'found' && lookup.kind !== 'not-found') {
      return later(lookup, receiveCount);
    }
    if (lookup.kind === 'found' && lookup.outcome.kind !== 'pending') {
      return done(await applyGatewayOutcome(deps, order, lookup.outcome));
    }
    const overdue = check >= schedule.checks || isPast(order.settleBy, deps.clock);
    const paymentId = lookup.kind === 'found' ? lookup.outcome.paymentId : order.gatewayRef;
    if (!overdue || paymentId === undefined) {
      return checkAgain(order, check);
    }
    return voidPayment(order, paymentId, receiveCount, {
      decide: (current) =>
        current.status === 'AWAITING_SETTLEMENT' ? settlementTimeout({}) : undefined,
    });
  }

  async function checkAgain(order: Order, check: number): Promise<ReconcileResult> {
    await deps.settlementChecks.schedule(checkOf(order, check + 1), schedule.intervalSeconds);
    return { kind: 'done', detail: `still pending after check ${check}` };
  }

  /** An order past its payment window: nothing more is charged, what is open is voided. */
  async function closeWindow(order: Order, receiveCount: number) {
    const lookup = await gateway.findByIdempotencyKey(order.orderId, order.gatewayRef);
    if (lookup.kind !== 'found' && lookup.kind !== 'not-found') {
      return later(lookup, receiveCount);
    }
    const windowPassed: Closing = {
      decide: (current) =>
        current.status === 'PENDING_PAYMENT'
          ? {
              event: 'PAYMENT_WINDOW_PASSED',
              changes: { lastError: 'PAYMENT_WINDOW_EXPIRED' },
              errorCode: 'PAYMENT_WINDOW_EXPIRED',
            }
          : undefined,
      closed: (closed) => deps.observer.paymentWindowExpired(closed),
    };
    if (lookup.kind === 'found' && lookup.outcome.kind === 'pending') {
      return voidPayment(order, lookup.outcome.paymentId, receiveCount, windowPassed);
    }
    if (lookup.kind === 'found') {
      return done(await applyGatewayOutcome(deps, order, lookup.outcome));
    }
    return closeAndVerify(order, windowPassed, 'payment window passed');
  }

  /** An order whose outcome is unknown, or that money may have reached while held or closed. */
  async function lookUp(order: Order, receiveCount: number) {
    const lookup = await gateway.findByIdempotencyKey(order.orderId, order.gatewayRef);
    if (lookup.kind === 'found') {
      const { outcome } = lookup;
      if (outcome.kind === 'pending' && closedStatuses.has(order.status)) {
        // Still open for an order we closed: cancel it before it can take the money.
        return voidPayment(order, outcome.paymentId, receiveCount, { decide: () => undefined });
      }
      return done(await applyGatewayOutcome(deps, order, outcome));
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

  /**
   * Voids a payment that has not settled and closes the order as `closing` says. A payment
   * that settled first has that outcome applied instead.
   */
  async function voidPayment(
    order: Order,
    paymentId: string,
    receiveCount: number,
    closing: Closing,
  ): Promise<ReconcileResult> {
    const voided = await gateway.void(paymentId);
    if (voided.kind === 'settled') {
      return done(await applyGatewayOutcome(deps, order, voided.outcome));
    }
    if (voided.kind !== 'voided') {
      return later(voided, receiveCount);
    }
    const lookups = voidedNow(deps);
    const withRef: Closing = {
      ...closing,
      decide: (current) => {
        const move = closing.decide(current);
        return move && { ...move, changes: { ...move.changes, gatewayRef: paymentId, ...lookups } };
      },
    };
    return closeAndVerify(order, withRef, 'voided', lookups);
  }

  /**
   * Closes the order as `closing` decides, then has it looked up once more a little later: a
   * capture that lands after a void or a lookup, and whose callback is lost, is still found and
   * given back. After a void the due index brings it back for more lookups (`lookups`), until
   * the gateway can no longer capture; a closed order the void did not move is put on them too,
   * unless it is on them already.
   */
  async function closeAndVerify(
    order: Order,
    closing: Closing,
    what: string,
    lookups?: Pick<PaymentFields, 'voidedAt' | 'dueAt'>,
  ): Promise<ReconcileResult> {
    const result = await moveAsDecided(deps, order, closing.decide);
    if (result.kind === 'applied') {
      closing.closed?.(result.order);
    }
    const current = result.order;
    if (
      lookups !== undefined &&
      result.kind === 'unchanged' &&
      closedStatuses.has(current.status) &&
      current.dueAt === undefined
    ) {
      await orders.annotate(current.orderId, current.status, lookups);
    }
    await deps.settlementChecks.schedule(checkOf(order, 0), schedule.intervalSeconds);
    const raced = result.kind === 'unchanged' && result.order.status !== order.status;
    return { kind: 'done', detail: raced ? `${what}, raced to ${result.order.status}` : what };
  }

  /** Steps: find the payment; send the refund under the order's own key; record it refunded. */
  async function sendRefund(order: Order, receiveCount: number): Promise<ReconcileResult> {
    const paymentId = await paymentToRefund(order, receiveCount);
    if (typeof paymentId !== 'string') {
      return paymentId;
    }
    // Sent even when the payment may be refunded already: a refund under our own key, made by a
    // racing delivery, comes back as ours; one made by anyone else is refused, and the refusal
    // is where the gateway is asked who gave the money back (refusedRefund).
    const key = refundKeyOf(order);
    const refund = await gateway.refund({
      paymentId,
      amount: order.amount,
      currency: order.currency,
      idempotencyKey: key,
      orderId: order.orderId,
    });
    if (refund.kind === 'rejected') {
      return refusedRefund(order, paymentId, { key, reason: refund.reason }, receiveCount);
    }
    if (refund.kind === 'failed') {
      return failedRefund(order, paymentId, refund);
    }
    if (refund.kind !== 'refunded') {
      return later(refund, receiveCount);
    }
    return recordRefunded(order, paymentId, refund.refundId);
  }

  /** The payment's id, or what to answer when it cannot be had now or there is none. */
  async function paymentToRefund(
    order: Order,
    receiveCount: number,
  ): Promise<string | ReconcileResult> {
    if (order.gatewayRef !== undefined) {
      return order.gatewayRef;
    }
    const lookup = await gateway.findByIdempotencyKey(order.orderId);
    if (lookup.kind !== 'found' && lookup.kind !== 'not-found') {
      return later(lookup, receiveCount);
    }
    const paymentId = lookup.kind === 'found' ? lookup.outcome.paymentId : undefined;
    return paymentId ?? { kind: 'done', detail: 'nothing to refund' };
  }

  async function recordRefunded(
    order: Order,
    paymentId: string,
    refundId: string,
  ): Promise<ReconcileResult> {
    // The refund's failure may be told before its success is recorded: it is not recorded then.
    const result = await moveAsDecided(deps, order, (current) =>
      current.status === 'REFUND_PENDING' &&
      !(refundFailedAtGateway(current) && current.refundId === refundId)
        ? {
            event: 'REFUND_SUCCEEDED',
            changes: { refundId, gatewayRef: paymentId, lastError: undefined },
          }
        : undefined,
    );
    if (result.kind === 'applied') {
      // Looked at once more a little later: a failure of the refund whose events were lost is
      // still found then.
      await deps.settlementChecks.schedule(checkOf(order, 0), schedule.intervalSeconds);
    }
    return { kind: 'done', detail: result.kind === 'applied' ? 'REFUNDED' : 'raced' };
  }

  /** The refund sent was made and has failed since: the order owes it, held for a person. */
  async function failedRefund(
    order: Order,
    paymentId: string,
    { refundId, reason }: { readonly refundId: string; readonly reason: string },
  ): Promise<ReconcileResult> {
    const result = await moveAsDecided(deps, order, (current) =>
      current.status === 'REFUND_PENDING' && !refundFailedAtGateway(current)
        ? refundFailedMove({ refundId, paymentId, failureReason: reason })
        : undefined,
    );
    if (result.kind === 'applied') {
      deps.observer.refundFailed(result.order);
    }
    return { kind: 'done', detail: `refund failed: ${reason}` };
  }

  /**
   * A REFUNDED order's refund, looked at again: its own, or one made outside autopay (no
   * `refundId`: refundedElsewhere). If the gateway no longer counts the money given back, the
   * refund failed after it succeeded, and the order owes it again.
   */
  async function verifyRefund(order: Order, receiveCount: number): Promise<ReconcileResult> {
    const { refundId, gatewayRef } = order;
    if (gatewayRef === undefined) {
      return { kind: 'done', detail: 'nothing to do while REFUNDED' };
    }
    const lookup = await gateway.findByIdempotencyKey(order.orderId, gatewayRef);
    if (lookup.kind !== 'found' && lookup.kind !== 'not-found') {
      return later(lookup, receiveCount);
    }
    const refunded = lookup.kind === 'found' ? lookup.amountRefunded : undefined;
    if (refunded === undefined || refunded >= order.amount) {
      return { kind: 'done', detail: 'refund stands' };
    }
    const result = await moveAsDecided(deps, order, (current) =>
      current.status === 'REFUNDED' && current.refundId === refundId
        ? refundFailedMove({ refundId, paymentId: gatewayRef })
        : undefined,
    );
    if (result.kind === 'applied') {
      deps.observer.refundFailed(result.order);
    }
    return { kind: 'done', detail: result.kind === 'applied' ? 'refund failed' : 'raced' };
  }

  /**
   * The gateway refused our refund: most often because the payment was refunded already, outside
   * autopay. One lookup tells that apart from a refund that can never be made.
   */
  async function refusedRefund(
    order: Order,
    paymentId: string,
    refusal: Refusal,
    receiveCount: number,
  ): Promise<ReconcileResult> {
    const lookup = await gateway.findByIdempotencyKey(order.orderId, order.gatewayRef);
    if (lookup.kind !== 'found' && lookup.kind !== 'not-found') {
      return later(lookup, receiveCount);
    }
    return lookup.kind === 'found' && refundedInFull(order, lookup)
      ? refundedElsewhere(order, paymentId, refusal.key)
      : refundRejected(order, paymentId, refusal);
  }

  /**
   * The money is back with the user, by a refund that is not ours: the history says so (as for a
   * foreign refund's event), then the order is REFUNDED, for it owes nothing any more. Only for
   * the refusal of the request the order is still asking under (`key`): the money a stale run
   * finds given back, its user having asked again since, may be the new request's own refund,
   * which its own run records with its id, so that a later failure of it is the order's.
   */
  async function refundedElsewhere(
    order: Order,
    paymentId: string | undefined,
    key: string,
  ): Promise<ReconcileResult> {
    const ref = paymentId === undefined ? {} : { gatewayRef: paymentId };
    const owing = (current: Order) =>
      current.status === 'REFUND_PENDING' &&
      !refundFailedAtGateway(current) &&
      refundKeyOf(current) === key;
    const noted = await moveAsDecided(deps, order, (current): Move | undefined =>
      owing(current) && !notedForeign(current)
        ? { event: 'REFUND_OBSERVED', changes: ref, errorCode: 'FOREIGN_REFUND' }
        : undefined,
    );
    const result = await moveAsDecided(deps, noted.order, (current): Move | undefined =>
      owing(current)
        ? { event: 'REFUND_SUCCEEDED', changes: { ...ref, lastError: undefined } }
        : undefined,
    );
    if (result.kind === 'applied') {
      deps.observer.foreignRefund(result.order);
      // Looked at once more a little later, as a refund of ours is: the other refund may fail
      // after it succeeded, and its events name no order of ours.
      await deps.settlementChecks.schedule(checkOf(order, 0), schedule.intervalSeconds);
    }
    return { kind: 'done', detail: result.kind === 'applied' ? 'refunded elsewhere' : 'raced' };
  }

  /**
   * A refund the gateway will never make is not sent again. A user's refund leaves the money
   * taken, so the order is PAID again; a compensation still owes the money back, so the order
   * stays REFUND_PENDING, out of the sweep's reach. Either way a person is alarmed. The refusal
   * is of the request whose key was sent: a run that read the order before its user asked again
   * (after an earlier refusal) hears the earlier key's refusal replayed, which says nothing of the
   * new request, still to be sent under a key of its own.
   */
  async function refundRejected(order: Order, paymentId: string, { key, reason }: Refusal) {
    const result = await moveAsDecided(deps, order, (current): Move | undefined => {
      if (current.status !== 'REFUND_PENDING' || refundFailedAtGateway(current)) return undefined;
      if (refundKeyOf(current) !== key) return undefined;
      const compensation = current.compensation === true;
      return {
        event: compensation ? 'COMPENSATION_REJECTED' : 'REFUND_REJECTED',
        changes: {
          lastError: 'REFUND_REJECTED',
          gatewayRef: paymentId,
          ...(compensation ? { dueAt: undefined } : {}),
        },
        errorCode: 'REFUND_REJECTED',
      };
    });
    if (result.kind === 'applied') {
      deps.observer.refundRejected(result.order, reason);
    }
    return { kind: 'done' as const, detail: `refund rejected: ${reason}` };
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

/**
 * The order's own refund failed after it succeeded: it owes the money again, held for a person,
 * out of the sweep's reach, as nothing autopay sends can pay the user back.
 */
export function refundFailedMove(failure: {
  /** The refund that failed, unless it was made outside autopay and never named to it. */
  readonly refundId: string | undefined;
  readonly paymentId: string;
  readonly failureReason?: string | undefined;
}): Move {
  return {
    event: 'REFUND_FAILED',
    changes: {
      refundId: failure.refundId,
      gatewayRef: failure.paymentId,
      lastError: REFUND_FAILED,
      refundFailure: failure.failureReason ?? 'unknown',
      dueAt: undefined,
    },
    errorCode: REFUND_FAILED,
  };
}

/** The gateway's refusal of the refund sent under `key`. */
interface Refusal {
  readonly key: string;
  readonly reason: string;
}

/** Whether the gateway says the whole payment was given back already. */
function refundedInFull(order: Order, lookup: Extract<PaymentLookup, { kind: 'found' }>): boolean {
  return lookup.outcome.kind === 'succeeded' && (lookup.amountRefunded ?? 0) >= order.amount;
}

/** The last move recorded a refund that was not ours. */
function notedForeign(order: Order): boolean {
  const last = order.history.at(-1);
  return last?.cause === 'REFUND_OBSERVED' && last.errorCode === 'FOREIGN_REFUND';
}

/**
 * One gateway refund per refund request: a request after a refused one gets a key of its own, or
 * the gateway would replay the refusal.
 */
export function refundKeyOf(order: Order): string {
  const refused = order.history.filter((entry) => entry.cause === 'REFUND_REJECTED').length;
  return refused === 0 ? `refund_${order.orderId}` : `refund_${order.orderId}_${refused + 1}`;
}

function done(result: SettleResult): ReconcileResult {
  return { kind: 'done', detail: `${result.kind} ${result.status}` };
}
