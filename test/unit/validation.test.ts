import { describe, expect, it } from 'vitest';
import { makePlaceOrder } from '#domain/place-order.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
} from '../fakes/in-memory.ts';
import { demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';

function subject() {
  const orders = new InMemoryOrders();
  const payments = new RecordingPaymentQueue();
  const placeOrder = makePlaceOrder({
    orders,
    payments,
    clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
    agents: new InMemoryAgents([demoAgent]),
    policy: intakePolicy,
  });
  return { orders, payments, placeOrder };
}

function withoutAmount() {
  const { amount: _amount, ...rest } = latteOrder;
  return rest;
}

const cases: ReadonlyArray<readonly [string, unknown, string, string]> = [
  ['a negative amount', { ...latteOrder, amount: -100 }, 'INVALID_AMOUNT', 'amount'],
  ['a zero amount', { ...latteOrder, amount: 0 }, 'INVALID_AMOUNT', 'amount'],
  ['a fractional amount', { ...latteOrder, amount: 4.5 }, 'INVALID_AMOUNT', 'amount'],
  ['an amount as a string', { ...latteOrder, amount: '450' }, 'INVALID_AMOUNT', 'amount'],
  ['an amount over the maximum', { ...latteOrder, amount: 1_000_001 }, 'INVALID_AMOUNT', 'amount'],
  ['an unknown currency', { ...latteOrder, currency: 'XYZ' }, 'UNSUPPORTED_CURRENCY', 'currency'],
  ['a lower-case currency', { ...latteOrder, currency: 'cny' }, 'UNSUPPORTED_CURRENCY', 'currency'],
  [
    'an unknown payment method',
    { ...latteOrder, paymentMethod: 'invalid_method' },
    'INVALID_PAYMENT_METHOD',
    'paymentMethod',
  ],
  ['an unknown field', { ...latteOrder, tip: 100 }, 'VALIDATION_FAILED', 'tip'],
  ['a missing amount', withoutAmount(), 'VALIDATION_FAILED', 'amount'],
  ['no items', { ...latteOrder, items: [] }, 'VALIDATION_FAILED', 'items'],
  [
    'a zero quantity',
    { ...latteOrder, items: [{ sku: 'latte', quantity: 0 }] },
    'VALIDATION_FAILED',
    'items.0.quantity',
  ],
  [
    'an unknown item field',
    { ...latteOrder, items: [{ sku: 'latte', quantity: 1, price: 1 }] },
    'VALIDATION_FAILED',
    'items.0',
  ],
  [
    'an action with spaces',
    { ...latteOrder, action: 'order coffee' },
    'VALIDATION_FAILED',
    'action',
  ],
  ['a JSON array', [latteOrder], 'VALIDATION_FAILED', '(body)'],
  ['a JSON string', 'latte', 'VALIDATION_FAILED', '(body)'],
  ['JSON null', null, 'VALIDATION_FAILED', '(body)'],
];

describe('order validation', () => {
  it.each(cases)('refuses %s, and stores nothing', async (_, body, code, field) => {
    // Prepare
    const { orders, payments, placeOrder } = subject();

    // Act
    const attempt = placeOrder({ agentId: 'demo-agent', idempotencyKey: 'k', body });

    // Assess
    await expect(attempt).rejects.toMatchObject({ code, status: 400 });
    await attempt.catch((error: { details?: { field?: string } }) => {
      expect(error.details?.field).toContain(field);
    });
    expect(orders.orders.size).toBe(0);
    expect(orders.writes).toBe(0);
    expect(payments.sent).toEqual([]);
  });

  it('accepts an item without a size', async () => {
    const { placeOrder } = subject();
    const body = { ...latteOrder, items: [{ sku: 'espresso', quantity: 2 }] };
    const { order } = await placeOrder({ agentId: 'demo-agent', idempotencyKey: 'k', body });
    expect(order.items).toEqual([{ sku: 'espresso', quantity: 2 }]);
  });
});
