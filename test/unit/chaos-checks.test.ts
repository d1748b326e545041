import { describe, expect, it } from 'vitest';
import { spendKey } from '#adapters/table-keys.ts';
import type { HistoryEntry, Order } from '#domain/order.ts';
import { type OrderEvent, type OrderStatus, transition } from '#domain/order-state.ts';
import type {
  GatewayPayment,
  GatewayRefund,
  Ledger,
} from '../../local/simulators/gateway/contract.ts';
import { type Check, checkInvariants, type Evidence } from '../../local/tools/chaos/checks.ts';
import { expectedEvents } from '../../local/tools/chaos/webhooks.ts';

const day = '2026-01-02';
let counter = 0;

/** An order of `agentId` that went from its intake status through `events`, legally. */
function order(
  start: 'PENDING_PAYMENT' | 'AWAITING_CONFIRMATION',
  events: readonly OrderEvent[],
  fields: Partial<Order> = {},
): Order {
  counter++;
  const history: HistoryEntry[] = [
    { from: null, to: start, at: `${day}T10:00:00.000Z`, cause: 'INTAKE' },
  ];
  let status: OrderStatus = start;
  for (const event of events) {
    const to = transition(status, event);
    history.push({ from: status, to, at: `${day}T10:00:01.000Z`, cause: event });
    status = to;
  }
  return {
    orderId: `ord_${String(counter).padStart(32, '0')}`,
    agentId: 'chaos-agent-1',
    idempotencyKey: `chaos-${counter}`,
    requestHash: 'hash',
    action: 'order_coffee',
    sessionId: 'chaos',
    items: [{ sku: 'latte', quantity: 1 }],
    amount: 500,
    currency: 'CNY',
    paymentMethod: 'wallet',
    status,
    version: history.length,
    attempts: 1,
    createdAt: `${day}T10:00:00.000Z`,
    updatedAt: `${day}T10:00:01.000Z`,
    history,
    ...fields,
  };
}

function payment(of: Order, status: GatewayPayment['status'], amountRefunded = 0): GatewayPayment {
  return {
    id: `pay_${of.orderId}`,
    idempotencyKey: of.orderId,
    status,
    amount: of.amount,
    currency: of.currency,
    paymentMethod: 'wallet',
    created: 0,
    amountRefunded,
    amountVoided: status === 'VOIDED' ? of.amount : 0,
  };
}

function refund(of: GatewayPayment, id: string): GatewayRefund {
  return {
    id,
    paymentId: of.id,
    idempotencyKey: `refund_${of.idempotencyKey}`,
    amount: of.amountRefunded,
    currency: of.currency,
    status: 'SUCCEEDED',
    created: 0,
  };
}

function ledger(payments: GatewayPayment[], refunds: GatewayRefund[] = []): Ledger {
  const charges: Ledger['charges'] = {};
  for (const p of payments) {
    charges[p.idempotencyKey] = {
      payments: 1,
      captured: p.status === 'SUCCESS' ? p.amount : 0,
      refunded: p.amountRefunded,
      voided: p.status === 'VOIDED',
      status: p.status,
    };
  }
  return {
    payments,
    refunds,
    charges,
    requests: { total: 0, byRoute: {} },
    callbacksSent: 0,
    lateSuccesses: 0,
    slowLateSuccesses: 0,
    lateSuccessCallbacksLost: 0,
    strayRefundEvents: 0,
    failedRefunds: 0,
    pendingRefundsFailed: 0,
    refundSavedErrors: 0,
    refundSavedErrorsUnmade: 0,
    keys: { active: 1, revoked: 0 },
  };
}

function evidence(orders: Order[], gateway: Ledger, spend: Record<string, number>): Evidence {
  return {
    placed: orders.map((o) => ({
      agentId: o.agentId,
      key: o.idempotencyKey,
      orderId: o.orderId,
      amount: o.amount,
    })),
    orders: new Map(orders.map((o) => [o.orderId, o])),
    ledger: gateway,
    spend: new Map(Object.entries(spend)),
    replayViolations: [],
  };
}

function violated(checks: Check[]): Record<string, string[]> {
  return Object.fromEntries(
    checks
      .filter((check) => check.violations.length > 0)
      .map((check) => [check.name, check.violations.map((v) => `${v.orderId ?? ''} ${v.detail}`)]),
  );
}

describe('the chaos run checks', () => {
  it('find nothing wrong when the money, the refunds and the budget agree with every order', () => {
    // Prepare
    const paid = order('PENDING_PAYMENT', ['GATEWAY_SUCCEEDED']);
    const refunded = order('PENDING_PAYMENT', [
      'GATEWAY_SUCCEEDED',
      'REFUND_REQUESTED',
      'REFUND_SUCCEEDED',
    ]);
    const refundedPayment = payment(refunded, 'SUCCESS', 500);
    const made = refund(refundedPayment, 're_made');
    const confirmed = order('AWAITING_CONFIRMATION', ['CONFIRM', 'GATEWAY_SUCCEEDED'], {
      amount: 700,
    });
    const held = order('PENDING_PAYMENT', ['HELD_FOR_REVIEW'], { holdReason: 'RISK_REVIEW' });

    // Act
    const checks = checkInvariants(
      evidence(
        [paid, { ...refunded, refundId: made.id }, confirmed, held],
        ledger([payment(paid, 'SUCCESS'), refundedPayment, payment(confirmed, 'SUCCESS')], [made]),
        // The auto-paid order that kept its money holds budget, and so does the one still held:
        // it has not ended.
        { [spendKey('chaos-agent-1', day).pk]: 1000 },
      ),
    );

    // Assess
    expect(violated(checks)).toEqual({});
  });

  it('flag money kept by an order that is not PAID, and an order still waiting or held without a reason', () => {
    // Prepare
    const failed = order('PENDING_PAYMENT', ['RISK_REJECTED']);
    const waiting = order('PENDING_PAYMENT', ['GATEWAY_PENDING']);
    const held = order('PENDING_PAYMENT', ['HELD_FOR_REVIEW']);

    // Act
    const checks = checkInvariants(
      evidence([failed, waiting, held], ledger([payment(failed, 'SUCCESS')]), {}),
    );

    // Assess
    expect(violated(checks)).toMatchObject({
      'captured - refunded = amount when PAID or owing a failed refund, 0 otherwise': [
        `${failed.orderId} FAILED with 1 payment(s): captured 500 - refunded 0 = 500, expected 0`,
      ],
      'every order is terminal, or held for review with a reason': [
        `${waiting.orderId} still AWAITING_SETTLEMENT`,
        `${held.orderId} held without a reason`,
      ],
    });
  });

  it('flag a voided order whose lookups are not all done, before its money is checked', () => {
    // Prepare: FAILED at its void, due for a lookup; the capture that landed is not refunded yet.
    const voided = order('PENDING_PAYMENT', ['GATEWAY_PENDING', 'SETTLEMENT_DEADLINE_PASSED'], {
      voidedAt: '2026-11-23T09:51:00.000Z',
      dueAt: '2026-11-23T10:51:00.000Z',
    });

    // Act
    const checks = checkInvariants(evidence([voided], ledger([payment(voided, 'SUCCESS')]), {}));

    // Assess: not settled, so not yet held to the money invariant.
    expect(violated(checks)).toEqual({
      'every order is terminal, or held for review with a reason': [
        `${voided.orderId} still FAILED, due 2026-11-23T10:51:00.000Z`,
      ],
    });
  });

  it('flag a move the state machine does not allow', () => {
    // Prepare
    const paid = order('PENDING_PAYMENT', ['GATEWAY_SUCCEEDED']);
    const jumped: Order = {
      ...paid,
      history: [
        ...paid.history,
        { from: 'PAID', to: 'CANCELLED', at: paid.updatedAt, cause: 'CANCEL' },
      ],
      status: 'CANCELLED',
    };

    // Act
    const checks = checkInvariants(evidence([jumped], ledger([]), {}));

    // Assess
    expect(violated(checks)['every history is a legal path']).toEqual([
      `${paid.orderId} PAID -CANCEL-> CANCELLED (entry 3)`,
    ]);
  });

  it('flag a REFUNDED order whose refund id the gateway never made', () => {
    // Prepare
    const refunded = order(
      'PENDING_PAYMENT',
      ['GATEWAY_SUCCEEDED', 'REFUND_REQUESTED', 'REFUND_SUCCEEDED'],
      {
        refundId: 're_stray',
      },
    );
    const captured = payment(refunded, 'SUCCESS', 500);

    // Act
    const checks = checkInvariants(
      evidence([refunded], ledger([captured], [refund(captured, 're_made')]), {}),
    );

    // Assess
    expect(violated(checks)).toEqual({
      'every REFUNDED order names a refund the gateway made of it, and that stands': [
        `${refunded.orderId} records refund re_stray; the gateway made re_made (500)`,
      ],
    });
  });

  it('hold an order owing a refund the gateway failed to the money it kept, and flag one left REFUNDED', () => {
    // Prepare: two refunds that succeeded and then failed, their money back at the gateway.
    const events: OrderEvent[] = ['GATEWAY_SUCCEEDED', 'REFUND_REQUESTED', 'REFUND_SUCCEEDED'];
    const owing = order('PENDING_PAYMENT', [...events, 'REFUND_FAILED'], {
      refundId: 're_owing',
      lastError: 'REFUND_FAILED',
    });
    const stale = order('PENDING_PAYMENT', events, { refundId: 're_stale' });
    const owingPayment = payment(owing, 'SUCCESS');
    const stalePayment = payment(stale, 'SUCCESS');
    const failed = (of: GatewayPayment, id: string): GatewayRefund => ({
      ...refund(of, id),
      amount: of.amount,
      status: 'FAILED',
    });

    // Act
    const checks = checkInvariants(
      evidence(
        [owing, stale],
        ledger(
          [owingPayment, stalePayment],
          [failed(owingPayment, 're_owing'), failed(stalePayment, 're_stale')],
        ),
        {},
      ),
    );

    // Assess
    expect(violated(checks)).toEqual({
      'captured - refunded = amount when PAID or owing a failed refund, 0 otherwise': [
        `${stale.orderId} REFUNDED with 1 payment(s): captured 500 - refunded 0 = 500, expected 0`,
      ],
      'every REFUNDED order names a refund the gateway made of it, and that stands': [
        `${stale.orderId} records refund re_stale; the gateway made re_stale (500, failed)`,
      ],
    });
  });

  it('flag an agent-day whose spend still holds auto-paid orders that did not keep the money', () => {
    // Prepare
    const paid = order('PENDING_PAYMENT', ['GATEWAY_SUCCEEDED']);
    const declined = order('PENDING_PAYMENT', ['GATEWAY_DECLINED'], { amount: 300 });

    // Act
    const checks = checkInvariants(
      evidence([paid, declined], ledger([payment(paid, 'SUCCESS')]), {
        [spendKey('chaos-agent-1', day).pk]: 800,
      }),
    );

    // Assess
    expect(violated(checks)).toEqual({
      "each agent-day's spent budget = its auto-paid orders that kept the money": [
        `${declined.orderId} ${spendKey('chaos-agent-1', day).pk}: spent 800, its PAID and held auto-paid orders hold 500; 1 auto-paid order(s) did not keep the money (${declined.orderId} FAILED 300)`,
      ],
    });
  });

  it('count an auto-paid order still held for review as holding its budget', () => {
    // Prepare
    const paid = order('PENDING_PAYMENT', ['GATEWAY_SUCCEEDED']);
    const held = order('PENDING_PAYMENT', ['HELD_FOR_REVIEW'], {
      amount: 300,
      holdReason: 'RISK_REVIEW',
    });
    const spend = (spent: number) => ({ [spendKey('chaos-agent-1', day).pk]: spent });
    const payments = ledger([payment(paid, 'SUCCESS')]);

    // Act
    const holding = checkInvariants(evidence([paid, held], payments, spend(800)));
    const released = checkInvariants(evidence([paid, held], payments, spend(500)));

    // Assess
    expect(violated(holding)).toEqual({});
    expect(Object.keys(violated(released))).toEqual([
      "each agent-day's spent budget = its auto-paid orders that kept the money",
    ]);
  });

  it('flag orders of the run beyond the keys it used', () => {
    // Prepare
    const placed = order('PENDING_PAYMENT', ['GATEWAY_SUCCEEDED']);
    const extra = order('PENDING_PAYMENT', ['GATEWAY_SUCCEEDED']);
    const run = evidence([placed], ledger([payment(placed, 'SUCCESS')]), {});

    // Act
    const checks = checkInvariants({
      ...run,
      orders: new Map([...run.orders, [extra.orderId, extra]]),
      spend: new Map([[spendKey('chaos-agent-1', day).pk, 500]]),
    });

    // Assess
    expect(violated(checks)).toEqual({
      'no client replay created a second order': [' 1 order(s) beyond the keys used'],
    });
  });
});

describe("the chaos run's count of the events a user must hear of", () => {
  const entry = (
    from: OrderStatus | null,
    to: OrderStatus,
    cause: HistoryEntry['cause'] = from === null ? 'INTAKE' : 'CONFIRM',
  ): HistoryEntry => ({ from, to, at: `${day}T10:00:00.000Z`, cause });

  it('expects one event per status told of, and none for a refused refund or a move in place', () => {
    // Act
    const expected = expectedEvents({
      history: [
        entry(null, 'AWAITING_CONFIRMATION'),
        entry('AWAITING_CONFIRMATION', 'PENDING_PAYMENT'),
        entry('PENDING_PAYMENT', 'PAID'),
        entry('PAID', 'REFUND_PENDING'),
        entry('REFUND_PENDING', 'PAID'),
        entry('PAID', 'REFUND_PENDING'),
        entry('REFUND_PENDING', 'REFUNDED'),
        entry('REFUNDED', 'REFUNDED'),
      ],
    });

    // Assess
    expect(expected).toEqual(['order.awaiting_confirmation', 'order.paid', 'order.refunded']);
  });

  it('expects one order.refund_failed per refund the gateway failed, from REFUNDED or in place', () => {
    // Act
    const expected = expectedEvents({
      history: [
        entry(null, 'PENDING_PAYMENT'),
        entry('PENDING_PAYMENT', 'PAID'),
        entry('PAID', 'REFUND_PENDING'),
        entry('REFUND_PENDING', 'REFUNDED'),
        entry('REFUNDED', 'REFUND_PENDING', 'REFUND_FAILED'),
      ],
    });
    const inPlace = expectedEvents({
      history: [
        entry('PAID', 'REFUND_PENDING'),
        entry('REFUND_PENDING', 'REFUND_PENDING', 'REFUND_FAILED'),
      ],
    });

    // Assess
    expect(expected).toEqual(['order.paid', 'order.refund_failed', 'order.refunded']);
    expect(inPlace).toEqual(['order.refund_failed']);
  });
});
