/**
 * What makes two order requests the same intent, and the Idempotency-Key derived from it.
 *
 * A caller that retries (a model re-issuing a tool call, a process restarted after a timeout)
 * may describe the same purchase in another way. These differences do not change what is
 * bought, so they give the same canonical order and the same key:
 * - the order of the fields of any object;
 * - the order of the items (a basket is a set of lines);
 * - one line for `{latte, medium}` with quantity 2 or two lines of quantity 1;
 * - spaces around, or doubled inside, the action, the session, a sku or a size;
 * - a `size` given as spaces only (dropped, as if not given).
 * Everything else is part of the intent and gives another key: the session, the action, any
 * sku, size or quantity, the amount, the currency, the payment method, and `repeatOf` (the
 * order a deliberate second purchase of the same basket follows). Letter case is kept: a SKU
 * is the merchant's identifier and `Latte` may not be `latte`.
 */
import { createHash } from 'node:crypto';
import type { components } from './api-types.ts';

export type CreateOrderRequest = components['schemas']['CreateOrderRequest'];
type OrderItem = CreateOrderRequest['items'][number];

const tidy = (value: string) => value.trim().replace(/\s+/g, ' ');

function canonicalItems(items: readonly OrderItem[]): OrderItem[] {
  const lines = new Map<string, OrderItem>();
  for (const item of items) {
    const sku = tidy(item.sku);
    const size = item.size === undefined ? '' : tidy(item.size);
    const line = JSON.stringify([sku, size]);
    const quantity = (lines.get(line)?.quantity ?? 0) + item.quantity;
    lines.set(line, size === '' ? { sku, quantity } : { sku, size, quantity });
  }
  return [...lines.entries()]
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
    .map(([, item]) => item);
}

/** The order in its one canonical form, fields in a fixed order: what is sent, and hashed. */
export function canonicalOrder(order: CreateOrderRequest): CreateOrderRequest {
  return {
    action: tidy(order.action),
    sessionId: tidy(order.sessionId),
    items: canonicalItems(order.items),
    amount: order.amount,
    currency: order.currency,
    paymentMethod: order.paymentMethod,
  };
}

export interface IntentOptions {
  /** The order a deliberate repeat of the same basket in the same session follows. */
  readonly repeatOf?: string | undefined;
}

/**
 * The Idempotency-Key of an intent: `intent_` and 48 hex digits of a SHA-256 over the canonical
 * order (and `repeatOf`). The API scopes keys per agent, so the agent is not hashed.
 */
export function intentKey(order: CreateOrderRequest, options: IntentOptions = {}): string {
  const intent = { order: canonicalOrder(order), repeatOf: options.repeatOf ?? null };
  const digest = createHash('sha256').update(JSON.stringify(intent)).digest('hex');
  return `intent_${digest.slice(0, 48)}`;
}
