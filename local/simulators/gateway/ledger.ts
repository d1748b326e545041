import { randomBytes } from 'node:crypto';
import type {
  ChargeSummary,
  GatewayEvent,
  GatewayPayment,
  GatewayRefund,
  Ledger,
} from './contract.ts';
import { StripeRecords } from './stripe-records.ts';

/**
 * What each Idempotency-Key led to, counted from the payments themselves, so a double charge
 * would show, not be hidden. Keys that led to no payment count too.
 */
export function chargeSummaries(
  keysSeen: Iterable<string>,
  payments: readonly GatewayPayment[],
): Record<string, ChargeSummary> {
  const charges: Record<string, ChargeSummary> = {};
  const empty = (): ChargeSummary => ({
    payments: 0,
    captured: 0,
    refunded: 0,
    voided: false,
    status: null,
  });
  for (const key of keysSeen) charges[key] = empty();
  for (const payment of payments) {
    const charge = charges[payment.idempotencyKey] ?? empty();
    charge.payments += 1;
    charge.captured += payment.status === 'SUCCESS' ? payment.amount : 0;
    charge.refunded += payment.amountRefunded;
    charge.voided ||= payment.status === 'VOIDED';
    charge.status = payment.status;
    charges[payment.idempotencyKey] = charge;
  }
  return charges;
}

/** A fresh id for a payment, refund, key or secret: `<prefix>_<24 hex digits>`. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

/** Everything the gateway did since it started or was last reset. */
export class GatewayBook {
  readonly payments = new Map<string, GatewayPayment>();
  readonly paymentsByKey = new Map<string, GatewayPayment>();
  readonly refundsByKey = new Map<string, GatewayRefund>();
  readonly keysSeen = new Set<string>();
  /** `payment.pending` events held back, to be sent after the event that settles the payment. */
  readonly heldPendingEvents = new Map<string, GatewayEvent>();
  /** What Stripe's API shows of the payments and refunds made through it (stripe-api.ts). */
  readonly stripe = new StripeRecords();
  requests = { total: 0, byRoute: {} as Record<string, number> };
  callbacksSent = 0;
  lateSuccesses = 0;
  slowLateSuccesses = 0;
  lateSuccessCallbacksLost = 0;
  strayRefundEvents = 0;
  failedRefunds = 0;
  pendingRefundsFailed = 0;
  refundSavedErrors = 0;
  refundSavedErrorsUnmade = 0;

  clear(): void {
    this.payments.clear();
    this.paymentsByKey.clear();
    this.refundsByKey.clear();
    this.keysSeen.clear();
    this.heldPendingEvents.clear();
    this.stripe.clear();
    this.requests = { total: 0, byRoute: {} };
    this.callbacksSent = 0;
    this.lateSuccesses = 0;
    this.slowLateSuccesses = 0;
    this.lateSuccessCallbacksLost = 0;
    this.strayRefundEvents = 0;
    this.failedRefunds = 0;
    this.pendingRefundsFailed = 0;
    this.refundSavedErrors = 0;
    this.refundSavedErrorsUnmade = 0;
  }

  count(routeName: string): void {
    this.requests.total += 1;
    this.requests.byRoute[routeName] = (this.requests.byRoute[routeName] ?? 0) + 1;
  }

  /** A copy: the caller may keep it while the gateway carries on. */
  ledger(keys: Ledger['keys']): Ledger {
    const payments = [...this.payments.values()];
    return structuredClone({
      payments,
      refunds: [...this.refundsByKey.values()],
      charges: chargeSummaries(this.keysSeen, payments),
      requests: this.requests,
      callbacksSent: this.callbacksSent,
      lateSuccesses: this.lateSuccesses,
      slowLateSuccesses: this.slowLateSuccesses,
      lateSuccessCallbacksLost: this.lateSuccessCallbacksLost,
      strayRefundEvents: this.strayRefundEvents,
      failedRefunds: this.failedRefunds,
      pendingRefundsFailed: this.pendingRefundsFailed,
      refundSavedErrors: this.refundSavedErrors,
      refundSavedErrorsUnmade: this.refundSavedErrorsUnmade,
      keys,
    });
  }
}
