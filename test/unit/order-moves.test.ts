import { beforeEach, describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import {
  defaultDeadlinePolicy,
  type MoveDeps,
  moveAsDecided,
  moveOrder,
} from '#domain/order-moves.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import { FixedClock, InMemoryOrders, seedOrder, spendKeyOf } from '../fakes/in-memory.ts';

const orderId = `ord_${'0'.repeat(31)}7`;
const agentDay = { agentId: 'demo-agent', day: '2026-11-23' };

describe('moving an order', () => {
  let orders: InMemoryOrders;
  let clock: FixedClock;
  let deps: MoveDeps;

  beforeEach(() => {
    orders = new InMemoryOrders();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    deps = { orders, clock, deadlines: defaultDeadlinePolicy };
  });

  const stored = async () => {
    const order = await orders.get(orderId);
    if (order === undefined) throw new Error('the order is gone');
    return order;
  };

  /** An auto-paid order whose 4.50 took its agent-day's budget from 0 to 450. */
  async function autoPaid(status: OrderStatus): Promise<Order> {
    const order = await seedOrder(deps, status, { orderId, spendDay: agentDay.day });
    orders.spent.set(spendKeyOf(agentDay), 450);
    return order;
  }

  const spent = () => orders.spent.get(spendKeyOf(agentDay));

  it('refuses a move from a snapshot the order has since left and come back to', async () => {
    // Prepare: a delivery reads the order, then it is held and an operator confirms it back.
    const snapshot = await seedOrder(deps, 'PENDING_PAYMENT', { orderId });
    const held = await moveOrder(deps, snapshot, 'HELD_FOR_REVIEW', { holdReason: 'RISK_REVIEW' });
    if (held.kind !== 'applied') throw new Error('could not hold the order');
    await moveOrder(deps, held.order, 'CONFIRM');

    // Act: the stale delivery's verdict arrives.
    const stale = await moveOrder(deps, snapshot, 'HELD_FOR_REVIEW', { holdReason: 'RISK_REVIEW' });

    // Assess
    expect(stale.kind).toBe('stale');
    expect((await orders.get(orderId))?.status).toBe('PENDING_PAYMENT');
  });

  it("restarts the sweep's redrive budget and its key windows when the order enters a state, not on a self-loop", async () => {
    // Prepare: a refund the sweep has redriven and waited a key window for twice.
    await seedOrder(deps, 'REFUND_PENDING', { orderId });
    await orders.annotate(orderId, 'REFUND_PENDING', { redrives: 4, refundKeyWindows: 2 });

    // Act: a self-loop, then the refusal that makes the order PAID again.
    const looped = await moveOrder(deps, await stored(), 'REFUND_OBSERVED');
    const kept = await stored();
    await moveOrder(deps, kept, 'REFUND_REJECTED', { lastError: 'REFUND_REJECTED' });

    // Assess
    expect(looped.kind).toBe('applied');
    expect(kept).toMatchObject({ redrives: 4, refundKeyWindows: 2 });
    const paid = await stored();
    expect(paid.status).toBe('PAID');
    expect(paid.redrives).toBeUndefined();
    expect(paid.refundKeyWindows).toBeUndefined();
  });

  it('opens a payment window each time the order enters PENDING_PAYMENT', async () => {
    // Prepare
    const held = await seedOrder(deps, 'HELD_FOR_REVIEW', { orderId });
    clock.advance(3 * 3600);

    // Act
    const confirmed = await moveOrder(deps, held, 'CONFIRM');

    // Assess: a day from the confirmation, and the order is due first at the payment deadline.
    expect(confirmed.kind === 'applied' && confirmed.order).toMatchObject({
      status: 'PENDING_PAYMENT',
      payBy: '2026-11-24T12:30:00.000Z',
      dueAt: '2026-11-23T12:45:00.000Z',
    });
  });

  it('is due at the end of the payment window when that comes before the payment deadline', async () => {
    const held = await seedOrder(deps, 'HELD_FOR_REVIEW', { orderId });
    const short = { ...deps, deadlines: { ...defaultDeadlinePolicy, paymentWindowSeconds: 60 } };

    const confirmed = await moveOrder(short, held, 'CONFIRM');

    expect(confirmed.kind === 'applied' && confirmed.order).toMatchObject({
      payBy: '2026-11-23T09:31:00.000Z',
      dueAt: '2026-11-23T09:31:00.000Z',
    });
  });

  it.each<[OrderStatus, Parameters<typeof moveOrder>[2]]>([
    ['PENDING_PAYMENT', 'GATEWAY_DECLINED'],
    ['PENDING_PAYMENT', 'PAYMENT_WINDOW_PASSED'],
    ['HELD_FOR_REVIEW', 'CANCEL'],
    ['AWAITING_SETTLEMENT', 'SETTLEMENT_DEADLINE_PASSED'],
  ])('gives the auto-pay budget back when an order in %s ends on %s', async (status, event) => {
    // Prepare
    const order = await autoPaid(status);

    // Act
    const moved = await moveOrder(deps, order, event);

    // Assess
    expect(moved.kind === 'applied' && moved.order.spendReleased).toBe(true);
    expect(spent()).toBe(0);
  });

  it('keeps the budget taken by an order that is paid', async () => {
    const order = await autoPaid('PENDING_PAYMENT');

    await moveOrder(deps, order, 'GATEWAY_SUCCEEDED');

    expect((await stored()).spendReleased).toBeUndefined();
    expect(spent()).toBe(450);
  });

  it('gives the budget back once when money taken for a failed order is refunded', async () => {
    // Prepare: the order failed, then a late success was found and refunded.
    const order = await autoPaid('PENDING_PAYMENT');
    const failed = await moveOrder(deps, order, 'RISK_REJECTED');
    if (failed.kind !== 'applied') throw new Error('could not fail the order');
    const compensating = await moveOrder(deps, failed.order, 'GATEWAY_SUCCEEDED', {
      compensation: true,
    });
    if (compensating.kind !== 'applied') throw new Error('could not compensate');

    // Act
    const refunded = await moveOrder(deps, compensating.order, 'REFUND_SUCCEEDED');

    // Assess
    expect(refunded.kind).toBe('applied');
    expect(spent()).toBe(0);
  });

  it("gives the budget back when a user's refund of a paid order is done", async () => {
    const paid = await autoPaid('REFUND_PENDING');

    await moveOrder(deps, paid, 'REFUND_SUCCEEDED');

    expect(spent()).toBe(0);
  });

  it('gives nothing back for an order its user confirmed, which took no budget', async () => {
    const order = await seedOrder(deps, 'HELD_FOR_REVIEW', { orderId });
    orders.spent.set(spendKeyOf(agentDay), 450);

    await moveOrder(deps, order, 'CANCEL');

    expect(spent()).toBe(450);
    expect((await stored()).spendReleased).toBeUndefined();
  });

  it('keeps the deadline of an order recording a refund in place', async () => {
    const order = await seedOrder(deps, 'REFUND_PENDING', { orderId });
    clock.advance(60);

    const recorded = await moveOrder(deps, order, 'REFUND_OBSERVED');

    expect(recorded.kind === 'applied' && recorded.order.dueAt).toBe(order.dueAt);
  });

  describe('moveAsDecided', () => {
    it('decides again from what the writer that got there first left', async () => {
      // Prepare: read while PENDING_PAYMENT; another delivery then holds the order.
      const snapshot = await seedOrder(deps, 'PENDING_PAYMENT', { orderId });
      await moveOrder(deps, snapshot, 'HELD_FOR_REVIEW', { holdReason: 'RISK_REVIEW' });
      const seen: OrderStatus[] = [];

      // Act
      const result = await moveAsDecided(deps, snapshot, (order) => {
        seen.push(order.status);
        return { event: 'GATEWAY_SUCCEEDED', changes: { gatewayRef: 'pay_1' } };
      });

      // Assess
      expect(seen).toEqual(['PENDING_PAYMENT', 'HELD_FOR_REVIEW']);
      expect(result.kind).toBe('applied');
      expect((await stored()).history.map((entry) => entry.to)).toEqual([
        'PENDING_PAYMENT',
        'HELD_FOR_REVIEW',
        'PAID',
      ]);
    });

    it('writes nothing when the decision for the order as it is now is to leave it', async () => {
      const snapshot = await seedOrder(deps, 'PENDING_PAYMENT', { orderId });
      await moveOrder(deps, snapshot, 'GATEWAY_SUCCEEDED');
      const paid = await stored();

      const result = await moveAsDecided(deps, snapshot, (order) =>
        order.status === 'PENDING_PAYMENT' ? { event: 'GATEWAY_DECLINED' } : undefined,
      );

      expect(result).toEqual({ kind: 'unchanged', order: paid });
      expect(await stored()).toEqual(paid);
    });
  });
});
