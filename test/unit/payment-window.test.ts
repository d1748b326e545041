import { describe, expect, it } from 'vitest';
import { spendKeyOf } from '../fakes/in-memory.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

const agentId = 'demo-agent';
const day = 24 * 3600;

describe('the payment window', () => {
  it('fails an order the gateway was down for all day, charging nobody, and gives its budget back', async () => {
    // Prepare: the only attempt meets a gateway that is down; its message is then lost.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.gateway.chargeScript.push({ kind: 'unavailable', detail: 'http 503' });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    p.clock.advance(day);

    // Act: the sweep finds it past its window; the reconciler closes it; late messages come.
    await p.sweep();
    await p.runChecks();
    const late = await p.submit(
      { orderId: order.orderId, agentId },
      { ...firstDelivery, receiveCount: 2 },
    );

    // Assess
    const failed = await p.orders.get(order.orderId);
    expect(failed).toMatchObject({
      status: 'FAILED',
      lastError: 'PAYMENT_WINDOW_EXPIRED',
      spendReleased: true,
    });
    expect(failed?.dueAt).toBeUndefined();
    expect(late).toEqual({ kind: 'done', detail: 'already FAILED, no payment at the gateway' });
    expect(p.gateway.chargeCount()).toBe(0);
    expect(p.told.paymentWindowExpired).toBe(1);
    expect(p.orders.spent.get(spendKeyOf({ agentId, day: '2026-11-23' }))).toBe(0);
  });

  it('does not charge a message that arrives after the window, and closes the order instead', async () => {
    // Prepare
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.clock.advance(day);

    // Act
    const result = await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    await p.runChecks();

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'payment window passed' });
    expect(p.gateway.calls.filter((call) => call.startsWith('charge'))).toEqual([]);
    expect((await p.orders.get(order.orderId))?.status).toBe('FAILED');
  });
});
