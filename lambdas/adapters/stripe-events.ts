import * as z from 'zod/mini';
import type { GatewayEvent } from '#domain/callbacks.ts';
import { VOIDED } from '#domain/settlement.ts';

/**
 * Stripe's webhook events (docs.stripe.com/api/events/object) that autopay reads, read as the
 * gateway events the domain applies. Only the fields used are checked; the rest is ignored.
 */
const metadata = z.nullish(z.record(z.string(), z.string()));

const paymentIntent = z.looseObject({
  id: z.string().check(z.minLength(1)),
  object: z.literal('payment_intent'),
  amount: z.number().check(z.int(), z.nonnegative()),
  currency: z.string().check(z.length(3)),
  status: z.string(),
  metadata,
  last_payment_error: z.nullish(
    z.looseObject({ code: z.nullish(z.string()), decline_code: z.nullish(z.string()) }),
  ),
});

const refund = z.looseObject({
  id: z.string().check(z.minLength(1)),
  object: z.literal('refund'),
  amount: z.number().check(z.int(), z.nonnegative()),
  currency: z.string().check(z.length(3)),
  status: z.nullish(z.string()),
  failure_reason: z.nullish(z.string()),
  payment_intent: z.nullish(z.union([z.string(), z.looseObject({ id: z.string() })])),
  metadata,
});

export const stripeEventSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  object: z.literal('event'),
  type: z.string().check(z.minLength(1)),
  created: z.number().check(z.int(), z.nonnegative()),
  data: z.looseObject({ object: z.looseObject({ object: z.string() }) }),
});
export type StripeEvent = z.infer<typeof stripeEventSchema>;

/** What a Stripe event means for an order: a gateway event, or why it changes nothing. */
export type StripeEventReading =
  | { readonly kind: 'event'; readonly event: GatewayEvent }
  | { readonly kind: 'skip'; readonly reason: string };

const paymentEventTypes: Readonly<Record<string, GatewayEvent['type']>> = {
  'payment_intent.succeeded': 'payment.succeeded',
  'payment_intent.processing': 'payment.pending',
  'payment_intent.payment_failed': 'payment.failed',
  'payment_intent.canceled': 'payment.failed',
};

/** The refund events read; `charge.refund.updated` covers only some payment methods. */
const refundEventTypes: ReadonlySet<string> = new Set([
  'refund.created',
  'refund.updated',
  'refund.failed',
]);

/**
 * A PaymentIntent's events move the order as the simulator's payment events do. A refund's
 * `refund.created` / `refund.updated` once it has `succeeded` is a refund event; `refund.failed`,
 * or a `refund.updated` whose status became `failed` (Stripe sends both, in either order, when a
 * refund fails, even after it succeeded), is a failed refund, whose money is back in the balance;
 * so is a `refund.updated` whose refund was `canceled` (`failure_reason: merchant_request`).
 * `charge.refunded` is acknowledged only: the refund event of the same refund names it, which the
 * charge does not.
 */
export function readStripeEvent(event: StripeEvent): StripeEventReading {
  const type = paymentEventTypes[event.type];
  if (type !== undefined) {
    const intent = paymentIntent.safeParse(event.data.object);
    if (!intent.success) return { kind: 'skip', reason: 'not a payment intent' };
    return paymentEvent(event, type, intent.data);
  }
  if (refundEventTypes.has(event.type)) {
    const parsed = refund.safeParse(event.data.object);
    if (!parsed.success) return { kind: 'skip', reason: 'not a refund' };
    return refundEvent(event, parsed.data);
  }
  return { kind: 'skip', reason: `${event.type} is not read` };
}

function paymentEvent(
  event: StripeEvent,
  type: GatewayEvent['type'],
  intent: z.infer<typeof paymentIntent>,
): StripeEventReading {
  const orderId = intent.metadata?.orderId;
  if (orderId === undefined) return { kind: 'skip', reason: 'no metadata.orderId' };
  const error = intent.last_payment_error;
  if (type === 'payment.failed' && error?.code === 'authentication_required') {
    // The charge's own answer holds the order for the user; the intent is still open.
    return { kind: 'skip', reason: 'authentication_required' };
  }
  const declineCode =
    event.type === 'payment_intent.canceled'
      ? VOIDED
      : (error?.decline_code ?? error?.code ?? undefined);
  return {
    kind: 'event',
    event: {
      id: event.id,
      type,
      created: event.created,
      data: {
        paymentId: intent.id,
        idempotencyKey: orderId,
        amount: intent.amount,
        currency: intent.currency.toUpperCase(),
        ...(type === 'payment.failed' && declineCode ? { declineCode } : {}),
      },
    },
  };
}

function refundEvent(event: StripeEvent, value: z.infer<typeof refund>): StripeEventReading {
  // A refund created failed was refused: the answer to its creation says so, not an event. One
  // canceled was accepted first (only a refund in requires_action can be): it failed as well.
  const failed =
    (value.status === 'failed' || value.status === 'canceled') && event.type !== 'refund.created';
  if (event.type === 'refund.failed' && !failed) {
    return { kind: 'skip', reason: `refund.failed of a refund ${value.status}` };
  }
  if (value.status !== 'succeeded' && !failed) {
    return { kind: 'skip', reason: `refund ${value.status}` };
  }
  const orderId = value.metadata?.orderId;
  const intent = value.payment_intent;
  const paymentId = typeof intent === 'string' ? intent : intent?.id;
  if (orderId === undefined || paymentId === undefined) {
    return { kind: 'skip', reason: 'refund without metadata.orderId' };
  }
  return {
    kind: 'event',
    event: {
      id: event.id,
      type: failed ? 'refund.failed' : 'refund.succeeded',
      created: event.created,
      data: {
        paymentId,
        idempotencyKey: orderId,
        amount: value.amount,
        currency: value.currency.toUpperCase(),
        refundId: value.id,
        ...(failed ? { failureReason: value.failure_reason ?? 'unknown' } : {}),
      },
    },
  };
}
