import { beforeEach, describe, expect, it, type Mock, vi } from 'vitest';
import {
  type CallbackObserver,
  type GatewayEvent,
  gatewayEventSchema,
  makeHandleGatewayEvent,
} from '#domain/callbacks.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import { defaultSettlementSchedule, type SettleDeps } from '#domain/settlement.ts';
import {
  FixedClock,
  InMemoryOrders,
  RecordingSettlementChecks,
  type SeedOrder,
  seedOrder,
} from '../fakes/in-memory.ts';
import { type SpyingSettlementObserver, spyingSettlementObserver } from '../fakes/observers.ts';

const orderId = `ord_${'0'.repeat(31)}1`;

/** A payment.* or refund.* event for the 4.50 CNY order, as the gateway signs it. */
function gatewayEvent(
  type: GatewayEvent['type'],
  data: Partial<GatewayEvent['data']> = {},
): GatewayEvent {
  return {
    id: `evt_${type}`,
    type,
    created: 1_795_420_200,
    data: { paymentId: 'pay_1', idempotencyKey: orderId, amount: 450, currency: 'CNY', ...data },
  };
}

describe('gateway callbacks', () => {
  let orders: InMemoryOrders;
  let checks: RecordingSettlementChecks;
  let observer: SpyingSettlementObserver;
  let callbacks: { [K in keyof CallbackObserver]: Mock<CallbackObserver[K]> };
  let deps: SettleDeps;
  let handle: ReturnType<typeof makeHandleGatewayEvent>;

  beforeEach(() => {
    orders = new InMemoryOrders();
    checks = new RecordingSettlementChecks();
    observer = spyingSettlementObserver();
    callbacks = {
      unknownOrder: vi.fn(),
      amountMismatch: vi.fn(),
      foreignRefund: vi.fn(),
    };
    deps = {
      orders,
      clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
      deadlines: defaultDeadlinePolicy,
      settlementChecks: checks,
      schedule: defaultSettlementSchedule,
      observer,
    };
    handle = makeHandleGatewayEvent({ ...deps, callbacks });
  });

  const seed = (status: OrderStatus, fields: Omit<SeedOrder, 'orderId'> = {}) =>
    seedOrder(deps, status, { orderId, gatewayRef: 'pay_1', ...fields });

  const stored = async () => {
    const order = await orders.get(orderId);
    if (order === undefined) throw new Error('the order is gone');
    return order;
  };

  it('pays an order waiting for settlement on payment.succeeded', async () => {
    // Prepare
    await seed('AWAITING_SETTLEMENT');

    // Act
    const outcome = await handle(gatewayEvent('payment.succeeded'));

    // Assess
    expect(outcome).toEqual({ result: 'applied', status: 'PAID' });
    expect(await stored()).toMatchObject({ status: 'PAID', gatewayRef: 'pay_1' });
  });

  it('changes nothing when the same event arrives twice', async () => {
    // Prepare
    await seed('AWAITING_SETTLEMENT');
    await handle(gatewayEvent('payment.succeeded'));
    const paid = await stored();

    // Act
    const outcome = await handle(gatewayEvent('payment.succeeded'));

    // Assess
    expect(outcome).toEqual({ result: 'unchanged', status: 'PAID' });
    expect(await stored()).toEqual(paid);
  });

  it('keeps an order PAID when payment.pending arrives after payment.succeeded', async () => {
    await seed('PENDING_PAYMENT');
    await handle(gatewayEvent('payment.succeeded'));

    const outcome = await handle(gatewayEvent('payment.pending'));

    expect(outcome).toEqual({ result: 'unchanged', status: 'PAID' });
    expect((await stored()).history.map((entry) => entry.to)).toEqual(['PENDING_PAYMENT', 'PAID']);
    expect(checks.scheduled).toEqual([]);
    expect(observer.ignored).toHaveBeenCalledOnce();
  });

  it('fails an order waiting for settlement on payment.failed, with its decline code', async () => {
    await seed('AWAITING_SETTLEMENT');

    const outcome = await handle(
      gatewayEvent('payment.failed', { declineCode: 'insufficient_funds' }),
    );

    expect(outcome).toEqual({ result: 'applied', status: 'FAILED' });
    expect(await stored()).toMatchObject({ status: 'FAILED', declineCode: 'insufficient_funds' });
  });

  it('leaves a refund that is out and unrecorded to the reconciler that made it', async () => {
    // Prepare
    const pending = await seed('REFUND_PENDING');

    // Act
    const outcome = await handle(gatewayEvent('refund.succeeded', { refundId: 're_1' }));

    // Assess: the reconciler records it, under the id its refund call answers.
    expect(outcome).toEqual({ result: 'unchanged', status: 'REFUND_PENDING' });
    expect(await stored()).toEqual(pending);
    expect(callbacks.foreignRefund).not.toHaveBeenCalled();
  });

  it('changes nothing on the event of the refund the order recorded', async () => {
    const refunded = await seed('REFUNDED', { refundId: 're_1' });

    const outcome = await handle(gatewayEvent('refund.succeeded', { refundId: 're_1' }));

    expect(outcome).toEqual({ result: 'unchanged', status: 'REFUNDED' });
    expect(await stored()).toEqual(refunded);
    expect(callbacks.foreignRefund).not.toHaveBeenCalled();
  });

  it.each<[string, OrderStatus, Partial<GatewayEvent['data']>, string]>([
    ['a refund of an order nobody asked to refund', 'PAID', { refundId: 're_9' }, 'FOREIGN_REFUND'],
    ['a second refund of a refunded order', 'REFUNDED', { refundId: 're_9' }, 'FOREIGN_REFUND'],
    [
      'a partial refund while our refund is out',
      'REFUND_PENDING',
      { refundId: 're_9', amount: 200 },
      'PARTIAL_REFUND',
    ],
    ['a partial refund of a paid order', 'PAID', { refundId: 're_9', amount: 1 }, 'PARTIAL_REFUND'],
  ])('records %s in the history, once, and counts it', async (_case, status, data, code) => {
    // Prepare
    await seed(status, { refundId: status === 'REFUNDED' ? 're_1' : undefined });
    const event = gatewayEvent('refund.succeeded', data);

    // Act
    const first = await handle(event);
    const duplicate = await handle(event);

    // Assess: the status does not move; the refund is in the history exactly once.
    expect(first).toEqual({ result: 'applied', status });
    expect(duplicate).toEqual({ result: 'unchanged', status });
    const recorded = await stored();
    expect(recorded.status).toBe(status);
    expect(recorded.observedRefunds).toEqual(['re_9']);
    expect(recorded.history.filter((entry) => entry.cause === 'REFUND_OBSERVED')).toEqual([
      {
        from: status,
        to: status,
        at: expect.any(String),
        cause: 'REFUND_OBSERVED',
        errorCode: code,
        call: expect.any(String),
      },
    ]);
    expect(callbacks.foreignRefund).toHaveBeenCalledOnce();
  });

  it('pays an order held for review on payment.succeeded: a racing delivery charged it', async () => {
    await seed('HELD_FOR_REVIEW', { gatewayRef: undefined });

    const outcome = await handle(gatewayEvent('payment.succeeded'));

    expect(outcome).toEqual({ result: 'applied', status: 'PAID' });
    expect(await stored()).toMatchObject({ status: 'PAID', gatewayRef: 'pay_1' });
  });

  it('acknowledges and counts an event for a well-formed id of no order', async () => {
    // Prepare
    const order = await seed('AWAITING_SETTLEMENT');
    const event = gatewayEvent('payment.succeeded', { idempotencyKey: `ord_${'0'.repeat(31)}2` });

    // Act
    const outcome = await handle(event);

    // Assess
    expect(outcome).toEqual({ result: 'ignored' });
    expect(callbacks.unknownOrder).toHaveBeenCalledExactlyOnceWith(event);
    expect(await stored()).toEqual(order);
  });

  it('acknowledges and counts an event whose key is not an order id, without looking it up', async () => {
    // Prepare: even a record stored under such a key is out of the event's reach.
    const order = await seedOrder(deps, 'AWAITING_SETTLEMENT', { orderId: 'order-1' });
    const event = gatewayEvent('payment.succeeded', { idempotencyKey: 'order-1' });

    // Act
    const outcome = await handle(event);

    // Assess
    expect(outcome).toEqual({ result: 'ignored' });
    expect(callbacks.unknownOrder).toHaveBeenCalledExactlyOnceWith(event);
    expect(await orders.get('order-1')).toEqual(order);
  });

  it.each([
    ['an amount', { amount: 451 }],
    ['a currency', { currency: 'USD' }],
  ])('refuses an event with %s other than the order has', async (_case, data) => {
    // Prepare
    const order = await seed('AWAITING_SETTLEMENT');
    const event = gatewayEvent('payment.succeeded', data);

    // Act
    const outcome = await handle(event);

    // Assess
    expect(outcome).toEqual({ result: 'mismatch', status: 'AWAITING_SETTLEMENT' });
    expect(await stored()).toEqual(order);
    expect(callbacks.amountMismatch).toHaveBeenCalledExactlyOnceWith(event, order);
  });

  it('refuses a refund of more than the order cost', async () => {
    await seed('REFUND_PENDING');

    const outcome = await handle(gatewayEvent('refund.succeeded', { amount: 451 }));

    expect(outcome).toEqual({ result: 'mismatch', status: 'REFUND_PENDING' });
    expect(callbacks.amountMismatch).toHaveBeenCalledOnce();
  });

  it('refunds money taken by a late payment.succeeded for an expired order', async () => {
    // Prepare
    await seed('EXPIRED', { gatewayRef: undefined });

    // Act
    const outcome = await handle(gatewayEvent('payment.succeeded'));

    // Assess
    expect(outcome).toEqual({ result: 'applied', status: 'REFUND_PENDING' });
    expect(await stored()).toMatchObject({
      status: 'REFUND_PENDING',
      compensation: true,
      gatewayRef: 'pay_1',
    });
    expect(observer.lateSuccess).toHaveBeenCalledOnce();
    expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
  });
});

describe('gatewayEventSchema', () => {
  it('accepts a complete event and keeps fields it does not know', () => {
    const event = { ...gatewayEvent('payment.succeeded'), livemode: false };

    expect(gatewayEventSchema.parse(event)).toEqual(event);
  });

  it('rejects an event without data.idempotencyKey', () => {
    const { idempotencyKey: _, ...data } = gatewayEvent('payment.succeeded').data;

    const result = gatewayEventSchema.safeParse({ ...gatewayEvent('payment.succeeded'), data });

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['data', 'idempotencyKey']);
  });

  it('rejects an amount that is not an integer of minor units', () => {
    const result = gatewayEventSchema.safeParse(gatewayEvent('payment.succeeded', { amount: 4.5 }));

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['data', 'amount']);
  });

  it('rejects an event type it does not handle', () => {
    const result = gatewayEventSchema.safeParse({
      ...gatewayEvent('payment.succeeded'),
      type: 'charge.dispute.created',
    });

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['type']);
  });
});
