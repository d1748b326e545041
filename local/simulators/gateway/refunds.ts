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
import { gatewayEvent } from './callbacks.ts';
import type { GatewayEvent, GatewayPayment, GatewayRefund } from './contract.ts';
import type { Decision } from './fault-drawing.ts';
import type { StrayRefund } from './fault-settings.ts';
import { newId } from './ledger.ts';

interface RefundRequest {
  paymentId: string;
  amount?: number;
}

function parseRefundRequest(body: unknown): Parsed<RefundRequest> {
  if (!isRecord(body)) return { ok: false, message: 'The body must be a JSON object.' };
  const { paymentId, amount } = body;
  if (typeof paymentId !== 'string' || paymentId.length === 0) {
    return { ok: false, message: 'paymentId is required.' };
  }
  if (amount !== undefined && (!Number.isSafeInteger(amount) || (amount as number) <= 0)) {
    return { ok: false, message: 'amount must be a positive integer in minor units.' };
  }
  return {
    ok: true,
    value: amount === undefined ? { paymentId } : { paymentId, amount: amount as number },
  };
}

/** `/v1/refunds`: money given back from a captured payment, once per Idempotency-Key. */
export class RefundsApi {
  readonly #work: GatewayWork;

  constructor(work: GatewayWork) {
    this.#work = work;
  }

  routes(): Route[] {
    return [route('POST', '/v1/refunds', 'refund', (c) => this.#prepareRefund(c))];
  }

  #prepareRefund({ req, body }: RequestContext): Answer | Operation {
    const key = idempotencyKey(req);
    if (key === undefined) return keyRequired();
    const parsed = parseRefundRequest(body);
    if (!parsed.ok) return failure(400, 'invalid_request_error', parsed.message);
    return (decision) => this.#refund(key, parsed.value, decision);
  }

  #refund(
    key: string,
    request: RefundRequest,
    { stray, refundTimeout, refundFailsLater }: Decision,
  ): Answer {
    const earlier = this.#work.book.refundsByKey.get(key);
    if (earlier) {
      const same =
        earlier.paymentId === request.paymentId &&
        (request.amount === undefined || request.amount === earlier.amount);
      return same
        ? ok(earlier, replayed)
        : failure(422, 'idempotency_error', 'This Idempotency-Key was used for another refund.');
    }
    const payment = this.#work.book.payments.get(request.paymentId);
    if (payment === undefined) return notFound(request.paymentId);
    if (payment.status !== 'SUCCESS') {
      return failure(409, 'invalid_state', `A ${payment.status} payment cannot be refunded.`);
    }
    const left = payment.amount - payment.amountRefunded;
    const amount = request.amount ?? left;
    if (left === 0 || amount > left) {
      return failure(409, 'invalid_state', `Only ${left} of the payment is left to refund.`);
    }
    const refund: GatewayRefund = {
      id: newId('re'),
      paymentId: payment.id,
      idempotencyKey: key,
      amount,
      currency: payment.currency,
      status: 'SUCCEEDED',
      created: unixNow(),
    };
    this.#work.book.refundsByKey.set(key, refund);
    payment.amountRefunded += amount;
    if (refundFailsLater) failLater(this.#work, payment, refund);
    const real = gatewayEvent('refund.succeeded', payment, refund);
    if (stray === undefined) {
      void this.#work.announce([real]);
    } else {
      const fake = this.#strayRefundEvent(payment, refund, stray.kind);
      this.#work.book.strayRefundEvents += 1;
      void this.#work.announce(stray.first ? [fake, real] : [real, fake]);
    }
    return refundTimeout ? 'hang' : ok(refund);
  }

  /** Signed like any other event, and not in the ledger: no such refund was made. */
  #strayRefundEvent(
    payment: GatewayPayment,
    refund: GatewayRefund,
    kind: StrayRefund['kind'],
  ): GatewayEvent {
    const foreign = kind !== 'partial';
    const partial = kind !== 'foreign';
    return gatewayEvent('refund.succeeded', payment, {
      ...refund,
      id: foreign ? newId('re') : refund.id,
      amount: partial ? Math.max(1, Math.floor(refund.amount / 2)) : refund.amount,
    });
  }

  // -- callbacks ---------------------------------------------------------------------------
}

/** Why a refund fails after it succeeded, in Stripe's words: the card cannot take money back. */
export const REFUND_FAILURE_REASON = 'expired_or_canceled_card';

/**
 * A refund that succeeded fails `refundFailAfterMs` later: its money comes back to the merchant
 * (the payment counts it refunded no more) and a `refund.failed` is announced.
 */
export function failLater(work: GatewayWork, payment: GatewayPayment, refund: GatewayRefund): void {
  work.later(work.faults().refundFailAfterMs, async () => {
    if (refund.status !== 'SUCCEEDED') return;
    refund.status = 'FAILED';
    refund.failureReason = REFUND_FAILURE_REASON;
    payment.amountRefunded -= refund.amount;
    work.book.failedRefunds += 1;
    await work.announce([gatewayEvent('refund.failed', payment, refund)]);
  });
}
