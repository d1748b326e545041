import { describe, expect, it } from 'vitest';
import { defaultDeadlinePolicy, moveOrder } from '#domain/order-moves.ts';
import { FixedClock, InMemoryOrders, seedOrder } from '../fakes/in-memory.ts';

describe('moving an order', () => {
  it('refuses a move from a snapshot the order has since left and come back to', async () => {
    // Prepare: a delivery reads the order, then it is held and an operator confirms it back.
    const orders = new InMemoryOrders();
    const deps = {
      orders,
      clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
      deadlines: defaultDeadlinePolicy,
    };
    const orderId = `ord_${'0'.repeat(31)}7`;
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
});
