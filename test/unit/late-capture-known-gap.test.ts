import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * autopay defends against a void that does not hold (the chaos run's late success) with exactly
 * one lookup, 300 s after the void. A capture that lands later than that, and whose callback is
 * lost, is never looked for again: the order is FAILED, out of the due index, and the money is
 * kept. The chaos run cannot show it: its late captures come one second after the void.
 */

const agentId = 'demo-agent';

describe('a capture that lands after the lookup that follows a void', () => {
  // Known gap: one lookup follows a void, trusting the gateway's contract that a voided payment
  // never settles. Once a later capture is looked for, this fails: flip it to it().
  it.fails('is kept on a FAILED order: nothing looks for a capture after the one lookup that follows a void', async () => {
    // Prepare: a pending payment that never settles is voided at its deadline; the lookup 300 s
    // later finds nothing.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.gateway.nextStatus = 'pending';
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    await p.runChecks();
    expect(p.gateway.voided.size).toBe(1);
    expect((await p.orders.get(order.orderId))?.status).toBe('FAILED');

    // Act: ten minutes after the void the processor captures after all; the callback is lost.
    // The sweep runs for a week, and every check anything schedules is delivered.
    p.clock.advance(600);
    const { paymentId } = p.gateway.charges.get(order.orderId) ?? {};
    p.gateway.charges.set(order.orderId, { kind: 'succeeded', paymentId: paymentId ?? '' });
    for (let run = 0; run < 7 * 24 * 12; run++) {
      p.clock.advance(300);
      await p.sweep();
      await p.runChecks();
    }

    // Assess: money kept only on a PAID order.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({
      status: 'REFUNDED',
      kept: 0,
    });
  });
});
