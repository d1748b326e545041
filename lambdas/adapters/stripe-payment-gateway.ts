import type Stripe from 'stripe';
import type {
  ChargeRequest,
  GatewayOutcome,
  PaymentGateway,
  PaymentLookup,
  RefundOutcome,
  RefundRequest,
  SettledOutcome,
  TransientOutcome,
  VoidOutcome,
} from '#domain/payment-ports.ts';
import { VOIDED } from '#domain/settlement.ts';
import type { SecretSource } from './secret-source.ts';

/** Who pays for an agent's orders: a Stripe customer and the payment method saved for them. */
export interface StripePayer {
  readonly customer: string;
  readonly paymentMethod: string;
}

export interface StripePaymentGatewayOptions {
  readonly name: string;
  /** Stripe's API by default; another origin (the local simulator) for tests and `npm start`. */
  readonly baseUrl?: string | undefined;
  /** Hard ceiling on one call; past it the outcome of a charge is unknown. */
  readonly timeoutMs: number;
  /** The restricted API key, from Secrets Manager. */
  readonly apiKey: SecretSource;
  /** Agent id → payer; `default` for every agent not named. */
  readonly payers: Readonly<Record<string, StripePayer>>;
}

/** The idempotency key of an order's PaymentIntent: derived from the orderId, nothing else. */
export function paymentIntentKey(orderId: string): string {
  return `autopay-pi-${orderId}`;
}

/**
 * The payment gateway on Stripe's PaymentIntents, through the official SDK. A charge creates and
 * confirms the intent off-session in one call, under a key derived from the orderId; the intent's
 * id is recorded with the order's first known outcome, and a lookup without it searches by
 * `metadata.orderId` (see docs/GATEWAY.md for why that is enough). Every answer is classified here.
 */
export class StripePaymentGateway implements PaymentGateway {
  readonly name: string;
  #client: { key: string; stripe: Stripe } | undefined;

  constructor(private readonly options: StripePaymentGatewayOptions) {
    this.name = options.name;
  }

  async charge(request: ChargeRequest): Promise<GatewayOutcome> {
    const payer = this.#payerOf(request.agentId);
    if (payer === undefined) {
      return { kind: 'misconfigured', detail: `no Stripe payer for agent ${request.agentId}` };
    }
    const stripe = await this.#stripe();
    try {
      const intent = await stripe.paymentIntents.create(
        {
          amount: request.amount,
          currency: request.currency.toLowerCase(),
          customer: payer.customer,
          payment_method: payer.paymentMethod,
          confirm: true,
          off_session: true,
          metadata: { orderId: request.idempotencyKey },
        },
        { idempotencyKey: paymentIntentKey(request.idempotencyKey) },
      );
      return outcomeOfIntent(intent);
    } catch (error) {
      return classifyError(error, 'POST');
    }
  }

  async findByIdempotencyKey(idempotencyKey: string, paymentId?: string): Promise<PaymentLookup> {
    const stripe = await this.#stripe();
    try {
      const intent =
        paymentId === undefined
          ? (
              await stripe.paymentIntents.search({
                query: `metadata['orderId']:'${idempotencyKey}'`,
                limit: 1,
              })
            ).data[0]
          : await stripe.paymentIntents.retrieve(paymentId, { expand: ['latest_charge'] });
      if (intent === undefined) return { kind: 'not-found' };
      const outcome = outcomeOfIntent(intent);
      if (outcome.kind === 'action-required' || outcome.kind === 'misconfigured') {
        // Waiting for the payer holds no money: a resubmission under the same key replays it.
        return { kind: 'not-found' };
      }
      if (!isSettled(outcome)) return outcome;
      const refunded = amountRefunded(intent);
      return refunded === undefined
        ? { kind: 'found', outcome }
        : { kind: 'found', outcome, amountRefunded: refunded };
    } catch (error) {
      return lookupFailure(classifyError(error, 'GET'));
    }
  }

  async void(paymentId: string): Promise<VoidOutcome> {
    const stripe = await this.#stripe();
    try {
      const intent = await stripe.paymentIntents.cancel(paymentId);
      return intent.status === 'canceled'
        ? { kind: 'voided' }
        : { kind: 'unknown', detail: `cancel left ${intent.status}` };
    } catch (error) {
      if (!isUnexpectedState(error)) return lookupFailure(classifyError(error, 'POST'));
    }
    // Stripe refuses to cancel an intent that succeeded or is processing: read which.
    try {
      const intent = await stripe.paymentIntents.retrieve(paymentId);
      if (intent.status === 'canceled') return { kind: 'voided' };
      const outcome = outcomeOfIntent(intent);
      return outcome.kind === 'succeeded' || outcome.kind === 'declined'
        ? { kind: 'settled', outcome }
        : { kind: 'unknown', detail: `cancel refused while ${intent.status}` };
    } catch (error) {
      return lookupFailure(classifyError(error, 'GET'));
    }
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    const stripe = await this.#stripe();
    let refund: Stripe.Refund;
    let accepted = false;
    try {
      refund = await stripe.refunds.create(
        {
          payment_intent: request.paymentId,
          amount: request.amount,
          ...(request.orderId === undefined ? {} : { metadata: { orderId: request.orderId } }),
        },
        { idempotencyKey: request.idempotencyKey },
      );
      accepted = isUnderWay(refund);
      if (accepted) {
        // A replay answers the refund as it first was: read how it stands now.
        refund = await stripe.refunds.retrieve(refund.id);
      }
    } catch (error) {
      if (
        isStripeError(error) &&
        isOfType(error, 'StripeInvalidRequestError') &&
        isRefusal(error.code)
      ) {
        return this.#refusal(stripe, request, error.code ?? 'refused');
      }
      const outcome = classifyError(error, 'POST');
      if (outcome.kind === 'unknown') return this.#unknown(stripe, request, outcome);
      return isTransient(outcome) ? outcome : { kind: 'unavailable', detail: outcome.kind };
    }
    return outcomeOfRefund(refund, accepted);
  }

  /**
   * A refund request answered so that whether it made the refund is unknown (a 500, a lost
   * connection). Stripe saves a 500 under the key and replays it to every retry until it prunes
   * the key, at least 24 hours later, while the refund the request may have made is already at
   * the bank. The payment's refunds are read: the order's own, under way or succeeded, is the
   * outcome; otherwise it stays unknown.
   */
  async #unknown(
    stripe: Stripe,
    request: RefundRequest,
    unknown: TransientOutcome,
  ): Promise<RefundOutcome> {
    const own = await this.#ownRefund(stripe, request);
    return own === undefined || !('id' in own) ? unknown : outcomeOfRefund(own, true);
  }

  /**
   * A refusal because the money is given back or on its way may be our own refund's: Stripe
   * keeps a key's answer for 24 hours at least, a refund may stay pending for longer, and past
   * the key's window the same key asks for a second refund, which the first one's hold refuses.
   * The payment's refunds are read: one of the order's own (`metadata.orderId`) that is under
   * way or succeeded is the outcome; otherwise the refusal stands.
   */
  async #refusal(stripe: Stripe, request: RefundRequest, reason: string): Promise<RefundOutcome> {
    const own = await this.#ownRefund(stripe, request);
    if (own === undefined) return { kind: 'rejected', reason };
    return 'id' in own ? outcomeOfRefund(own, true) : own;
  }

  /**
   * The payment's refund that carries the order's `metadata.orderId` and is under way or
   * succeeded (one page of 100, newest first: a payment has a handful at most), or what kept the
   * read from answering. A failed one is not taken: it may be an earlier request's, refused at
   * its creation, after which the order's refund is asked again under a key of its own.
   */
  async #ownRefund(
    stripe: Stripe,
    request: RefundRequest,
  ): Promise<Stripe.Refund | TransientOutcome | undefined> {
    if (request.orderId === undefined) return undefined;
    let refunds: Stripe.Refund[];
    try {
      refunds = (await stripe.refunds.list({ payment_intent: request.paymentId, limit: 100 })).data;
    } catch (error) {
      return lookupFailure(classifyError(error, 'GET'));
    }
    return refunds.find(
      (refund) =>
        refund.metadata?.orderId === request.orderId &&
        (isUnderWay(refund) || refund.status === 'succeeded'),
    );
  }

  refreshCredentials(): Promise<void> {
    return this.options.apiKey.refresh();
  }

  #payerOf(agentId: string | undefined): StripePayer | undefined {
    return (
      (agentId === undefined ? undefined : this.options.payers[agentId]) ??
      this.options.payers.default
    );
  }

  /** One client per API key: a rotated key makes a new client, the old one is dropped. */
  async #stripe(): Promise<Stripe> {
    const key = await this.options.apiKey.get();
    if (this.#client?.key !== key) {
      // Loaded here, not at the top: only a stage paying through Stripe carries its SDK.
      const { default: Stripe } = await import('stripe');
      const stripe = new Stripe(key, {
        // Retries are the queue's, with backoff and the lookup first; a call is one request.
        maxNetworkRetries: 0,
        timeout: this.options.timeoutMs,
        telemetry: false,
        ...stripeHostOptions(this.options.baseUrl),
      });
      this.#client = { key, stripe };
    }
    return this.#client.stripe;
  }
}

/** The SDK's `host`, `port` and `protocol` for a base URL other than Stripe's own. */
export function stripeHostOptions(baseUrl: string | undefined) {
  if (baseUrl === undefined) return {};
  const base = new URL(baseUrl);
  const https = base.protocol === 'https:';
  return {
    host: base.hostname,
    port: Number(base.port || (https ? 443 : 80)),
    protocol: https ? ('https' as const) : ('http' as const),
  };
}

/**
 * Stripe's answer that the money cannot be refunded, which no retry changes: `amount_too_large`
 * is a refund of more than is left, after a part was refunded elsewhere (the dashboard).
 */
function isRefusal(code: string | undefined): boolean {
  return (
    code === 'charge_already_refunded' || code === 'charge_disputed' || code === 'amount_too_large'
  );
}

/**
 * The SDK's error classes, told apart by the `type` each sets to its own name (StripeCardError,
 * StripeInvalidRequestError, …), so that reading an error needs no SDK loaded.
 */
type StripeErrorType =
  | 'StripeCardError'
  | 'StripeInvalidRequestError'
  | 'StripeIdempotencyError'
  | 'StripePermissionError'
  | 'StripeAuthenticationError'
  | 'StripeRateLimitError'
  | 'StripeConnectionError'
  | 'StripeAPIError';

function isStripeError(error: unknown): error is Stripe.errors.StripeError {
  const type = (error as { type?: unknown } | null)?.type;
  return error instanceof Error && typeof type === 'string' && type.startsWith('Stripe');
}

function isOfType(error: Stripe.errors.StripeError, ...types: StripeErrorType[]): boolean {
  return (types as string[]).includes(error.type);
}

function isUnexpectedState(error: unknown): boolean {
  return (
    isStripeError(error) &&
    isOfType(error, 'StripeInvalidRequestError') &&
    error.code === 'payment_intent_unexpected_state'
  );
}

function isSettled(outcome: GatewayOutcome): outcome is SettledOutcome {
  return outcome.kind === 'succeeded' || outcome.kind === 'pending' || outcome.kind === 'declined';
}

function isTransient(outcome: GatewayOutcome): outcome is TransientOutcome {
  return !isSettled(outcome) && outcome.kind !== 'action-required';
}

/** A lookup changes nothing: whatever it could not learn is merely unavailable. */
function lookupFailure(outcome: GatewayOutcome): TransientOutcome {
  switch (outcome.kind) {
    case 'unauthorized':
    case 'throttled':
    case 'unavailable':
    case 'misconfigured':
      return outcome;
    default:
      return { kind: 'unavailable', detail: outcome.kind };
  }
}

function amountRefunded(intent: Stripe.PaymentIntent): number | undefined {
  const charge = intent.latest_charge;
  return typeof charge === 'object' && charge !== null ? charge.amount_refunded : undefined;
}

/** A refund Stripe took and has not finished: at the bank, or waiting for the customer. */
function isUnderWay(refund: Stripe.Refund): boolean {
  return refund.status === 'pending' || refund.status === 'requires_action';
}

/**
 * A Refund's status, read as the domain's outcome. `accepted`: its creation answered it under
 * way (`pending`, `requires_action`), and this is how it stands since. A refund answered `failed`
 * by its creation was refused. One that was accepted and has since `failed`, or been `canceled`
 * (only a refund in `requires_action` can be, by the merchant or when the customer never gives
 * the details it needs: Stripe then sets `failure_reason`, e.g. `merchant_request`, and returns
 * the money to the balance), failed after acceptance: it is the refund under the order's key for
 * good, and the money did not reach the user, so the order is held for a person.
 */
export function outcomeOfRefund(refund: Stripe.Refund, accepted: boolean): RefundOutcome {
  const reason = refund.failure_reason ?? refund.status ?? 'unknown';
  switch (refund.status) {
    case 'succeeded':
      return { kind: 'refunded', refundId: refund.id };
    case 'failed':
    case 'canceled':
      return accepted
        ? { kind: 'failed', refundId: refund.id, reason }
        : { kind: 'rejected', reason };
    default:
      // Pending at the bank: asked again later under the same key, it reads the refund afresh.
      return { kind: 'unavailable', detail: `refund ${refund.id} ${refund.status}` };
  }
}

/** A PaymentIntent's status, read as the domain's outcome. */
export function outcomeOfIntent(intent: Stripe.PaymentIntent): GatewayOutcome {
  switch (intent.status) {
    case 'succeeded':
      return { kind: 'succeeded', paymentId: intent.id };
    case 'processing':
    case 'requires_capture':
      return { kind: 'pending', paymentId: intent.id };
    case 'requires_action':
      return { kind: 'action-required', intentId: intent.id, reason: 'authentication_required' };
    case 'canceled':
      // Only autopay cancels its intents (the void): read as the simulator's VOIDED payments are.
      return { kind: 'declined', paymentId: intent.id, declineCode: VOIDED };
    case 'requires_payment_method': {
      const error = intent.last_payment_error;
      if (error?.code === 'authentication_required') {
        return { kind: 'action-required', intentId: intent.id, reason: error.code };
      }
      return error
        ? { kind: 'declined', paymentId: intent.id, declineCode: declineCodeOf(error) }
        : { kind: 'unknown', detail: 'intent requires a payment method' };
    }
    default:
      // requires_confirmation: the confirmation never ran, so nothing is known of the money.
      return { kind: 'unknown', detail: `intent ${intent.status}` };
  }
}

function declineCodeOf(error: { decline_code?: string; code?: string }): string {
  return error.decline_code || error.code || 'card_declined';
}

/** Stripe's errors (docs.stripe.com/api/errors), as the SDK raises them, read as outcomes. */
function classifyError(error: unknown, method: 'GET' | 'POST'): GatewayOutcome {
  if (!isStripeError(error)) {
    return { kind: 'unknown', detail: 'unexpected error' };
  }
  if (isOfType(error, 'StripeConnectionError')) {
    // A POST whose answer never came may have charged; a GET has no effect either way.
    return method === 'POST'
      ? { kind: 'unknown', detail: 'connection lost' }
      : { kind: 'unavailable', detail: 'connection lost' };
  }
  if (isOfType(error, 'StripeCardError')) {
    const intentId = error.payment_intent?.id;
    if (error.code === 'authentication_required' && intentId !== undefined) {
      return { kind: 'action-required', intentId, reason: error.code };
    }
    return {
      kind: 'declined',
      ...(intentId === undefined ? {} : { paymentId: intentId }),
      declineCode: declineCodeOf(error),
    };
  }
  const status = error.statusCode ?? 0;
  if (isOfType(error, 'StripeAuthenticationError')) return { kind: 'unauthorized' };
  if (isOfType(error, 'StripeRateLimitError') || status === 429) {
    return { kind: 'throttled', retryAfterSeconds: retryAfter(error) };
  }
  if (status === 409) {
    // Another request with the same key is still running (idempotency_key_in_use).
    return { kind: 'unavailable', detail: `stripe 409 ${error.code ?? ''}`.trim() };
  }
  if (
    isOfType(error, 'StripeInvalidRequestError', 'StripeIdempotencyError', 'StripePermissionError')
  ) {
    return { kind: 'misconfigured', detail: `${error.rawType ?? error.type} ${error.code ?? ''}` };
  }
  // api_error, 5xx: Stripe may have started the work; only a lookup can tell.
  return method === 'POST'
    ? { kind: 'unknown', detail: `stripe ${status}` }
    : { kind: 'unavailable', detail: `stripe ${status}` };
}

function retryAfter(error: Stripe.errors.StripeError): number {
  const value = (error.headers as Record<string, string> | undefined)?.['retry-after'];
  const seconds = Number(value);
  return Number.isFinite(seconds) && value !== undefined ? Math.max(0, Math.ceil(seconds)) : 1;
}
