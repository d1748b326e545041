import { beforeEach, describe, expect, it } from 'vitest';
import { makeLifecycle } from '#domain/lifecycle.ts';
import { defaultDeadlinePolicy, type MoveDeps } from '#domain/order-moves.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import { agentPrincipal, userPrincipal } from '#domain/principal.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
  resendNextMove,
  type SeedOrder,
  seedOrder,
} from '../fakes/in-memory.ts';
import { demoAgent, otherAgent } from '../fixtures/orders.ts';

const orderId = `ord_${'0'.repeat(31)}1`;
const agentId = 'demo-agent';
/** demo-agent's owner, who confirms, cancels and refunds its orders. */
const userId = 'demo-user';
const refundKey = 'refund-key-1';
const user = userPrincipal(userId);

describe('confirm, cancel and refund', () => {
  let orders: InMemoryOrders;
  let payments: RecordingPaymentQueue;
  let checks: RecordingSettlementChecks;
  let clock: FixedClock;
  let deps: MoveDeps;
  let lifecycle: ReturnType<typeof makeLifecycle>;

  beforeEach(() => {
    orders = new InMemoryOrders();
    payments = new RecordingPaymentQueue();
    checks = new RecordingSettlementChecks();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    deps = { orders, clock, deadlines: defaultDeadlinePolicy };
    lifecycle = makeLifecycle({
      ...deps,
      agents: new InMemoryAgents([demoAgent, otherAgent]),
      payments,
      settlementChecks: checks,
    });
  });

  /** Unconfirmed orders wait 300 s from now. */
  const seed = (status: OrderStatus, fields: Omit<SeedOrder, 'orderId'> = {}) =>
    seedOrder(deps, status, { orderId, agentId, gatewayRef: 'pay_1', ...fields });

  const stored = async () => {
    const order = await orders.get(orderId);
    if (order === undefined) throw new Error('the order is gone');
    return order;
  };

  describe('confirm', () => {
    it('moves an unconfirmed order to PENDING_PAYMENT and queues its payment', async () => {
      // Prepare
      await seed('AWAITING_CONFIRMATION');

      // Act
      const result = await lifecycle.confirm(userId, orderId);

      // Assess
      expect(result.replayed).toBe(false);
      expect(result.order).toMatchObject({ orderId, status: 'PENDING_PAYMENT' });
      expect(await stored()).toMatchObject({
        status: 'PENDING_PAYMENT',
        dueAt: '2026-11-23T09:45:00.000Z',
      });
      expect(payments.sent).toEqual([{ orderId, agentId }]);
    });

    it('answers a second confirm as a replay without moving the order again', async () => {
      // Prepare
      await seed('AWAITING_CONFIRMATION');
      await lifecycle.confirm(userId, orderId);

      // Act
      const again = await lifecycle.confirm(userId, orderId);

      // Assess: the payment is queued again, in case the first call stopped before queuing it.
      expect(again.replayed).toBe(true);
      expect(again.order.status).toBe('PENDING_PAYMENT');
      expect((await stored()).history).toHaveLength(2);
      expect(payments.sent).toEqual([
        { orderId, agentId },
        { orderId, agentId },
      ]);
    });

    it('queues the payment again on a replay, even when the order was attempted before a hold', async () => {
      // Prepare: attempted, held, then confirmed by a call that failed to queue the payment.
      await seed('HELD_FOR_REVIEW', { attempts: 1 });
      payments.failNext = 1;
      await expect(lifecycle.confirm(userId, orderId)).rejects.toThrow('queue unavailable');

      // Act
      const again = await lifecycle.confirm(userId, orderId);

      // Assess
      expect(again).toMatchObject({ replayed: true, order: { status: 'PENDING_PAYMENT' } });
      expect(payments.sent).toEqual([{ orderId, agentId }]);
    });

    it('expires an order confirmed after its confirmation window', async () => {
      // Prepare
      await seed('AWAITING_CONFIRMATION');
      clock.advance(301);

      // Act
      const confirming = lifecycle.confirm(userId, orderId);

      // Assess
      await expect(confirming).rejects.toMatchObject({
        code: 'CONFIRMATION_EXPIRED',
        status: 409,
        details: { currentStatus: 'EXPIRED' },
      });
      expect((await stored()).status).toBe('EXPIRED');
      expect(payments.sent).toEqual([]);
    });

    it('refuses to confirm a paid order, saying it is PAID', async () => {
      await seed('PAID');

      await expect(lifecycle.confirm(userId, orderId)).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
        status: 409,
        details: { currentStatus: 'PAID' },
      });
      expect(payments.sent).toEqual([]);
    });

    it('sends an order held for review on to payment', async () => {
      await seed('HELD_FOR_REVIEW');

      const result = await lifecycle.confirm(userId, orderId);

      expect(result).toMatchObject({ replayed: false, order: { status: 'PENDING_PAYMENT' } });
      expect(payments.sent).toEqual([{ orderId, agentId }]);
    });
  });

  describe('cancel', () => {
    it('cancels an unconfirmed order, and answers a second cancel as a replay', async () => {
      // Prepare
      await seed('AWAITING_CONFIRMATION');

      // Act
      const first = await lifecycle.cancel(user, orderId);
      const second = await lifecycle.cancel(user, orderId);

      // Assess
      expect(first).toMatchObject({ replayed: false, order: { status: 'CANCELLED' } });
      expect(second).toMatchObject({ replayed: true, order: { status: 'CANCELLED' } });
      const cancelled = await stored();
      expect(cancelled.history).toHaveLength(2);
      expect(cancelled.dueAt).toBeUndefined();
    });

    it('has the reconciler look for money taken when a held order that was attempted is cancelled', async () => {
      // Prepare: held for review after an attempt whose outcome was unknown.
      await seed('HELD_FOR_REVIEW', { attempts: 1 });

      // Act
      await lifecycle.cancel(user, orderId);

      // Assess
      expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
    });

    it('has the reconciler look for a racing charge when a held order never attempted is cancelled', async () => {
      // Prepare: another delivery of its payment may have passed the risk check and charged.
      await seed('HELD_FOR_REVIEW', { attempts: 0 });

      // Act
      await lifecycle.cancel(user, orderId);

      // Assess
      expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
    });

    it('asks for the lookup again when the cancel of a held order is replayed', async () => {
      // Prepare: the first call cancelled the order and may have died before asking.
      await seed('HELD_FOR_REVIEW');
      await lifecycle.cancel(user, orderId);

      // Act
      const again = await lifecycle.cancel(user, orderId);

      // Assess
      expect(again).toMatchObject({ replayed: true, order: { status: 'CANCELLED' } });
      expect(checks.scheduled).toEqual([
        { orderId, check: 0, delaySeconds: 0 },
        { orderId, check: 0, delaySeconds: 0 },
      ]);
    });

    it('schedules no check, first or replayed, when an order never sent to payment is cancelled', async () => {
      await seed('AWAITING_CONFIRMATION');
      await lifecycle.cancel(user, orderId);
      await lifecycle.cancel(user, orderId);
      expect(checks.scheduled).toEqual([]);
    });

    it.each(['AWAITING_CONFIRMATION', 'HELD_FOR_REVIEW'] as const)(
      'lets the agent cancel its own order in %s',
      async (status) => {
        // Prepare
        await seed(status);

        // Act
        const first = await lifecycle.cancel(agentPrincipal(agentId), orderId);
        const second = await lifecycle.cancel(agentPrincipal(agentId), orderId);

        // Assess
        expect(first).toMatchObject({ replayed: false, order: { status: 'CANCELLED' } });
        expect(second).toMatchObject({ replayed: true, order: { status: 'CANCELLED' } });
        expect((await stored()).history.at(-1)).toMatchObject({ from: status, cause: 'CANCEL' });
        expect(payments.sent).toEqual([]);
      },
    );

    it.each(['cautious-agent', otherAgent.agentId])(
      "answers 404 to %s cancelling another agent's order, and leaves it waiting",
      async (other) => {
        // Prepare: cautious-agent has the same user as demo-agent, other-agent another user.
        const order = await seed('AWAITING_CONFIRMATION');

        // Act
        const acting = lifecycle.cancel(agentPrincipal(other), orderId);

        // Assess
        await expect(acting).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND', status: 404 });
        expect(await stored()).toEqual(order);
      },
    );

    it('refuses the agent a cancel of its own order whose payment has started', async () => {
      await seed('PENDING_PAYMENT');

      await expect(lifecycle.cancel(agentPrincipal(agentId), orderId)).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
        status: 409,
        details: { currentStatus: 'PENDING_PAYMENT' },
      });
      expect((await stored()).status).toBe('PENDING_PAYMENT');
    });

    it('refuses to cancel an order whose payment has started', async () => {
      await seed('PENDING_PAYMENT');

      await expect(lifecycle.cancel(user, orderId)).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
        status: 409,
        details: { currentStatus: 'PENDING_PAYMENT' },
      });
      expect((await stored()).status).toBe('PENDING_PAYMENT');
    });
  });

  describe('refund', () => {
    it('moves a paid order to REFUND_PENDING and schedules the refund at once', async () => {
      // Prepare
      await seed('PAID');

      // Act
      const result = await lifecycle.refund(userId, orderId, refundKey, { reason: 'cold' });

      // Assess
      expect(result).toMatchObject({ replayed: false, order: { status: 'REFUND_PENDING' } });
      expect(await stored()).toMatchObject({ status: 'REFUND_PENDING', refundKey });
      expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
    });

    it('replays the same request and schedules the refund again while it is pending', async () => {
      // Prepare
      await seed('PAID');
      await lifecycle.refund(userId, orderId, refundKey, {});
      const pending = await stored();

      // Act
      const again = await lifecycle.refund(userId, orderId, refundKey, undefined);

      // Assess
      expect(again).toMatchObject({ replayed: true, order: { status: 'REFUND_PENDING' } });
      expect(await stored()).toEqual(pending);
      expect(checks.scheduled).toEqual([
        { orderId, check: 0, delaySeconds: 0 },
        { orderId, check: 0, delaySeconds: 0 },
      ]);
    });

    it('replays the same request after the refund without scheduling another', async () => {
      await seed('PAID');
      await lifecycle.refund(userId, orderId, refundKey, {});
      await orders.transition({
        orderId,
        from: 'REFUND_PENDING',
        to: 'REFUNDED',
        event: 'REFUND_SUCCEEDED',
        at: clock.now().toISOString(),
        call: 'rfnd',
      });

      const again = await lifecycle.refund(userId, orderId, refundKey, {});

      expect(again).toMatchObject({ replayed: true, order: { status: 'REFUNDED' } });
      expect(checks.scheduled).toHaveLength(1);
    });

    it('refuses the same key with another body', async () => {
      await seed('PAID');
      await lifecycle.refund(userId, orderId, refundKey, { reason: 'x' });

      await expect(lifecycle.refund(userId, orderId, refundKey, {})).rejects.toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
        status: 422,
      });
      expect(checks.scheduled).toHaveLength(1);
    });

    it('refuses a second refund under another key', async () => {
      await seed('PAID');
      await lifecycle.refund(userId, orderId, refundKey, {});

      await expect(lifecycle.refund(userId, orderId, 'refund-key-2', {})).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
        status: 409,
        details: { currentStatus: 'REFUND_PENDING' },
      });
      expect((await stored()).refundKey).toBe(refundKey);
    });

    it.each([
      ['no key', undefined],
      ['an empty key', ''],
      ['a key with a space', 'refund key'],
    ])('asks for an Idempotency-Key when given %s', async (_case, key) => {
      await seed('PAID');

      await expect(lifecycle.refund(userId, orderId, key, {})).rejects.toMatchObject({
        code: 'IDEMPOTENCY_KEY_REQUIRED',
        status: 400,
      });
      expect((await stored()).status).toBe('PAID');
    });

    it('refuses to refund an order that was never paid', async () => {
      await seed('AWAITING_CONFIRMATION');

      await expect(lifecycle.refund(userId, orderId, refundKey, {})).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
        status: 409,
        details: { currentStatus: 'AWAITING_CONFIRMATION' },
      });
      expect(checks.scheduled).toEqual([]);
    });
  });

  /*
   * A confirm or a cancel of an order with no auto-pay spend to give back (one its user
   * confirmed) is one conditional UpdateItem. When DynamoDB applies it and the answer is lost, or
   * comes after the client's 1.5 s request timeout, the SDK sends it again and the resend fails
   * its condition: the order already moved, by this very call. Taken for another caller's move,
   * it answered 409 and stopped before its next step: a confirmed order's payment was not queued
   * (it waited 15 minutes for the sweep), and a cancelled held order, which may hide a charge a
   * racing delivery made, was not looked up, so money taken for it stayed with nobody looking.
   */
  describe('whose write was applied and then resent', () => {
    /** The order, whose next move is applied, then sent once more and refused, as the SDK does. */
    async function seedResending(status: OrderStatus) {
      await seed(status, { attempts: 1 });
      resendNextMove(orders);
    }

    it('confirms a held order and queues its payment', async () => {
      // Prepare
      await seedResending('HELD_FOR_REVIEW');

      // Act
      const confirmed = await lifecycle.confirm(userId, orderId);

      // Assess
      expect(confirmed.order.status).toBe('PENDING_PAYMENT');
      expect(payments.sent.map((sent) => sent.orderId)).toEqual([orderId]);
    });

    it('cancels a held order and has the reconciler look for a charge', async () => {
      // Prepare
      await seedResending('HELD_FOR_REVIEW');

      // Act
      const cancelled = await lifecycle.cancel(user, orderId);

      // Assess
      expect(cancelled.order.status).toBe('CANCELLED');
      expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
    });
  });

  describe('whose order', () => {
    const actions = {
      confirm: (user: string, id: string) => lifecycle.confirm(user, id),
      cancel: (owner: string, id: string) => lifecycle.cancel(userPrincipal(owner), id),
      refund: (user: string, id: string) => lifecycle.refund(user, id, refundKey, {}),
    };
    const cases = [
      ['confirm', 'AWAITING_CONFIRMATION'],
      ['cancel', 'AWAITING_CONFIRMATION'],
      ['refund', 'PAID'],
    ] as const;

    it.each(cases)("answers 404 to %s of another user's agent's order", async (action, status) => {
      // Prepare
      const order = await seed(status);

      // Act
      const acting = actions[action](otherAgent.ownerId, orderId);

      // Assess
      await expect(acting).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND', status: 404 });
      expect(await stored()).toEqual(order);
      expect(payments.sent).toEqual([]);
      expect(checks.scheduled).toEqual([]);
    });

    it.each(cases)(
      'answers 404 to %s of an id that is not an order id, without looking it up',
      async (action, status) => {
        // Prepare: even a record stored under such an id is out of reach.
        await seedOrder(deps, status, { orderId: 'ord_1', agentId, gatewayRef: 'pay_1' });

        // Act
        const acting = actions[action](userId, 'ord_1');

        // Assess
        await expect(acting).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND', status: 404 });
        expect((await orders.get('ord_1'))?.status).toBe(status);
      },
    );

    it.each(cases)('answers 404 to %s of a well-formed id of no order', async (action) => {
      await expect(actions[action](userId, orderId)).rejects.toMatchObject({
        code: 'ORDER_NOT_FOUND',
        status: 404,
      });
    });
  });
});
