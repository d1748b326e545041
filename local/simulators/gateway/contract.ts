/** What the gateway's API sends and answers (docs/GATEWAY.md describes it for autopay's adapter). */

export type PaymentStatus = 'SUCCESS' | 'PENDING' | 'FAILED' | 'VOIDED';
export type PaymentMethod = 'wallet' | 'card';

export interface GatewayPayment {
  id: string;
  idempotencyKey: string;
  status: PaymentStatus;
  amount: number;
  currency: string;
  paymentMethod: PaymentMethod;
  reference?: string;
  declineCode?: string;
  created: number;
  amountRefunded: number;
  amountVoided: number;
}

export interface GatewayRefund {
  id: string;
  paymentId: string;
  idempotencyKey: string;
  amount: number;
  currency: string;
  /**
   * `PENDING` only for a refund made through the Stripe API with the `refund_pending` (or
   * `refund_pending_fails`) fault; `FAILED` for one that succeeded and then failed (the
   * `refundFailRate` fault), or that failed while pending (`refund_pending_fails`).
   */
  status: 'SUCCEEDED' | 'PENDING' | 'FAILED';
  created: number;
  /** Why it failed, as Stripe's `failure_reason` says. */
  failureReason?: string;
}

export type GatewayEventType =
  | 'payment.pending'
  | 'payment.succeeded'
  | 'payment.failed'
  | 'refund.succeeded'
  | 'refund.failed';

export interface GatewayEvent {
  id: string;
  type: GatewayEventType;
  created: number;
  data: {
    paymentId: string;
    idempotencyKey: string;
    amount: number;
    currency: string;
    declineCode?: string;
    refundId?: string;
    failureReason?: string;
  };
}

/** What one Idempotency-Key led to; `payments` above 1 would mean a double charge. */
export interface ChargeSummary {
  payments: number;
  captured: number;
  refunded: number;
  voided: boolean;
  /** Null while the key has been seen on a valid create request but charged nothing. */
  status: PaymentStatus | null;
}

export interface Ledger {
  payments: GatewayPayment[];
  refunds: GatewayRefund[];
  charges: Record<string, ChargeSummary>;
  requests: { total: number; byRoute: Record<string, number> };
  /** Callback POSTs made, retries and duplicates included. */
  callbacksSent: number;
  /** Payments captured after a void answered `VOIDED` (the `lateSuccessRate` fault). */
  lateSuccesses: number;
  /** Of those, captured `slowLateSuccessAfterMs` after the void (`slowLateSuccessRate`). */
  slowLateSuccesses: number;
  /** Of those, captured with no `payment.succeeded` sent (`lateSuccessCallbackLostRate`). */
  lateSuccessCallbacksLost: number;
  /** `refund.succeeded` events sent for refunds the gateway never made (`strayRefundRate`). */
  strayRefundEvents: number;
  /** Refunds that succeeded and failed afterwards, their money back (`refundFailRate`). */
  failedRefunds: number;
  /** Refunds made `pending` through the Stripe API that failed before they succeeded. */
  pendingRefundsFailed: number;
  /** Refund requests through the Stripe API answered a 500 saved under their key. */
  refundSavedErrors: number;
  /** Of `refundSavedErrors`, those whose 500 came before any refund was made. */
  refundSavedErrorsUnmade: number;
  /** API keys: valid ones, and those revoked since the start (or the last reset). */
  keys: { active: number; revoked: number };
}

/** A valid API key as `GET /v1/keys` lists it: never its secret. */
export interface GatewayApiKey {
  id: string;
  /** The first 16 hex digits of SHA-256(secret): safe to log and compare. */
  fingerprint: string;
  created: number;
  active: true;
}

/** What `POST /v1/keys` answers, the only time a key's secret is shown. */
export interface GatewayNewApiKey {
  id: string;
  secret: string;
  fingerprint: string;
  created: number;
}

/** A registered webhook signing secret as the API shows it: never its value. */
export interface GatewayWebhookSecret {
  id: string;
  fingerprint: string;
  created: number;
}
