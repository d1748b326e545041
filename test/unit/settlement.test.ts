import { beforeEach, describe, expect, it, type Mock, vi } from 'vitest';
import type { Order } from '#domain/order.ts';
import { defaultDeadlinePolicy, moveOrder } from '#domain/order-moves.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import {
  applyGatewayOutcome,
  defaultSettlementSchedule,
  makeReconcile,
  type ReconcileDeps,
  type SettlementObserver,
} from '#domain/settlement.ts';
import {
  FixedClock,
  InMemoryOrders,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
  type SeedOrder,
  seedOrder,
} from '../fakes/in-memory.ts';
import { FakeGateway } from '../fakes/payments.ts';

const orderId = `ord_${'0'.repeat(31)}1`;
const agentId = 'demo-agent';
/** First check 60 s out, then every 300 s, five checks: 21 minutes before a void. */
const schedule = defaultSettlementSchedule;

describe('settlement', () => {
  let orders: InMemoryOrders;
  let checks: RecordingSettlementChecks;
  let payments: RecordingPaymentQueue;
  let gateway: FakeGateway;
  let clock: FixedClock;
  let observer: { [K in keyof SettlementObserver]: Mock<SettlementObserver[K]> };
  let deps: ReconcileDeps;
  let reconcile: ReturnType<typeof makeReconcile>;

  beforeEach(() => {
    orders = new InMemoryOrders();
    checks = new RecordingSettlementChecks();
    payments = new RecordingPaymentQueue();
    gateway = new FakeGateway();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    observer = { lateSuccess: vi.fn(), ignored: vi.fn() };
    deps = {
      orders,
      clock,
      deadlines: defaultDeadlinePolicy,
      settlementChecks: checks,
      schedule,
      observer,
      gateway,
      payments,
      backoff: { baseSeconds: 1, maxSeconds: 300 },
    };
    reconcile = makeReconcile(deps);
  });

  const seed = (status: OrderStatus, fields: Omit<SeedOrder, 'orderId'> = {}) =>
    seedOrder(deps, status, { orderId, agentId, ...fields });

  /** The gateway takes (or starts taking) the money for the order, under its idempotency key. */
  async function chargeAtGateway(kind: 'succeeded' | 'pending' | 'declined') {
    gateway.nextStatus = kind;
    await gateway.charge({
      idempotencyKey: orderId,
      amount: 450,
      currency: 'CNY',
      paymentMethod: 'wallet',
    });
    gateway.calls.length = 0;
  }

  const stored = async () => {
    const order = await orders.get(orderId);
    if (order === undefined) throw new Error('the order is gone');
    return order;
  };

  describe('applyGatewayOutcome', () => {
    it.each<OrderStatus>(['PENDING_PAYMENT', 'AWAITING_SETTLEMENT'])(
      'pays an order in %s on a success and keeps the gateway reference',
      async (status) => {
        // Prepare
        const order = await seed(status);

        // Act
        const result = await applyGatewayOutcome(deps, order, {
          kind: 'succeeded',
          paymentId: 'pay_9',
        });

        // Assess
        expect(result).toEqual({ kind: 'applied', status: 'PAID' });
        const paid = await stored();
        expect(paid).toMatchObject({ status: 'PAID', gatewayRef: 'pay_9' });
        expect(paid.compensation).toBeUndefined();
        expect(paid.dueAt).toBeUndefined();
        expect(observer.lateSuccess).not.toHaveBeenCalled();
        expect(checks.scheduled).toEqual([]);
      },
    );

    it.each<OrderStatus>(['FAILED', 'CANCELLED', 'EXPIRED'])(
      'refunds a late success for an order in %s, flags the compensation and schedules the refund',
      async (status) => {
        // Prepare
        const order = await seed(status);

        // Act
        const result = await applyGatewayOutcome(deps, order, {
          kind: 'succeeded',
          paymentId: 'pay_9',
        });

        // Assess
        expect(result).toEqual({ kind: 'applied', status: 'REFUND_PENDING' });
        expect(await stored()).toMatchObject({
          status: 'REFUND_PENDING',
          gatewayRef: 'pay_9',
          compensation: true,
        });
        expect(observer.lateSuccess).toHaveBeenCalledOnce();
        expect(observer.lateSuccess.mock.calls[0]?.[0]).toMatchObject({
          orderId,
          status: 'REFUND_PENDING',
        });
        expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
      },
    );

    it.each<OrderStatus>(['PAID', 'REFUNDED'])(
      'leaves an order in %s as it is on another success, and says it ignored it',
      async (status) => {
        // Prepare
        const order = await seed(status, { gatewayRef: 'pay_1' });

        // Act
        const result = await applyGatewayOutcome(deps, order, {
          kind: 'succeeded',
          paymentId: 'pay_1',
        });

        // Assess
        expect(result).toEqual({ kind: 'unchanged', status });
        expect(await stored()).toEqual(order);
        expect(observer.ignored).toHaveBeenCalledOnce();
        expect(observer.lateSuccess).not.toHaveBeenCalled();
        expect(checks.scheduled).toEqual([]);
      },
    );

    it('moves a pending payment to AWAITING_SETTLEMENT with its deadline and schedules check 1', async () => {
      // Prepare
      const order = await seed('PENDING_PAYMENT');

      // Act
      const result = await applyGatewayOutcome(deps, order, {
        kind: 'pending',
        paymentId: 'pay_9',
      });

      // Assess: 60 s to the first check, then four intervals of 300 s.
      expect(result).toEqual({ kind: 'applied', status: 'AWAITING_SETTLEMENT' });
      expect(await stored()).toMatchObject({
        status: 'AWAITING_SETTLEMENT',
        gatewayRef: 'pay_9',
        settleBy: '2026-11-23T09:51:00.000Z',
        dueAt: '2026-11-23T09:51:00.000Z',
      });
      expect(checks.scheduled).toEqual([
        { orderId, check: 1, delaySeconds: schedule.firstCheckSeconds },
      ]);
    });

    it('ignores a pending answer for an order already waiting for settlement', async () => {
      const order = await seed('AWAITING_SETTLEMENT', { gatewayRef: 'pay_1' });

      const result = await applyGatewayOutcome(deps, order, {
        kind: 'pending',
        paymentId: 'pay_1',
      });

      expect(result).toEqual({ kind: 'unchanged', status: 'AWAITING_SETTLEMENT' });
      expect(checks.scheduled).toEqual([]);
      expect(observer.ignored).toHaveBeenCalledOnce();
    });

    it.each<OrderStatus>(['PENDING_PAYMENT', 'AWAITING_SETTLEMENT'])(
      'fails an order in %s on a decline, with the decline code and GATEWAY_DECLINED',
      async (status) => {
        // Prepare
        const order = await seed(status);

        // Act
        const result = await applyGatewayOutcome(deps, order, {
          kind: 'declined',
          paymentId: 'pay_9',
          declineCode: 'insufficient_funds',
        });

        // Assess
        expect(result).toEqual({ kind: 'applied', status: 'FAILED' });
        const failed = await stored();
        expect(failed).toMatchObject({
          status: 'FAILED',
          declineCode: 'insufficient_funds',
          lastError: 'GATEWAY_DECLINED',
          gatewayRef: 'pay_9',
        });
        expect(failed.history.at(-1)).toMatchObject({
          from: status,
          to: 'FAILED',
          cause: 'GATEWAY_DECLINED',
          errorCode: 'GATEWAY_DECLINED',
        });
      },
    );

    it('writes nothing when the order moved since it was read (a stale write)', async () => {
      // Prepare: read while PENDING_PAYMENT, then another delivery pays it.
      const snapshot = await seed('PENDING_PAYMENT');
      await moveOrder(deps, snapshot, 'GATEWAY_SUCCEEDED', { gatewayRef: 'pay_1' });
      const paid = await stored();

      // Act
      const result = await applyGatewayOutcome(deps, snapshot, {
        kind: 'declined',
        paymentId: 'pay_1',
        declineCode: 'card_declined',
      });

      // Assess
      expect(result).toEqual({ kind: 'unchanged', status: 'PAID' });
      expect(await stored()).toEqual(paid);
    });
  });

  describe('reconcile', () => {
    /** An order the gateway answered PENDING for, as payment submission leaves it. */
    async function awaitingSettlement(): Promise<Order> {
      await chargeAtGateway('pending');
      return seed('AWAITING_SETTLEMENT', {
        gatewayRef: 'pay_1',
        settleBy: '2026-11-23T09:51:00.000Z',
      });
    }

    it('schedules the next check after the interval while the payment is still pending', async () => {
      // Prepare
      const order = await awaitingSettlement();

      // Act
      const result = await reconcile({ orderId, check: 2 }, 1);

      // Assess
      expect(result).toEqual({ kind: 'done', detail: 'still pending after check 2' });
      expect(checks.scheduled).toEqual([
        { orderId, check: 3, delaySeconds: schedule.intervalSeconds },
      ]);
      expect(gateway.calls).toEqual([`lookup:${orderId}`]);
      expect(await stored()).toEqual(order);
    });

    it('voids a payment still pending at the last check and fails the order with SETTLEMENT_TIMEOUT', async () => {
      // Prepare
      await awaitingSettlement();

      // Act
      const result = await reconcile({ orderId, check: schedule.checks }, 1);

      // Assess
      expect(result).toEqual({ kind: 'done', detail: 'voided' });
      expect(gateway.calls).toEqual([`lookup:${orderId}`, 'void:pay_1']);
      expect(gateway.voided).toEqual(new Set(['pay_1']));
      const failed = await stored();
      expect(failed).toMatchObject({ status: 'FAILED', lastError: 'SETTLEMENT_TIMEOUT' });
      expect(failed.history.at(-1)).toMatchObject({
        from: 'AWAITING_SETTLEMENT',
        to: 'FAILED',
        cause: 'SETTLEMENT_DEADLINE_PASSED',
        errorCode: 'SETTLEMENT_TIMEOUT',
      });
      expect(checks.scheduled).toEqual([]);
    });

    it('voids an early check once the settlement deadline has passed', async () => {
      await awaitingSettlement();
      clock.advance(21 * 60);

      const result = await reconcile({ orderId, check: 1 }, 1);

      expect(result).toEqual({ kind: 'done', detail: 'voided' });
      expect((await stored()).status).toBe('FAILED');
    });

    it('pays the order when the void finds the payment already settled', async () => {
      // Prepare: the lookup still saw it pending; it settled before the void arrived.
      await awaitingSettlement();
      gateway.lookupScript.push({
        kind: 'found',
        outcome: { kind: 'pending', paymentId: 'pay_1' },
      });
      gateway.settle(orderId, 'succeeded');

      // Act
      const result = await reconcile({ orderId, check: schedule.checks }, 1);

      // Assess
      expect(result).toEqual({ kind: 'done', detail: 'applied PAID' });
      expect(gateway.calls).toEqual([`lookup:${orderId}`, 'void:pay_1']);
      expect(gateway.voided.size).toBe(0);
      expect(await stored()).toMatchObject({ status: 'PAID', gatewayRef: 'pay_1' });
    });

    it('pays the order when the gateway says the payment succeeded', async () => {
      await awaitingSettlement();
      gateway.settle(orderId, 'succeeded');

      const result = await reconcile({ orderId, check: 1 }, 1);

      expect(result).toEqual({ kind: 'done', detail: 'applied PAID' });
      expect(await stored()).toMatchObject({ status: 'PAID', gatewayRef: 'pay_1' });
      expect(checks.scheduled).toEqual([]);
      expect(gateway.calls).not.toContain('void:pay_1');
    });

    it('fails the order when the gateway says the payment failed', async () => {
      await awaitingSettlement();
      gateway.settle(orderId, 'declined');

      const result = await reconcile({ orderId, check: 1 }, 1);

      expect(result).toEqual({ kind: 'done', detail: 'applied FAILED' });
      expect(await stored()).toMatchObject({
        status: 'FAILED',
        declineCode: 'settlement_failed',
      });
      expect(checks.scheduled).toEqual([]);
    });

    it('retries later, with a back-off, when the gateway cannot be asked', async () => {
      // Prepare
      const order = await awaitingSettlement();
      gateway.lookupScript.push({ kind: 'unavailable', detail: 'http 503' });

      // Act: the first delivery backs off 1 s with a 1 s base.
      const result = await reconcile({ orderId, check: 1 }, 1);

      // Assess
      expect(result).toEqual({ kind: 'retry', delaySeconds: 1, reason: 'unavailable' });
      expect(await stored()).toEqual(order);
      expect(checks.scheduled).toEqual([]);
    });

    it('waits at least as long as the gateway asks when it throttles', async () => {
      await awaitingSettlement();
      gateway.lookupScript.push({ kind: 'throttled', retryAfterSeconds: 120 });

      const result = await reconcile({ orderId, check: 1 }, 1);

      expect(result).toEqual({ kind: 'retry', delaySeconds: 120, reason: 'throttled' });
    });

    it('hands a PENDING_PAYMENT order the gateway never saw back to payment submission', async () => {
      // Prepare
      const order = await seed('PENDING_PAYMENT');

      // Act
      const result = await reconcile({ orderId, check: 0 }, 1);

      // Assess
      expect(result).toEqual({ kind: 'done', detail: 'requeued for payment' });
      expect(payments.sent).toEqual([{ orderId, agentId }]);
      expect(await stored()).toEqual(order);
    });

    it('pays a PENDING_PAYMENT order the gateway already charged', async () => {
      await chargeAtGateway('succeeded');
      await seed('PENDING_PAYMENT');

      const result = await reconcile({ orderId, check: 0 }, 1);

      expect(result).toEqual({ kind: 'done', detail: 'applied PAID' });
      expect(await stored()).toMatchObject({ status: 'PAID', gatewayRef: 'pay_1' });
      expect(payments.sent).toEqual([]);
    });

    it('refunds, exactly once, money taken for an order that had expired', async () => {
      // Prepare: the charge went through after the order expired.
      await chargeAtGateway('succeeded');
      await seed('EXPIRED');

      // Act: the lookup finds the late success, then the scheduled check 0 sends the refund.
      const found = await reconcile({ orderId, check: 0 }, 1);
      const compensating = await stored();
      const refunded = await reconcile({ orderId, check: 0 }, 1);
      const again = await reconcile({ orderId, check: 0 }, 1);

      // Assess
      expect(found).toEqual({ kind: 'done', detail: 'applied REFUND_PENDING' });
      expect(compensating).toMatchObject({
        status: 'REFUND_PENDING',
        compensation: true,
        gatewayRef: 'pay_1',
      });
      expect(observer.lateSuccess).toHaveBeenCalledOnce();
      expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
      expect(refunded).toEqual({ kind: 'done', detail: 'REFUNDED' });
      expect(again).toEqual({ kind: 'done', detail: 'nothing to do while REFUNDED' });
      expect(await stored()).toMatchObject({
        status: 'REFUNDED',
        refundId: `re_refund_${orderId}`,
        compensation: true,
      });
      expect([...gateway.refunds]).toEqual([
        [`refund_${orderId}`, { paymentId: 'pay_1', amount: 450 }],
      ]);
    });

    it('sends one refund under one key when two checks of a refund run at once', async () => {
      // Prepare
      await chargeAtGateway('succeeded');
      await seed('EXPIRED');
      await reconcile({ orderId, check: 0 }, 1);

      // Act
      const results = await Promise.all([
        reconcile({ orderId, check: 0 }, 1),
        reconcile({ orderId, check: 0 }, 1),
      ]);

      // Assess
      expect(results.map((result) => result.kind === 'done' && result.detail).sort()).toEqual([
        'REFUNDED',
        'raced',
      ]);
      expect([...gateway.refunds.keys()]).toEqual([`refund_${orderId}`]);
      expect((await stored()).status).toBe('REFUNDED');
    });

    it("sends a user's refund and marks the order REFUNDED", async () => {
      // Prepare
      await seed('REFUND_PENDING', { gatewayRef: 'pay_7', lastError: 'REFUND_REJECTED' });

      // Act
      const result = await reconcile({ orderId, check: 0 }, 1);

      // Assess
      expect(result).toEqual({ kind: 'done', detail: 'REFUNDED' });
      const refunded = await stored();
      expect(refunded).toMatchObject({ status: 'REFUNDED', refundId: `re_refund_${orderId}` });
      expect(refunded.lastError).toBeUndefined();
      expect(refunded.dueAt).toBeUndefined();
      expect(gateway.refunds.get(`refund_${orderId}`)).toEqual({ paymentId: 'pay_7', amount: 450 });
    });

    it('acknowledges a check of an order that does not exist', async () => {
      const result = await reconcile({ orderId, check: 1 }, 1);

      expect(result).toEqual({ kind: 'done', detail: 'no such order' });
      expect(gateway.calls).toEqual([]);
    });
  });
});
