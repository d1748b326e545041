import { randomBytes } from 'node:crypto';
import type { ChargeSummary, GatewayPayment } from './contract.ts';

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
