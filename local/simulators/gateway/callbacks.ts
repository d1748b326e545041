import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ownSignal, sleep, unixNow } from '../faults.ts';
import type { Background } from './background.ts';
import type { GatewayEvent, GatewayEventType, GatewayPayment, GatewayRefund } from './contract.ts';
import type { FaultDraws } from './fault-drawing.ts';
import type { GatewayFaults } from './fault-settings.ts';
import type { Credentials } from './keys.ts';
import { type GatewayBook, newId } from './ledger.ts';

/** Stripe retries for days; three quick retries keep local runs and tests short. */
export const CALLBACK_RETRY_BACKOFF_MS = [500, 1_000, 2_000] as const;
const CALLBACK_TIMEOUT_MS = 5_000;

/** Stripe's scheme: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one v1 per secret. */
export function stripeSignatureHeader(
  body: string,
  secrets: readonly string[],
  timestamp: number,
): string {
  const signatures = secrets.map(
    (secret) => `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`,
  );
  return [`t=${timestamp}`, ...signatures].join(',');
}

export function postCallback(
  url: string,
  body: string,
  signature: string,
  signal: AbortSignal,
): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      const send = url.startsWith('https:') ? httpsRequest : httpRequest;
      const request = send(
        url,
        {
          method: 'POST',
          agent: false,
          signal: ownSignal(signal),
          timeout: CALLBACK_TIMEOUT_MS,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'stripe-signature': signature,
          },
        },
        (response) => {
          response.resume();
          const status = response.statusCode ?? 0;
          resolve(status >= 200 && status < 300);
        },
      );
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(false));
      request.end(body);
    } catch {
      resolve(false);
    }
  });
}

export function paymentEvent(payment: GatewayPayment): GatewayEvent {
  return gatewayEvent(
    payment.status === 'FAILED' ? 'payment.failed' : 'payment.succeeded',
    payment,
  );
}

export function gatewayEvent(
  type: GatewayEventType,
  payment: GatewayPayment,
  refund?: GatewayRefund,
): GatewayEvent {
  return {
    id: newId('evt'),
    type,
    created: unixNow(),
    data: {
      paymentId: payment.id,
      idempotencyKey: payment.idempotencyKey,
      amount: refund?.amount ?? payment.amount,
      currency: payment.currency,
      ...(payment.declineCode === undefined ? {} : { declineCode: payment.declineCode }),
      ...(refund === undefined ? {} : { refundId: refund.id }),
      ...(refund?.failureReason === undefined ? {} : { failureReason: refund.failureReason }),
    },
  };
}

/** An event as it is posted: the simulator's own, or Stripe's shape for a Stripe payment. */
export type WireEvent = GatewayEvent | { readonly id: string; readonly object: 'event' };

/** Delivers the gateway's events to autopay's webhook, under the callback faults. */
export class CallbackSender {
  /** Absent: no callback is sent. */
  url: string | undefined;
  readonly #book: GatewayBook;
  readonly #draws: FaultDraws;
  readonly #faults: () => GatewayFaults;
  readonly #secrets: Credentials;
  readonly #background: Background;

  constructor(parts: {
    book: GatewayBook;
    draws: FaultDraws;
    /** The faults in force now, not a copy. */
    faults: () => GatewayFaults;
    /** Every active one signs every callback. */
    secrets: Credentials;
    background: Background;
  }) {
    this.#book = parts.book;
    this.#draws = parts.draws;
    this.#faults = parts.faults;
    this.#secrets = parts.secrets;
    this.#background = parts.background;
  }

  /** Draws the callback faults now, then delivers one event after another, in order. */
  announce(events: readonly WireEvent[]): Promise<void> {
    const { callbacks } = this.#faults();
    if (!callbacks.enabled || this.url === undefined) return Promise.resolve();
    const deliveries = this.#draws.deliveries(events);
    return this.#background.track(this.#deliverAll(deliveries, this.#background.signal));
  }

  async #deliverAll(events: readonly WireEvent[], signal: AbortSignal): Promise<void> {
    for (const event of events) await this.#deliver(event, signal);
  }

  /** Signs afresh on every attempt, as Stripe does, so a retry is never stale. */
  async #deliver(event: WireEvent, signal: AbortSignal): Promise<void> {
    if (!(await sleep(this.#faults().callbacks.delayMs, signal))) return;
    const body = JSON.stringify(event);
    for (let attempt = 0; ; attempt += 1) {
      const url = this.url;
      if (url === undefined || signal.aborted) return;
      this.#book.callbacksSent += 1;
      const secrets = this.#secrets.active().map((entry) => entry.secret);
      const signature = stripeSignatureHeader(body, secrets, unixNow());
      if (await postCallback(url, body, signature, signal)) return;
      const backoff = CALLBACK_RETRY_BACKOFF_MS[attempt];
      if (backoff === undefined || !(await sleep(backoff, signal))) return;
    }
  }
}
