/** What the Stripe face of the simulator keeps beside the shared ledger (stripe-api.ts). */

export interface StripeIntentRecord {
  customer: string | null;
  paymentMethod: string | null;
  metadata: Record<string, string>;
  /** Set once a confirmation failed: Stripe's `last_payment_error`. */
  lastPaymentError?: { type: string; code: string; decline_code?: string; message: string };
  /** A failed intent cancelled afterwards: the ledger keeps it FAILED (no money), Stripe shows it canceled. */
  canceled: boolean;
  canceledAt: number | null;
  chargeId: string | null;
}

export interface StripeRefundRecord {
  metadata: Record<string, string>;
  /** Whether it was `pending` before it succeeded: its success is a `refund.updated`. */
  wasPending: boolean;
}

/**
 * Stripe saves the status and body of the first request under a key, a 500 included, until it
 * prunes the key (`idempotencyKeyWindowMs` after `savedAt`).
 */
export interface SavedResponse {
  readonly route: string;
  readonly params: string;
  readonly status: number;
  readonly body: unknown;
  /** When it was saved, in milliseconds since the epoch. */
  readonly savedAt: number;
}

export class StripeRecords {
  readonly intents = new Map<string, StripeIntentRecord>();
  readonly refunds = new Map<string, StripeRefundRecord>();
  readonly responses = new Map<string, SavedResponse>();

  clear(): void {
    this.intents.clear();
    this.refunds.clear();
    this.responses.clear();
  }
}
