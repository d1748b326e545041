import { isRecord, unixNow } from '../faults.ts';
import {
  type Answer,
  failure,
  type GatewayWork,
  idempotencyKey,
  keyRequired,
  notFound,
  type Operation,
  ok,
  type Parsed,
  type RequestContext,
  type Route,
  replayed,
  route,
} from './api.ts';
import { gatewayEvent, paymentEvent } from './callbacks.ts';
import type { GatewayEvent, GatewayPayment, PaymentMethod } from './contract.ts';
import type { ChargePlan, Decision, LateCapture } from './fault-drawing.ts';
import { newId } from './ledger.ts';

interface PaymentRequest {
  amount: number;
  currency: string;
  paymentMethod: PaymentMethod;
  reference?: string;
}

function parsePaymentRequest(body: unknown): Parsed<PaymentRequest> {
  if (!isRecord(body)) return { ok: false, message: 'The body must be a JSON object.' };
  const { amount, currency, paymentMethod, reference } = body;
  if (!Number.isSafeInteger(amount) || (amount as number) <= 0) {
    return { ok: false, message: 'amount must be a positive integer in minor units.' };
  }
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) {
    return { ok: false, message: 'currency must be three upper-case letters, such as CNY.' };
  }
  if (paymentMethod !== 'wallet' && paymentMethod !== 'card') {
    return { ok: false, message: 'paymentMethod must be wallet or card.' };
  }
  if (reference !== undefined && typeof reference !== 'string') {
    return { ok: false, message: 'reference must be a string.' };
  }
  const value: PaymentRequest = { amount: amount as number, currency, paymentMethod };
  return { ok: true, value: reference === undefined ? value : { ...value, reference } };
}

/** `/v1/payments`: charges, their lookups and voids, and how a PENDING one settles. */
export class PaymentsApi {
  readonly #work: GatewayWork;

  constructor(work: GatewayWork) {
    this.#work = work;
  }

  routes(): Route[] {
    return [
      route('POST', '/v1/payments', 'create', (c) => this.#prepareCreate(c)),
      route('GET', '/v1/payments', 'lookup', (c) => this.#prepareFind(c)),
      route('GET', '/v1/payments/{id}', 'lookup', (c) => () => this.#get(c.pathId)),
      route('POST', '/v1/payments/{id}/void', 'void', (c) => (d) => this.#void(c.pathId, d)),
    ];
  }

  #prepareCreate({ req, body }: RequestContext): Answer | Operation {
    const key = idempotencyKey(req);
    if (key === undefined) return keyRequired();
    const parsed = parsePaymentRequest(body);
    if (!parsed.ok) return failure(400, 'invalid_request_error', parsed.message);
    this.#work.book.keysSeen.add(key);
    return ({ charge }) => this.#create(key, parsed.value, charge);
  }

  /** Runs without an await between the key check and the insert: one key, one charge. */
  #create(key: string, request: PaymentRequest, charge: ChargePlan): Answer {
    const existing = this.#work.book.paymentsByKey.get(key);
    if (existing) {
      const sameCharge =
        existing.amount === request.amount && existing.currency === request.currency;
      return sameCharge
        ? ok(existing, replayed)
        : failure(422, 'idempotency_error', 'This Idempotency-Key was used for another charge.');
    }
    const payment: GatewayPayment = {
      id: newId('pay'),
      idempotencyKey: key,
      status: charge.status,
      ...request,
      ...(charge.declineCode === undefined ? {} : { declineCode: charge.declineCode }),
      created: unixNow(),
      amountRefunded: 0,
      amountVoided: 0,
    };
    this.open(payment, charge);
    return charge.timeout ? 'hang' : ok(payment);
  }

  /** Books a new payment and starts what follows it (events, settlement); both APIs charge here. */
  open(payment: GatewayPayment, charge: ChargePlan): void {
    this.#work.book.payments.set(payment.id, payment);
    this.#work.book.paymentsByKey.set(payment.idempotencyKey, payment);
    this.#afterCreate(payment, charge);
  }

  #afterCreate(payment: GatewayPayment, charge: ChargePlan): void {
    if (payment.status !== 'PENDING') {
      void this.#work.announce([paymentEvent(payment)]);
      return;
    }
    const pending = gatewayEvent('payment.pending', payment);
    if (this.#work.draws.holdsPendingBack()) {
      this.#work.book.heldPendingEvents.set(payment.id, pending);
    } else {
      void this.#work.announce([pending]);
    }
    if (this.#work.faults().autoSettle && charge.settlesByItself) {
      this.#work.later(this.#work.faults().settleAfterMs, () =>
        this.settle(payment, charge.settlesAs),
      );
    }
  }

  /** The later event goes first when `payment.pending` was held back to arrive out of order. */
  settle(payment: GatewayPayment, status: 'SUCCESS' | 'FAILED'): Promise<void> {
    if (payment.status !== 'PENDING') return Promise.resolve();
    payment.status = status;
    if (status === 'FAILED') payment.declineCode = 'settlement_failed';
    return this.#work.announce([paymentEvent(payment), ...this.#releaseHeldPending(payment)]);
  }

  #releaseHeldPending(payment: GatewayPayment): GatewayEvent[] {
    const held = this.#work.book.heldPendingEvents.get(payment.id);
    this.#work.book.heldPendingEvents.delete(payment.id);
    return held ? [held] : [];
  }

  #get(id: string): Answer {
    const payment = this.#work.book.payments.get(id);
    return payment ? ok(payment) : notFound(id);
  }

  #prepareFind({ url }: RequestContext): Answer | Operation {
    const key = url.searchParams.get('idempotencyKey');
    if (!key) return failure(400, 'invalid_request_error', 'Query by ?idempotencyKey=<key>.');
    return () => {
      const payment = this.#work.book.paymentsByKey.get(key);
      return ok({ data: payment ? [payment] : [] });
    };
  }

  #void(id: string, { lateSuccess }: Decision): Answer {
    const payment = this.#work.book.payments.get(id);
    if (payment === undefined) return notFound(id);
    if (payment.status === 'SUCCESS') {
      return failure(409, 'invalid_state', 'A captured payment cannot be voided; refund it.');
    }
    if (payment.status === 'PENDING') {
      // Serialised now, so the caller is told VOIDED whatever happens to the payment next.
      return ok(this.cancel(payment, lateSuccess));
    }
    return ok(payment);
  }

  /** Voids a PENDING payment and answers a copy of it as voided; `lateSuccess` captures it later. */
  cancel(payment: GatewayPayment, lateSuccess: false | LateCapture): GatewayPayment {
    payment.status = 'VOIDED';
    payment.amountVoided = payment.amount;
    void this.#work.announce(this.#releaseHeldPending(payment));
    const voided = structuredClone(payment);
    if (lateSuccess) {
      this.#work.later(lateSuccess.afterMs, () => this.#capture(payment, lateSuccess));
    }
    return voided;
  }

  /** The void did not hold after all: the money is taken and the gateway says so, or not. */
  #capture(payment: GatewayPayment, { slow, callbackLost }: LateCapture): Promise<void> {
    if (payment.status !== 'VOIDED') return Promise.resolve();
    payment.status = 'SUCCESS';
    payment.amountVoided = 0;
    const book = this.#work.book;
    book.lateSuccesses += 1;
    if (slow) book.slowLateSuccesses += 1;
    if (callbackLost) {
      book.lateSuccessCallbacksLost += 1;
      return Promise.resolve();
    }
    return this.#work.announce([paymentEvent(payment)]);
  }
}
