import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ownSignal, unixNow } from '../faults.ts';
import type { GatewayEvent, GatewayEventType, GatewayPayment, GatewayRefund } from './contract.ts';
import { newId } from './ledger.ts';

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
    },
  };
}
