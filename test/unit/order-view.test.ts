import { describe, expect, it } from 'vitest';
import { openOrder, orderView } from '#domain/order.ts';

/** An order held for review after the risk engine answered, as submission stores it. */
const held = {
  ...openOrder({
    orderId: `ord_${'b'.repeat(32)}`,
    agentId: 'demo-agent',
    idempotencyKey: 'key-1',
    requestHash: 'f'.repeat(64),
    action: 'order_coffee',
    sessionId: 's-1',
    items: [{ sku: 'latte', quantity: 1 }],
    amount: 4500,
    currency: 'CNY',
    paymentMethod: 'wallet',
    status: 'PENDING_PAYMENT',
    attempts: 1,
    createdAt: '2026-11-23T09:30:00.000Z',
  }),
  status: 'HELD_FOR_REVIEW' as const,
  holdReason: 'RISK_REVIEW' as const,
  lastError: 'RISK_REVIEW',
  risk: { level: 'review' as const, bypassed: false, requestId: 'risk-req-7f3a', errorCode: 'E1' },
};

describe("an agent's view of its order", () => {
  it('shows the status, amounts, history causes and error codes, and the hold reason', () => {
    // Act
    const view = orderView(held);

    // Assess
    expect(view).toMatchObject({
      status: 'HELD_FOR_REVIEW',
      amount: 4500,
      currency: 'CNY',
      attempts: 1,
      lastError: 'RISK_REVIEW',
      holdReason: 'RISK_REVIEW',
      history: [{ from: null, to: 'PENDING_PAYMENT', cause: 'INTAKE' }],
    });
  });

  it("shows nothing of the risk engine's answer: no level, no request id, no bypass", () => {
    // Act
    const view = orderView(held);
    const text = JSON.stringify(view);

    // Assess
    expect(view).not.toHaveProperty('risk');
    expect(text).not.toContain('risk-req-7f3a');
    expect(text).not.toContain('"review"');
    expect(text).not.toContain('bypassed');
  });

  it('shows each move of the history without the token of the call that made it', () => {
    // Prepare
    const moved = {
      ...held,
      history: [
        ...held.history,
        {
          from: 'PENDING_PAYMENT' as const,
          to: 'HELD_FOR_REVIEW' as const,
          at: '2026-11-23T09:30:01.000Z',
          cause: 'HELD_FOR_REVIEW' as const,
          call: 'Xy3_',
        },
      ],
    };

    // Act
    const view = orderView(moved);

    // Assess
    expect(view.history.at(-1)).toEqual({
      from: 'PENDING_PAYMENT',
      to: 'HELD_FOR_REVIEW',
      at: '2026-11-23T09:30:01.000Z',
      cause: 'HELD_FOR_REVIEW',
    });
  });

  it("shows why the gateway failed the order's refund, but not the refund's id", () => {
    // Prepare: the refund failed after it succeeded (a closed card).
    const owing = {
      ...held,
      status: 'REFUND_PENDING' as const,
      lastError: 'REFUND_FAILED',
      refundId: 're_7f3a',
      refundFailure: 'expired_or_canceled_card',
    };

    // Act
    const view = orderView(owing);

    // Assess
    expect(view).toMatchObject({
      lastError: 'REFUND_FAILED',
      refundFailure: 'expired_or_canceled_card',
    });
    expect(JSON.stringify(view)).not.toContain('re_7f3a');
    expect(orderView(held)).not.toHaveProperty('refundFailure');
  });
});
