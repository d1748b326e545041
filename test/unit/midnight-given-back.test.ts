import { describe, expect, it } from 'vitest';
import { makePlaceOrder } from '#domain/place-order.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
} from '../fakes/in-memory.ts';
import { demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';

/*
 * Just after midnight UTC a claim also checks the previous day's item for the intent. When both
 * items refuse it, a previous-day intent that was given back (its hash left without a record: its
 * order never stored) must not win over a real duplicate in today's item, or the placement is
 * taken for "not a duplicate", claimed again without the check and paid at once. Here: a coffee
 * placed at 23:58 whose payment could not be queued (given back, 503), placed again under a new
 * key at 00:01 (paid, rightly), and again under a third key at 00:02, which must wait for the
 * user as POSSIBLE_DUPLICATE rather than charge the user twice.
 */

describe('a given-back intent from before midnight', () => {
  it('does not hide a duplicate paid after midnight', async () => {
    // Prepare
    const orders = new InMemoryOrders();
    const payments = new RecordingPaymentQueue();
    const clock = new FixedClock(new Date('2026-11-23T23:58:00Z'));
    const placeOrder = makePlaceOrder({
      orders,
      agents: new InMemoryAgents([demoAgent]),
      payments,
      clock,
      policy: intakePolicy,
    });
    const body = { ...latteOrder, sessionId: 's-midnight' };
    const place = (idempotencyKey: string) =>
      placeOrder({ agentId: demoAgent.agentId, idempotencyKey, body });
    payments.failNext = 1;
    await expect(place('k-1')).rejects.toThrow();
    clock.advance(180);
    const paid = await place('k-2');
    clock.advance(60);

    // Act
    const again = await place('k-3');

    // Assess
    expect(paid.order.status).toBe('PENDING_PAYMENT');
    expect(again.order.status).toBe('AWAITING_CONFIRMATION');
    expect(again.order.confirmationReason).toBe('POSSIBLE_DUPLICATE');
    expect(again.order.duplicateOf).toBe(paid.order.orderId);
  });
});
