/**
 * The subset of Stripe's API (docs.stripe.com/api) that autopay's Stripe adapter calls, over the
 * simulator's ledger and faults: PaymentIntents created and confirmed off-session, retrieved,
 * searched by metadata and cancelled; refunds created and retrieved; and Stripe's events.
 * Form-encoded requests, Stripe's JSON shapes and error envelope, Idempotency-Key replays.
 */
import { createHash } from 'node:crypto';
import { isRecord, unixNow } from '../faults.ts';
import {
  type Answer,
  type GatewayWork,
  type Operation,
  ok,
  type RequestContext,
  type Route,
  route,
} from './api.ts';
import { gatewayEvent, type WireEvent } from './callbacks.ts';
import type { GatewayEvent, GatewayPayment, GatewayRefund } from './contract.ts';
import type { ChargePlan, Decision } from './fault-drawing.ts';
import { newId } from './ledger.ts';
import type { PaymentsApi } from './payments.ts';
import { failLater, REFUND_FAILURE_REASON } from './refunds.ts';
import type { StripeIntentRecord } from './stripe-records.ts';

/** The API version the simulator's objects follow: the one stripe-node 23.1 pins. */
export const stripeApiVersion = '2026-10-28.endive';

/** Stripe's test card that asks for authentication, which an off-session charge cannot give. */
export const authenticationRequiredCard = 'pm_card_authenticationRequired';

type Params = Readonly<Record<string, string>>;
type Sent = Exclude<Answer, 'hang'>;

/** What a request did: its answer, and whether that answer is lost on the way (a timeout). */
interface Ran {
  readonly answer: Sent;
  readonly lost: boolean;
}

/** Stripe's error envelope: `{"error": {"type", "code", "message", …}}`. */
function stripeError(
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
): Sent {
  return { status, body: { error: { type, message, ...extra } } };
}

function invalid(message: string, code?: string, param?: string): Sent {
  return stripeError(400, 'invalid_request_error', message, {
    ...(code ? { code } : {}),
    ...(param ? { param } : {}),
  });
}

function noSuch(kind: string, id: string): Sent {
  return stripeError(404, 'invalid_request_error', `No such ${kind}: '${id}'`, {
    code: 'resource_missing',
  });
}

/** `metadata[orderId]=…` → `{ orderId: … }`. */
function metadataOf(params: Params): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    const found = /^metadata\[(.+)\]$/.exec(key);
    if (found?.[1]) metadata[found[1]] = value;
  }
  return metadata;
}

/** The order a PaymentIntent is created for: its `metadata[orderId]`, as autopay sends it. */
export function stripeOrderKey(body: unknown): string | undefined {
  return isRecord(body) ? metadataOf(body as Params).orderId : undefined;
}

function expands(params: Params, field: string): boolean {
  return Object.entries(params).some(
    ([key, value]) => key.startsWith('expand[') && value === field,
  );
}

function truthy(value: string | undefined): boolean {
  return value === 'true';
}

/** Form bodies and query strings alike, flattened as stripe-node encodes them. */
export function formParams(text: string | undefined): Params {
  return Object.fromEntries(new URLSearchParams(text ?? ''));
}

export class StripeApi {
  readonly #work: GatewayWork;
  readonly #payments: PaymentsApi;

  constructor(work: GatewayWork, payments: PaymentsApi) {
    this.#work = work;
    this.#payments = payments;
  }

  routes(): Route[] {
    return [
      route('POST', '/v1/payment_intents', 'create', (c) => this.#prepareCreate(c)),
      route('GET', '/v1/payment_intents/search', 'lookup', (c) => this.#prepareSearch(c)),
      route('GET', '/v1/payment_intents/{id}', 'lookup', (c) => () => this.#retrieve(c)),
      route('POST', '/v1/payment_intents/{id}/cancel', 'void', (c) => (d) => this.#cancel(c, d)),
      route('POST', '/v1/refunds', 'refund', (c) => this.#prepareRefund(c)),
      route('GET', '/v1/refunds', 'lookup', (c) => () => this.#listRefunds(c)),
      route('GET', '/v1/refunds/{id}', 'lookup', (c) => () => this.#retrieveRefund(c.pathId)),
    ];
  }

  // -- PaymentIntents ------------------------------------------------------------------------

  #prepareCreate(context: RequestContext): Answer | Operation {
    const params = context.body as Params;
    const amount = Number(params.amount);
    if (!Number.isSafeInteger(amount) || amount <= 0) {
      return invalid(
        'This value must be greater than or equal to 1.',
        'parameter_invalid_integer',
        'amount',
      );
    }
    const currency = params.currency ?? '';
    if (!/^[a-z]{3}$/.test(currency)) {
      return invalid(`Invalid currency: ${currency}.`, 'parameter_invalid_string', 'currency');
    }
    if (!truthy(params.confirm) || !truthy(params.off_session)) {
      return invalid(
        'This simulator only creates PaymentIntents with confirm=true and off_session=true.',
      );
    }
    if (!params.customer?.startsWith('cus_')) {
      return invalid(
        `No such customer: '${params.customer ?? ''}'`,
        'resource_missing',
        'customer',
      );
    }
    if (!params.payment_method) {
      return invalid(
        'You must provide a payment_method to confirm off-session.',
        'parameter_missing',
        'payment_method',
      );
    }
    if (!params.payment_method.startsWith('pm_')) {
      return invalid(
        `No such PaymentMethod: '${params.payment_method}'`,
        'resource_missing',
        'payment_method',
      );
    }
    const metadata = metadataOf(params);
    const key = idempotencyKeyOf(context);
    return (decision) =>
      this.#idempotent(key, 'POST /v1/payment_intents', params, () =>
        this.#create({ amount, currency, params, metadata, key }, decision.charge),
      );
  }

  #create(
    request: {
      amount: number;
      currency: string;
      params: Params;
      metadata: Record<string, string>;
      key: string | undefined;
    },
    plan: ChargePlan,
  ): Ran {
    const orderKey = request.metadata.orderId ?? request.key ?? newId('pi_key');
    this.#work.book.keysSeen.add(orderKey);
    const needsAuthentication = request.params.payment_method === authenticationRequiredCard;
    const charge: ChargePlan = needsAuthentication
      ? { ...plan, status: 'FAILED', declineCode: 'authentication_required' }
      : plan;
    const payment: GatewayPayment = {
      id: newId('pi'),
      idempotencyKey: orderKey,
      status: charge.status,
      amount: request.amount,
      currency: request.currency.toUpperCase(),
      paymentMethod: 'card',
      reference: orderKey,
      ...(charge.declineCode === undefined ? {} : { declineCode: charge.declineCode }),
      created: unixNow(),
      amountRefunded: 0,
      amountVoided: 0,
    };
    const record: StripeIntentRecord = {
      customer: request.params.customer ?? null,
      paymentMethod: request.params.payment_method ?? null,
      metadata: request.metadata,
      canceled: false,
      canceledAt: null,
      chargeId: newId('ch'),
    };
    if (charge.status === 'FAILED') {
      const code = needsAuthentication ? 'authentication_required' : 'card_declined';
      record.lastPaymentError = {
        type: 'card_error',
        code,
        ...(needsAuthentication ? {} : { decline_code: charge.declineCode ?? 'generic_decline' }),
        message: needsAuthentication
          ? 'Your card was declined. This transaction requires authentication.'
          : 'Your card was declined.',
      };
    }
    this.#work.book.stripe.intents.set(payment.id, record);
    this.#payments.open(payment, charge);
    const intent = this.intentOf(payment);
    const answer: Sent =
      record.lastPaymentError === undefined
        ? { status: 200, body: intent }
        : stripeError(402, 'card_error', record.lastPaymentError.message, {
            code: record.lastPaymentError.code,
            ...(record.lastPaymentError.decline_code
              ? { decline_code: record.lastPaymentError.decline_code }
              : {}),
            payment_intent: intent,
          });
    return { answer, lost: charge.timeout };
  }

  #prepareSearch({ url }: RequestContext): Answer | Operation {
    const query = url.searchParams.get('query') ?? '';
    const found = /^metadata\['([^']+)'\]:'([^']*)'$/.exec(query.trim());
    if (!found) {
      return invalid(`This simulator searches by metadata['<key>']:'<value>' only, not ${query}.`);
    }
    const [, field = '', value = ''] = found;
    return () => {
      const data = [...this.#work.book.payments.values()]
        .filter(
          (payment) => this.#work.book.stripe.intents.get(payment.id)?.metadata[field] === value,
        )
        .map((payment) => this.intentOf(payment));
      return ok({
        object: 'search_result',
        url: '/v1/payment_intents/search',
        has_more: false,
        next_page: null,
        data,
      });
    };
  }

  #retrieve({ pathId, url }: RequestContext): Answer {
    const payment = this.#stripePayment(pathId);
    if (payment === undefined) return noSuch('payment_intent', pathId);
    const params = Object.fromEntries(url.searchParams);
    return ok(this.intentOf(payment, expands(params, 'latest_charge')));
  }

  #cancel({ pathId }: RequestContext, { lateSuccess }: Decision): Answer {
    const payment = this.#stripePayment(pathId);
    const record = this.#work.book.stripe.intents.get(pathId);
    if (payment === undefined || record === undefined) return noSuch('payment_intent', pathId);
    const status = this.intentOf(payment).status;
    // Stripe cancels an intent that has not succeeded; a processing one "in rare cases", which
    // the simulator always grants so a stuck payment can be voided.
    if (status === 'succeeded' || status === 'canceled') {
      return invalid(
        `You cannot cancel this PaymentIntent because it has a status of ${status}.`,
        'payment_intent_unexpected_state',
      );
    }
    record.canceledAt = unixNow();
    if (payment.status === 'PENDING') {
      const voided = this.#payments.cancel(payment, lateSuccess);
      const answer = ok(this.intentOf(voided));
      void this.#work.announce([gatewayEvent('payment.failed', voided)]);
      return answer;
    }
    record.canceled = true;
    void this.#work.announce([gatewayEvent('payment.failed', payment)]);
    return ok(this.intentOf(payment));
  }

  #stripePayment(id: string): GatewayPayment | undefined {
    return this.#work.book.stripe.intents.has(id) ? this.#work.book.payments.get(id) : undefined;
  }

  /** A payment as Stripe shows a PaymentIntent (the fields autopay and a reader need). */
  intentOf(payment: GatewayPayment, expandCharge = false): Record<string, unknown> {
    const record = this.#work.book.stripe.intents.get(payment.id);
    const status = intentStatus(payment, record);
    const charged = payment.status === 'SUCCESS' || payment.status === 'PENDING';
    return {
      id: payment.id,
      object: 'payment_intent',
      amount: payment.amount,
      amount_capturable: 0,
      amount_received: payment.status === 'SUCCESS' ? payment.amount : 0,
      canceled_at: status === 'canceled' ? (record?.canceledAt ?? null) : null,
      cancellation_reason: null,
      capture_method: 'automatic',
      client_secret: `${payment.id}_secret_${createHash('sha256').update(payment.id).digest('hex').slice(0, 24)}`,
      confirmation_method: 'automatic',
      created: payment.created,
      currency: payment.currency.toLowerCase(),
      customer: record?.customer ?? null,
      description: null,
      last_payment_error:
        status === 'requires_payment_method' ? lastPaymentError(payment, record) : null,
      latest_charge: charged
        ? expandCharge
          ? this.chargeOf(payment)
          : (record?.chargeId ?? null)
        : null,
      livemode: false,
      metadata: record?.metadata ?? {},
      next_action: null,
      payment_method: record?.paymentMethod ?? null,
      payment_method_types: ['card'],
      status,
    };
  }

  chargeOf(payment: GatewayPayment): Record<string, unknown> {
    const record = this.#work.book.stripe.intents.get(payment.id);
    return {
      id: record?.chargeId ?? null,
      object: 'charge',
      amount: payment.amount,
      amount_captured: payment.status === 'SUCCESS' ? payment.amount : 0,
      amount_refunded: payment.amountRefunded,
      captured: payment.status === 'SUCCESS',
      created: payment.created,
      currency: payment.currency.toLowerCase(),
      customer: record?.customer ?? null,
      livemode: false,
      metadata: record?.metadata ?? {},
      paid: payment.status === 'SUCCESS',
      payment_intent: payment.id,
      payment_method: record?.paymentMethod ?? null,
      refunded: payment.amountRefunded === payment.amount,
      status: payment.status === 'SUCCESS' ? 'succeeded' : 'pending',
    };
  }

  // -- Refunds -------------------------------------------------------------------------------

  #prepareRefund(context: RequestContext): Answer | Operation {
    const params = context.body as Params;
    const intentId = params.payment_intent;
    if (!intentId)
      return invalid('Provide a payment_intent to refund.', 'parameter_missing', 'payment_intent');
    const amount = params.amount === undefined ? undefined : Number(params.amount);
    if (amount !== undefined && (!Number.isSafeInteger(amount) || amount <= 0)) {
      return invalid(
        'This value must be greater than or equal to 1.',
        'parameter_invalid_integer',
        'amount',
      );
    }
    const key = idempotencyKeyOf(context);
    return (decision) =>
      this.#idempotent(key, 'POST /v1/refunds', params, () =>
        this.#refund(intentId, amount, metadataOf(params), key, decision),
      );
  }

  #refund(
    intentId: string,
    requested: number | undefined,
    metadata: Record<string, string>,
    key: string | undefined,
    { refundTimeout, refundPending, stray, refundFailsLater, refundSavedError }: Decision,
  ): Ran {
    const refused = (answer: Sent): Ran => ({ answer, lost: false });
    if (refundSavedError === 'unmade') {
      // Failed inside Stripe before the refund was made: #idempotent saves the 500 all the same.
      this.#work.book.refundSavedErrors += 1;
      this.#work.book.refundSavedErrorsUnmade += 1;
      return refused(savedRefundError());
    }
    const payment = this.#stripePayment(intentId);
    if (payment === undefined) return refused(noSuch('payment_intent', intentId));
    if (payment.status !== 'SUCCESS') {
      return refused(
        invalid(
          `This PaymentIntent (${intentId}) does not have a successful charge to refund.`,
          'payment_intent_unexpected_state',
        ),
      );
    }
    const left = payment.amount - payment.amountRefunded - this.#pendingRefunds(payment.id);
    if (left === 0) {
      return refused(
        invalid(`Charge for ${intentId} has already been refunded.`, 'charge_already_refunded'),
      );
    }
    const amount = requested ?? left;
    if (amount > left) {
      return refused(
        invalid(
          `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`,
          'amount_too_large',
          'amount',
        ),
      );
    }
    const refund: GatewayRefund = {
      id: newId('re'),
      paymentId: payment.id,
      idempotencyKey: key ?? newId('refund_key'),
      amount,
      currency: payment.currency,
      status: refundPending ? 'PENDING' : 'SUCCEEDED',
      created: unixNow(),
    };
    this.#work.book.refundsByKey.set(refund.idempotencyKey, refund);
    this.#work.book.stripe.refunds.set(refund.id, { metadata, wasPending: refundPending === true });
    if (refundPending) {
      this.#work.later(this.#work.faults().settleAfterMs, async () => {
        if (refundFailsLater) {
          // Failed at the bank before any money left: the balance gets it back, none refunded.
          refund.status = 'FAILED';
          refund.failureReason = REFUND_FAILURE_REASON;
          this.#work.book.pendingRefundsFailed += 1;
          await this.#work.announce([gatewayEvent('refund.failed', payment, refund)]);
          return;
        }
        refund.status = 'SUCCEEDED';
        payment.amountRefunded += refund.amount;
        await this.#work.announce([refundEvent(payment, refund)]);
      });
    } else {
      payment.amountRefunded += amount;
      if (refundFailsLater) failLater(this.#work, payment, refund);
      const real = refundEvent(payment, refund);
      if (stray === undefined) {
        void this.#work.announce([real]);
      } else {
        // Another refund at Stripe, made by someone else (no orderId of ours) or for a part.
        const fake = refundEvent(payment, {
          ...refund,
          id: stray.kind === 'partial' ? refund.id : newId('re'),
          amount: stray.kind === 'foreign' ? refund.amount : Math.max(1, Math.floor(amount / 2)),
        });
        this.#work.book.strayRefundEvents += 1;
        void this.#work.announce(stray.first ? [fake, real] : [real, fake]);
      }
    }
    if (refundSavedError === 'made') {
      // Made, and answered as a failure after it ran: #idempotent saves the 500 under the key.
      this.#work.book.refundSavedErrors += 1;
      return refused(savedRefundError());
    }
    return { answer: { status: 200, body: this.refundOf(refund) }, lost: refundTimeout };
  }

  #pendingRefunds(paymentId: string): number {
    let pending = 0;
    for (const refund of this.#work.book.refundsByKey.values()) {
      if (refund.paymentId === paymentId && refund.status === 'PENDING') pending += refund.amount;
    }
    return pending;
  }

  /** `GET /v1/refunds?payment_intent=`: the intent's refunds, newest first, one page. */
  #listRefunds({ url }: RequestContext): Answer {
    const intentId = url.searchParams.get('payment_intent');
    const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 10) || 10));
    const data = [...this.#work.book.refundsByKey.values()]
      .filter((refund) => intentId === null || refund.paymentId === intentId)
      .reverse()
      .map((refund) => this.refundOf(refund));
    return ok({
      object: 'list',
      url: '/v1/refunds',
      has_more: data.length > limit,
      data: data.slice(0, limit),
    });
  }

  #retrieveRefund(id: string): Answer {
    const refund = [...this.#work.book.refundsByKey.values()].find((each) => each.id === id);
    return refund === undefined ? noSuch('refund', id) : ok(this.refundOf(refund));
  }

  refundOf(
    refund: GatewayRefund,
    metadataOverride?: Record<string, string>,
  ): Record<string, unknown> {
    const record = this.#work.book.stripe.refunds.get(refund.id);
    const intent = this.#work.book.stripe.intents.get(refund.paymentId);
    return {
      id: refund.id,
      object: 'refund',
      amount: refund.amount,
      charge: intent?.chargeId ?? null,
      created: refund.created,
      currency: refund.currency.toLowerCase(),
      metadata: metadataOverride ?? record?.metadata ?? {},
      payment_intent: refund.paymentId,
      reason: null,
      status: refundStatuses[refund.status],
      ...(refund.status === 'FAILED' ? { failure_reason: refund.failureReason ?? 'unknown' } : {}),
    };
  }

  // -- Idempotency ---------------------------------------------------------------------------

  /**
   * Stripe's rule: the first answer under a key is saved and replayed (with the header
   * `Idempotent-Replayed: true`), the same key with other parameters is an `idempotency_error`.
   * A request that fails before it runs (an injected fault, a validation error) saves nothing;
   * one that fails after it ran saves its 500. A key saved `idempotencyKeyWindowMs` ago is
   * pruned: the request under it is made afresh.
   */
  #idempotent(key: string | undefined, routeName: string, params: Params, run: () => Ran): Answer {
    if (key === undefined) return sent(run());
    const fingerprint = JSON.stringify(Object.entries(params).sort());
    const responses = this.#work.book.stripe.responses;
    const kept = responses.get(key);
    const pruned =
      kept !== undefined && Date.now() - kept.savedAt >= this.#work.faults().idempotencyKeyWindowMs;
    if (pruned) responses.delete(key);
    const saved = pruned ? undefined : kept;
    if (saved !== undefined) {
      if (saved.route !== routeName || saved.params !== fingerprint) {
        return stripeError(
          400,
          'idempotency_error',
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        );
      }
      return { status: saved.status, body: saved.body, headers: { 'Idempotent-Replayed': 'true' } };
    }
    const ran = run();
    this.#work.book.stripe.responses.set(key, {
      route: routeName,
      params: fingerprint,
      status: ran.answer.status,
      body: structuredClone(ran.answer.body),
      savedAt: Date.now(),
    });
    return sent(ran);
  }

  // -- Events --------------------------------------------------------------------------------

  /** The simulator's events of a payment made through this API, in Stripe's shapes. */
  render(event: GatewayEvent): WireEvent[] {
    const payment = this.#work.book.payments.get(event.data.paymentId);
    if (payment === undefined || !this.#work.book.stripe.intents.has(payment.id)) return [event];
    switch (event.type) {
      case 'payment.pending':
        return [this.#paymentEvent('payment_intent.processing', payment, 'processing')];
      case 'payment.succeeded':
        return [this.#paymentEvent('payment_intent.succeeded', payment, 'succeeded')];
      case 'payment.failed': {
        const record = this.#work.book.stripe.intents.get(payment.id);
        return record?.canceled || payment.status === 'VOIDED'
          ? [this.#paymentEvent('payment_intent.canceled', payment, 'canceled')]
          : [
              this.#paymentEvent(
                'payment_intent.payment_failed',
                payment,
                'requires_payment_method',
              ),
            ];
      }
      case 'refund.succeeded':
        return this.#refundEvents(event, payment);
      case 'refund.failed':
        return this.#refundFailedEvents(event);
    }
  }

  /** Stripe tells a refund that failed twice: `refund.failed` and `refund.updated`. */
  #refundFailedEvents(event: GatewayEvent): WireEvent[] {
    const refundId = event.data.refundId ?? '';
    const stored = [...this.#work.book.refundsByKey.values()].find((each) => each.id === refundId);
    if (stored === undefined) return [event];
    const body = this.refundOf(stored);
    return [
      stripeEvent('refund.failed', body, event.created),
      stripeEvent('refund.updated', body, event.created),
    ];
  }

  #refundEvents(event: GatewayEvent, payment: GatewayPayment): WireEvent[] {
    const refundId = event.data.refundId ?? '';
    const stored = [...this.#work.book.refundsByKey.values()].find((each) => each.id === refundId);
    const record = this.#work.book.stripe.refunds.get(refundId);
    const refund: GatewayRefund = stored ?? {
      id: refundId,
      paymentId: payment.id,
      idempotencyKey: '',
      amount: event.data.amount,
      currency: payment.currency,
      status: 'SUCCEEDED',
      created: event.created,
    };
    // A stray refund someone else made at Stripe carries no orderId of ours; a partial one of
    // ours (same id) does.
    const body = this.refundOf(
      { ...refund, amount: event.data.amount, status: 'SUCCEEDED' },
      stored === undefined ? {} : undefined,
    );
    if (record?.wasPending) return [stripeEvent('refund.updated', body, event.created)];
    return [
      stripeEvent('charge.refunded', this.chargeOf(payment), event.created),
      stripeEvent('refund.created', body, event.created),
    ];
  }

  #paymentEvent(type: string, payment: GatewayPayment, status?: string): StripeWireEvent {
    const intent = this.intentOf(payment);
    return stripeEvent(type, status === undefined ? intent : { ...intent, status }, unixNow());
  }
}

/** The Refund object's `status`, by the ledger's. */
const refundStatuses: Readonly<Record<GatewayRefund['status'], string>> = {
  PENDING: 'pending',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
};

interface StripeWireEvent {
  readonly id: string;
  readonly object: 'event';
  readonly type: string;
  readonly [field: string]: unknown;
}

/** An event as Stripe posts it (docs.stripe.com/api/events/object). */
function stripeEvent(
  type: string,
  object: Record<string, unknown>,
  created: number,
): StripeWireEvent {
  return {
    id: newId('evt'),
    object: 'event',
    api_version: stripeApiVersion,
    created,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/** Stripe's 500 to a refund request, which its idempotency layer saves under the key. */
function savedRefundError(): Sent {
  return stripeError(500, 'api_error', 'An unknown error occurred while refunding.');
}

function refundEvent(payment: GatewayPayment, refund: GatewayRefund): GatewayEvent {
  return {
    id: newId('evt'),
    type: 'refund.succeeded',
    created: unixNow(),
    data: {
      paymentId: payment.id,
      idempotencyKey: payment.idempotencyKey,
      amount: refund.amount,
      currency: payment.currency,
      refundId: refund.id,
    },
  };
}

/** Why the last confirmation failed; a payment that failed to settle says so as a decline. */
function lastPaymentError(payment: GatewayPayment, record: StripeIntentRecord | undefined) {
  return (
    record?.lastPaymentError ?? {
      type: 'card_error',
      code: 'card_declined',
      decline_code: payment.declineCode ?? 'generic_decline',
      message: 'Your card was declined.',
    }
  );
}

function intentStatus(payment: GatewayPayment, record: StripeIntentRecord | undefined): string {
  if (record?.canceled) return 'canceled';
  switch (payment.status) {
    case 'SUCCESS':
      return 'succeeded';
    case 'PENDING':
      return 'processing';
    case 'VOIDED':
      return 'canceled';
    case 'FAILED':
      return 'requires_payment_method';
  }
}

function idempotencyKeyOf({ req }: RequestContext): string | undefined {
  const key = req.headers['idempotency-key'];
  return typeof key === 'string' && key.length > 0 && key.length <= 255 ? key : undefined;
}

function sent(ran: Ran): Answer {
  return ran.lost ? 'hang' : ran.answer;
}
