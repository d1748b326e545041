import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CreateOrderRequest, canonicalOrder, intentKey } from '../../client/intent.ts';

const order: CreateOrderRequest = {
  action: 'order_coffee',
  sessionId: 'conversation-7',
  items: [
    { sku: 'latte', size: 'medium', quantity: 2 },
    { sku: 'croissant', quantity: 1 },
    { sku: 'latte', size: 'large', quantity: 1 },
  ],
  amount: 1650,
  currency: 'CNY',
  paymentMethod: 'wallet',
};

const key = intentKey(order);

/** Pads a string with spaces and tabs around it, as a model's rewording may. */
const padded = (value: string) =>
  fc
    .tuple(fc.constantFrom('', ' ', '  ', '\t'), fc.constantFrom('', ' ', '\t '))
    .map(([before, after]) => `${before}${value}${after}`);

/** The order's lines shuffled, some split into lines of quantity 1, each name padded. */
const rewordedItems = fc
  .tuple(
    ...order.items.flatMap((item) =>
      Array.from({ length: item.quantity }, () =>
        fc.record({
          sku: padded(item.sku),
          ...(item.size ? { size: padded(item.size) } : {}),
        }),
      ),
    ),
  )
  .chain((units) => fc.shuffledSubarray(units, { minLength: units.length }))
  .map((units) => units.map((unit) => ({ ...unit, quantity: 1 })));

describe('the intent of an order, and the key derived from it', () => {
  it('is the same however the items are ordered, split or padded, and whatever the key order', () => {
    fc.assert(
      fc.property(rewordedItems, padded(order.sessionId), (items, sessionId) => {
        const reworded = {
          paymentMethod: order.paymentMethod,
          items,
          currency: order.currency,
          sessionId,
          amount: order.amount,
          action: order.action,
        } as CreateOrderRequest;
        expect(intentKey(reworded)).toBe(key);
        expect(JSON.stringify(canonicalOrder(reworded))).toBe(
          JSON.stringify(canonicalOrder(order)),
        );
      }),
    );
  });

  it('changes with anything that changes what is bought, how, or in which session', () => {
    const changes: Partial<CreateOrderRequest>[] = [
      { sessionId: 'conversation-8' },
      { action: 'order_tea' },
      { amount: 1651 },
      { currency: 'USD' },
      { paymentMethod: 'card' },
      { items: [...order.items, { sku: 'muffin', quantity: 1 }] },
      { items: order.items.map((item) => ({ ...item, quantity: item.quantity + 1 })) },
      { items: order.items.map((item) => ({ ...item, sku: item.sku.toUpperCase() })) },
      { items: order.items.map(({ sku, quantity }) => ({ sku, quantity })) },
    ];

    const keys = changes.map((change) => intentKey({ ...order, ...change }));

    expect(new Set([key, ...keys]).size).toBe(changes.length + 1);
    expect(intentKey(order, { repeatOf: 'ord_1' })).not.toBe(key);
    expect(intentKey(order, { repeatOf: 'ord_1' })).toBe(intentKey(order, { repeatOf: 'ord_1' }));
  });

  it('is an Idempotency-Key the API accepts: visible ASCII, at most 255 characters', () => {
    expect(key).toMatch(/^intent_[0-9a-f]{48}$/);
  });

  it('drops a size made of spaces only, as if it had not been given', () => {
    const canonical = canonicalOrder({
      ...order,
      items: [{ sku: 'latte', size: '  ', quantity: 1 }],
    });

    expect(canonical.items).toEqual([{ sku: 'latte', quantity: 1 }]);
  });
});
