import type { Money, PaymentMethod } from './order.ts';

/** What autopay asks the gateway to charge; the idempotency key is always the orderId. */
export interface ChargeRequest extends Money {
  readonly idempotencyKey: string;
  readonly paymentMethod: PaymentMethod;
  /** Whose agent pays: a gateway that keeps payers (Stripe's customers) charges its payer. */
  readonly agentId?: string;
}

/**
 * Every answer a gateway call can have, classified once in the adapter. Only `succeeded`,
 * `pending` and `declined` say what happened to the money; `unknown` means the request may have
 * reached the gateway and nobody knows, so the gateway must be asked before anything is resent.
 */
export type GatewayOutcome =
  | { readonly kind: 'succeeded'; readonly paymentId: string }
  | { readonly kind: 'pending'; readonly paymentId: string }
  | { readonly kind: 'declined'; readonly paymentId?: string; readonly declineCode: string }
  /** Nothing is taken until the user acts (authenticates the card): the order waits for them. */
  | { readonly kind: 'action-required'; readonly intentId: string; readonly reason: string }
  | { readonly kind: 'unauthorized' }
  /**
   * The gateway refused the request itself (a bad parameter, a missing permission): autopay's
   * configuration is wrong, not the payer's card; retried, and an alarm goes off.
   */
  | { readonly kind: 'misconfigured'; readonly detail: string }
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number }
  | { readonly kind: 'unavailable'; readonly detail: string }
  | { readonly kind: 'unknown'; readonly detail: string };

export type TransientOutcome = Extract<
  GatewayOutcome,
  { kind: 'unauthorized' | 'throttled' | 'unavailable' | 'unknown' | 'misconfigured' }
>;

/** The gateway's record of a payment made under an idempotency key, if it has one. */
export type PaymentLookup =
  | {
      readonly kind: 'found';
      readonly outcome: SettledOutcome;
      /** How much of the payment has been refunded, by anyone; absent if the gateway won't say. */
      readonly amountRefunded?: number | undefined;
    }
  | { readonly kind: 'not-found' }
  | TransientOutcome;

export type SettledOutcome = Extract<
  GatewayOutcome,
  { kind: 'succeeded' | 'pending' | 'declined' }
>;

/** What voiding a payment that never settled came to. */
export type VoidOutcome =
  | { readonly kind: 'voided' }
  /** Too late: the payment settled first; here is how. */
  | { readonly kind: 'settled'; readonly outcome: SettledOutcome }
  | TransientOutcome;

export interface RefundRequest extends Money {
  readonly paymentId: string;
  readonly idempotencyKey: string;
  /** Whose refund it is, for a gateway that labels refunds (Stripe's `metadata.orderId`). */
  readonly orderId?: string;
}

export type RefundOutcome =
  | { readonly kind: 'refunded'; readonly refundId: string }
  /**
   * The refund was made and has failed since (a closed card): the money is back with the
   * merchant, and no refund sent again under the key can change that.
   */
  | { readonly kind: 'failed'; readonly refundId: string; readonly reason: string }
  /**
   * The gateway said, explicitly, that it will never do it (not refundable, nothing left of
   * it); an answer it did not explain is transient.
   */
  | { readonly kind: 'rejected'; readonly reason: string }
  | TransientOutcome;

export interface PaymentGateway {
  /** The gateway's name, as in `/v1/callbacks/{gateway}` and the circuit breaker's key. */
  readonly name: string;
  charge(request: ChargeRequest): Promise<GatewayOutcome>;
  /**
   * The payment made under the key. `paymentId`, when the order has recorded one, lets a gateway
   * whose search is only eventually consistent (Stripe's) read the payment itself instead.
   * A payment that holds no money and waits for the payer (an authentication) is `not-found`.
   */
  findByIdempotencyKey(idempotencyKey: string, paymentId?: string): Promise<PaymentLookup>;
  void(paymentId: string): Promise<VoidOutcome>;
  refund(request: RefundRequest): Promise<RefundOutcome>;
  /** Drops the cached API key so the next call fetches the current one (after a 401). */
  refreshCredentials(): Promise<void>;
}

export type RiskLevel = 'pass' | 'review' | 'reject';

export interface RiskRequest extends Money {
  readonly orderId: string;
  readonly agentId: string;
  readonly paymentMethod: PaymentMethod;
  /** The agent's address when it placed the order, if intake saw one. */
  readonly clientIp?: string | undefined;
  /** When the agent placed the order (ISO time): the operation the engine judges. */
  readonly placedAt: string;
}

/**
 * One answer of the risk engine: a level, or an error. A retryable error may pass (the engine
 * failed, throttled us or did not answer); a refused request will not, since the engine judged
 * the request itself: our credentials (`AuthFailure.*`), our parameters or our account.
 */
export type RiskAnswer =
  | { readonly kind: 'assessed'; readonly level: RiskLevel; readonly requestId: string }
  | {
      readonly kind: 'error';
      readonly code: string;
      readonly requestId?: string | undefined;
      readonly retryable: boolean;
    };

export interface RiskEngine {
  assess(request: RiskRequest): Promise<RiskAnswer>;
}

/** The circuit breaker's shared state, as every instance sees it. */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSnapshot {
  readonly state: BreakerState;
  /** When the breaker last opened (ms since the epoch); 0 if never. */
  readonly openedAt: number;
  /** Until when the current half-open probe holds its lease (ms since the epoch). */
  readonly probeUntil: number;
  /** Bumped each time the breaker opens, so counts from before it never trip it again. */
  readonly epoch: number;
  readonly windowId: number;
  readonly windowSuccesses: number;
  readonly windowFailures: number;
}

/** Shared storage for a breaker: every write is conditional, so instances never race it wrong. */
export interface BreakerStore {
  /** The state, and the counts of `windowId` if `epochHint` is still the current epoch. */
  read(gateway: string, windowId: number, epochHint: number): Promise<BreakerSnapshot>;
  /** Adds outcomes to a window and answers the window's totals after the addition. */
  count(
    gateway: string,
    epoch: number,
    windowId: number,
    successes: number,
    failures: number,
  ): Promise<{ successes: number; failures: number }>;
  /** Opens the breaker if it is still in `from` (and, for `open`, still opened at `openedAt`). */
  open(
    gateway: string,
    from: BreakerState,
    at: number,
    expectedOpenedAt?: number,
  ): Promise<boolean>;
  /** Takes the single half-open probe lease, if nobody holds it. */
  acquireProbe(
    gateway: string,
    now: number,
    leaseUntil: number,
    openedAt: number,
  ): Promise<boolean>;
  close(gateway: string): Promise<boolean>;
}
