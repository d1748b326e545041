import { beforeEach, describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { defaultDeadlinePolicy, moveOrder } from '#domain/order-moves.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import type { OrderRepository } from '#domain/ports.ts';
import {
  applyGatewayOutcome,
  defaultSettlementSchedule,
  makeReconcile,
  type ReconcileDeps,
} from '#domain/settlement.ts';
import {
  FixedClock,
  InMemoryOrders,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
  type SeedOrder,
  seedOrder,
} from '../fakes/in-memory.ts';
import { type SpyingSettlementObserver, spyingSettlementObserver } from '../fakes/observers.ts';
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
  let observer: SpyingSettlementObserver;
  let deps: ReconcileDeps;
  let reconcile: ReturnType<typeof makeReconcile>;

  beforeEach(() => {
    orders = new InMemoryOrders();
    checks = new RecordingSettlementChecks();
    payments = new RecordingPaymentQueue();
    gateway = new FakeGateway();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    observer = spyingSettlementObserver();
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

  describe('applyGatewayOutcome on a race', () => {
    it('pays an order held for review when a racing delivery charged, keeping the review in the history', async () => {
      // Prepare
      const order = await seed('HELD_FOR_REVIEW', { holdReason: 'RISK_REVIEW' });

      // Act
      const result = await applyGatewayOutcome(deps, order, {
        kind: 'succeeded',
        paymentId: 'pay_9',
      });

      // Assess
      expect(result).toEqual({ kind: 'applied', status: 'PAID' });
      const paid = await stored();
      expect(paid).toMatchObject({ status: 'PAID', gatewayRef: 'pay_9' });
      expect(paid.history.map((entry) => `${entry.cause}>${entry.to}`)).toEqual([
        'INTAKE>PENDING_PAYMENT',
        'HELD_FOR_REVIEW>HELD_FOR_REVIEW',
        'GATEWAY_SUCCEEDED>PAID',
      ]);
      expect(observer.lateSuccess).not.toHaveBeenCalled();
    });

    it('waits for the settlement of a charge a racing delivery left pending on a held order', async () => {
      const order = await seed('HELD_FOR_REVIEW');

      const result = await applyGatewayOutcome(deps, order, {
        kind: 'pending',
        paymentId: 'pay_9',
      });

      expect(result).toEqual({ kind: 'applied', status: 'AWAITING_SETTLEMENT' });
      expect(await stored()).toMatchObject({ gatewayRef: 'pay_9', dueAt: expect.any(String) });
      expect(checks.scheduled).toEqual([
        { orderId, check: 1, delaySeconds: schedule.firstCheckSeconds },
      ]);
    });

    it('leaves a held order held on a decline: no money moved, the reviewer decides', async () => {
      const order = await seed('HELD_FOR_REVIEW');

      const result = await applyGatewayOutcome(deps, order, {
        kind: 'declined',
        paymentId: 'pay_9',
        declineCode: 'card_declined',
      });

      expect(result).toEqual({ kind: 'unchanged', status: 'HELD_FOR_REVIEW' });
      expect(await stored()).toEqual(order);
    });

    it.each<[string, Parameters<typeof moveOrder>[2], string]>([
      ['held it for review', 'HELD_FOR_REVIEW', 'PAID'],
      ['failed it on a risk reject', 'RISK_REJECTED', 'REFUND_PENDING'],
    ])(
      'applies a success read before a racing delivery %s to what that delivery left: %s',
      async (_case, racing, expected) => {
        // Prepare: this delivery read the order, charged, and another delivery wrote first.
        const snapshot = await seed('PENDING_PAYMENT');
        await moveOrder(deps, snapshot, racing);

        // Act
        const result = await applyGatewayOutcome(deps, snapshot, {
          kind: 'succeeded',
          paymentId: 'pay_9',
        });

        // Assess: never "unchanged" while the money would rest on an order that is not PAID.
        expect(result).toEqual({ kind: 'applied', status: expected });
        expect((await stored()).gatewayRef).toBe('pay_9');
        expect(observer.lateSuccess).toHaveBeenCalledTimes(expected === 'PAID' ? 0 : 1);
      },
    );

    it('has the reconciler void a payment still open for an order we closed', async () => {
      const order = await seed('CANCELLED');

      const result = await applyGatewayOutcome(deps, order, {
        kind: 'pending',
        paymentId: 'pay_9',
      });

      expect(result).toEqual({ kind: 'unchanged', status: 'CANCELLED' });
      expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
      expect(observer.ignored).not.toHaveBeenCalled();
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
      // One lookup an interval later, for a capture that lands after the void; the due index
      // brings the order back for the next an hour after the void.
      expect(checks.scheduled).toEqual([
        { orderId, check: 0, delaySeconds: schedule.intervalSeconds },
      ]);
      expect(failed).toMatchObject({
        voidedAt: '2026-11-23T09:30:00.000Z',
        dueAt: '2026-11-23T10:30:00.000Z',
      });
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
      // The refund is looked at once more a little later, in case it fails afterwards.
      expect(checks.scheduled).toEqual([
        { orderId, check: 0, delaySeconds: 0 },
        { orderId, check: 0, delaySeconds: defaultSettlementSchedule.intervalSeconds },
      ]);
      expect(refunded).toEqual({ kind: 'done', detail: 'REFUNDED' });
      expect(again).toEqual({ kind: 'done', detail: 'refund stands' });
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

    it.each<OrderStatus>(['FAILED', 'CANCELLED', 'EXPIRED'])(
      'voids a payment still open at the gateway for an order in %s, and looks once more later',
      async (status) => {
        // Prepare
        await chargeAtGateway('pending');
        const order = await seed(status);

        // Act
        const result = await reconcile({ orderId, check: 0 }, 1);

        // Assess
        expect(result).toEqual({ kind: 'done', detail: 'voided' });
        expect(gateway.calls).toEqual([`lookup:${orderId}`, 'void:pay_1']);
        expect(gateway.voided).toEqual(new Set(['pay_1']));
        // Not moved: only put on the lookups that follow a void, the next an hour after it.
        expect(await stored()).toEqual({
          ...order,
          voidedAt: '2026-11-23T09:30:00.000Z',
          dueAt: '2026-11-23T10:30:00.000Z',
        });
        expect(checks.scheduled).toEqual([
          { orderId, check: 0, delaySeconds: schedule.intervalSeconds },
        ]);
      },
    );

    it('keeps a closed order on the lookups it is on when a lookup finds its payment open again', async () => {
      // Prepare: voided an hour ago, next looked up in a day; the gateway shows it pending again.
      await chargeAtGateway('pending');
      await seed('FAILED');
      await orders.annotate(orderId, 'FAILED', {
        voidedAt: '2026-11-23T08:30:00.000Z',
        dueAt: '2026-11-24T08:30:00.000Z',
      });
      const order = await stored();

      // Act
      const result = await reconcile({ orderId, check: 0 }, 1);

      // Assess: voided again, nothing written.
      expect(result).toEqual({ kind: 'done', detail: 'voided' });
      expect(gateway.voided).toEqual(new Set(['pay_1']));
      expect(await stored()).toEqual(order);
    });

    it('gives back money a payment took before its void on a closed order arrived', async () => {
      // Prepare: the lookup still saw it pending; it captured before the void.
      await chargeAtGateway('pending');
      await seed('CANCELLED');
      gateway.lookupScript.push({
        kind: 'found',
        outcome: { kind: 'pending', paymentId: 'pay_1' },
      });
      gateway.settle(orderId, 'succeeded');

      // Act
      const result = await reconcile({ orderId, check: 0 }, 1);

      // Assess
      expect(result).toEqual({ kind: 'done', detail: 'applied REFUND_PENDING' });
      expect(await stored()).toMatchObject({ compensation: true, gatewayRef: 'pay_1' });
      expect(observer.lateSuccess).toHaveBeenCalledOnce();
    });

    it('finds the charge of a racing delivery for an order held for review, and pays it', async () => {
      await chargeAtGateway('succeeded');
      await seed('HELD_FOR_REVIEW');

      const result = await reconcile({ orderId, check: 0 }, 1);

      expect(result).toEqual({ kind: 'done', detail: 'applied PAID' });
      expect(payments.sent).toEqual([]);
    });

    it('leaves a held order no payment reached as it is', async () => {
      const order = await seed('HELD_FOR_REVIEW');

      const result = await reconcile({ orderId, check: 0 }, 1);

      expect(result).toEqual({ kind: 'done', detail: 'no payment at the gateway' });
      expect(await stored()).toEqual(order);
      expect(payments.sent).toEqual([]);
    });

    it('refunds a capture that landed after a void answered voided, found by the lookup after it', async () => {
      // Prepare: a payment that never settles, and a gateway that captures it despite the void.
      await awaitingSettlement();
      gateway.captureDespiteVoid = true;
      const voided = await reconcile({ orderId, check: schedule.checks }, 1);
      expect(voided).toEqual({ kind: 'done', detail: 'voided' });
      expect((await stored()).status).toBe('FAILED');

      // Act: the verification lookup, then the refund it schedules.
      clock.advance(schedule.intervalSeconds);
      const found = await reconcile({ orderId, check: 0 }, 1);
      const refunded = await reconcile({ orderId, check: 0 }, 1);

      // Assess
      expect(found).toEqual({ kind: 'done', detail: 'applied REFUND_PENDING' });
      expect(refunded).toEqual({ kind: 'done', detail: 'REFUNDED' });
      expect(observer.lateSuccess).toHaveBeenCalledOnce();
      expect([...gateway.refunds.values()]).toEqual([{ paymentId: 'pay_1', amount: 450 }]);
    });

    describe('past the payment window', () => {
      const payBy = '2026-11-23T09:00:00.000Z';

      it('fails an order the gateway never saw, says so, and looks once more later', async () => {
        // Prepare
        await seed('PENDING_PAYMENT', { payBy, attempts: 3, lastError: 'GATEWAY_UNAVAILABLE' });

        // Act
        const result = await reconcile({ orderId, check: 0 }, 1);

        // Assess: failed, not charged, not handed back to payment submission.
        expect(result).toEqual({ kind: 'done', detail: 'payment window passed' });
        const failed = await stored();
        expect(failed).toMatchObject({ status: 'FAILED', lastError: 'PAYMENT_WINDOW_EXPIRED' });
        expect(failed.history.at(-1)).toMatchObject({
          from: 'PENDING_PAYMENT',
          to: 'FAILED',
          cause: 'PAYMENT_WINDOW_PASSED',
          errorCode: 'PAYMENT_WINDOW_EXPIRED',
        });
        expect(failed.dueAt).toBeUndefined();
        expect(observer.paymentWindowExpired).toHaveBeenCalledOnce();
        expect(payments.sent).toEqual([]);
        expect(gateway.calls).toEqual([`lookup:${orderId}`]);
        expect(checks.scheduled).toEqual([
          { orderId, check: 0, delaySeconds: schedule.intervalSeconds },
        ]);
      });

      it('voids a payment still pending, then fails the order', async () => {
        await chargeAtGateway('pending');
        await seed('PENDING_PAYMENT', { payBy });

        const result = await reconcile({ orderId, check: 0 }, 1);

        expect(result).toEqual({ kind: 'done', detail: 'voided' });
        expect(gateway.voided).toEqual(new Set(['pay_1']));
        expect(await stored()).toMatchObject({
          status: 'FAILED',
          lastError: 'PAYMENT_WINDOW_EXPIRED',
          gatewayRef: 'pay_1',
        });
      });

      it.each([
        ['found settled', 'succeeded' as const, 'applied PAID'],
        ['settled as it was voided', 'pending' as const, 'applied PAID'],
      ])('pays an order whose charge the gateway %s', async (_case, kind, detail) => {
        // Prepare: money taken within the window is the order's payment, whenever it is found.
        await chargeAtGateway(kind);
        await seed('PENDING_PAYMENT', { payBy });
        if (kind === 'pending') {
          gateway.lookupScript.push({
            kind: 'found',
            outcome: { kind: 'pending', paymentId: 'pay_1' },
          });
          gateway.settle(orderId, 'succeeded');
        }

        // Act
        const result = await reconcile({ orderId, check: 0 }, 1);

        // Assess
        expect(result).toEqual({ kind: 'done', detail });
        expect((await stored()).status).toBe('PAID');
        expect(observer.paymentWindowExpired).not.toHaveBeenCalled();
      });

      it('retries later when the gateway cannot be asked, leaving the order as it is', async () => {
        const order = await seed('PENDING_PAYMENT', { payBy });
        gateway.lookupScript.push({ kind: 'unavailable', detail: 'http 503' });

        const result = await reconcile({ orderId, check: 0 }, 1);

        expect(result).toMatchObject({ kind: 'retry', reason: 'unavailable' });
        expect(await stored()).toEqual(order);
      });
    });

    describe('a refund the gateway refuses', () => {
      it("puts a user's refund back to PAID, says why, and does not send it again", async () => {
        // Prepare
        await seed('REFUND_PENDING', { gatewayRef: 'pay_7' });
        gateway.refundScript.push({ kind: 'rejected', reason: 'invalid_state' });

        // Act
        const result = await reconcile({ orderId, check: 0 }, 1);

        // Assess
        expect(result).toEqual({ kind: 'done', detail: 'refund rejected: invalid_state' });
        const paid = await stored();
        expect(paid).toMatchObject({ status: 'PAID', lastError: 'REFUND_REJECTED' });
        expect(paid.history.at(-1)).toMatchObject({
          from: 'REFUND_PENDING',
          to: 'PAID',
          cause: 'REFUND_REJECTED',
          errorCode: 'REFUND_REJECTED',
        });
        expect(paid.dueAt).toBeUndefined();
        expect(observer.refundRejected).toHaveBeenCalledExactlyOnceWith(
          expect.objectContaining({ status: 'PAID' }),
          'invalid_state',
        );
        expect(await reconcile({ orderId, check: 0 }, 1)).toEqual({
          kind: 'done',
          detail: 'nothing to do while PAID',
        });
      });

      it('keeps a compensation owing the money, out of the sweep, and alarms', async () => {
        // Prepare
        await chargeAtGateway('succeeded');
        await seed('EXPIRED');
        await reconcile({ orderId, check: 0 }, 1);
        gateway.refundScript.push({ kind: 'rejected', reason: 'invalid_state' });

        // Act
        const result = await reconcile({ orderId, check: 0 }, 1);

        // Assess
        expect(result).toEqual({ kind: 'done', detail: 'refund rejected: invalid_state' });
        const owing = await stored();
        expect(owing).toMatchObject({
          status: 'REFUND_PENDING',
          compensation: true,
          lastError: 'REFUND_REJECTED',
        });
        expect(owing.history.at(-1)).toMatchObject({ cause: 'COMPENSATION_REJECTED' });
        expect(owing.dueAt).toBeUndefined();
        expect(observer.refundRejected).toHaveBeenCalledOnce();
      });

      it("ends REFUNDED, as another's refund, when the gateway says the payment was refunded in full", async () => {
        // Prepare: the payment was refunded at the gateway's dashboard before ours went out.
        await chargeAtGateway('succeeded');
        const paymentId = gateway.charges.get(orderId)?.paymentId ?? '';
        gateway.refunds.set('dashboard', { paymentId, amount: 450 });
        await seed('REFUND_PENDING', { gatewayRef: paymentId });
        gateway.refundScript.push({ kind: 'rejected', reason: 'invalid_state' });

        // Act
        const result = await reconcile({ orderId, check: 0 }, 1);

        // Assess
        expect(result).toEqual({ kind: 'done', detail: 'refunded elsewhere' });
        const end = await stored();
        expect(end.status).toBe('REFUNDED');
        expect(end.history.slice(-2)).toMatchObject([
          { cause: 'REFUND_OBSERVED', errorCode: 'FOREIGN_REFUND' },
          { from: 'REFUND_PENDING', to: 'REFUNDED', cause: 'REFUND_SUCCEEDED' },
        ]);
        expect(observer.foreignRefund).toHaveBeenCalledOnce();
        expect(observer.refundRejected).not.toHaveBeenCalled();
      });
    });

    it("ends REFUNDED, as another's refund, when the compensation is refused for a payment someone refunded in full already", async () => {
      // Prepare: money taken for an expired order, refunded since at the gateway's dashboard.
      await chargeAtGateway('succeeded');
      await seed('EXPIRED');
      await reconcile({ orderId, check: 0 }, 1);
      const paymentId = gateway.charges.get(orderId)?.paymentId ?? '';
      gateway.refunds.set('dashboard', { paymentId, amount: 450 });

      // Act
      const result = await reconcile({ orderId, check: 0 }, 1);

      // Assess
      expect(result).toEqual({ kind: 'done', detail: 'refunded elsewhere' });
      expect(await stored()).toMatchObject({ status: 'REFUNDED', compensation: true });
      expect(gateway.calls.filter((call) => call.startsWith('refund:'))).toEqual([
        `refund:${paymentId}`,
      ]);
      expect(gateway.refunds.size).toBe(1);
      expect(observer.foreignRefund).toHaveBeenCalledOnce();
    });

    it('marks the refund done even when a refund was recorded on the order meanwhile', async () => {
      // Prepare: read while REFUND_PENDING; then a foreign refund is recorded on the order.
      const snapshot = await seed('REFUND_PENDING', { gatewayRef: 'pay_7' });
      await moveOrder(deps, snapshot, 'REFUND_OBSERVED', { observedRefunds: ['re_other'] });
      const readsSnapshot: OrderRepository = {
        create: orders.create.bind(orders),
        claim: orders.claim.bind(orders),
        unclaim: orders.unclaim.bind(orders),
        get: async () => snapshot,
        getMany: async () => new Map([[snapshot.orderId, snapshot]]),
        transition: orders.transition.bind(orders),
        findDue: orders.findDue.bind(orders),
        annotate: orders.annotate.bind(orders),
      };

      // Act
      const result = await makeReconcile({ ...deps, orders: readsSnapshot })(
        { orderId, check: 0 },
        1,
      );

      // Assess
      expect(result).toEqual({ kind: 'done', detail: 'REFUNDED' });
      expect((await stored()).status).toBe('REFUNDED');
    });

    it('acknowledges a check of an order that does not exist', async () => {
      const result = await reconcile({ orderId, check: 1 }, 1);

      expect(result).toEqual({ kind: 'done', detail: 'no such order' });
      expect(gateway.calls).toEqual([]);
    });
  });
});
