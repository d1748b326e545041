import { describe, expect, it } from 'vitest';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import { defaultRiskPolicy } from '#domain/risk-policy.ts';
import { seedOrder } from '../fakes/in-memory.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';

describe('an order held for review', () => {
  it('is paid once confirmed, without being held again', async () => {
    // Prepare: the risk engine wants every payment of this order reviewed.
    const { orders, clock, gateway, risk, submit, lifecycle } = fakePipeline({
      failOpenLimit: defaultRiskPolicy.failOpenLimit,
    });
    risk.fallback = { kind: 'assessed', level: 'review', requestId: 'r-1' };
    const orderId = `ord_${'0'.repeat(31)}1`;
    const deps = { orders, clock, deadlines: defaultDeadlinePolicy };
    await seedOrder(deps, 'PENDING_PAYMENT', { orderId, agentId: 'demo-agent' });
    await submit({ orderId, agentId: 'demo-agent' }, firstDelivery);
    expect((await orders.get(orderId))?.status).toBe('HELD_FOR_REVIEW');

    // Act: the reviewer confirms, and payment submission takes the queued message.
    await lifecycle.confirm('demo-user', orderId);
    const result = await submit({ orderId, agentId: 'demo-agent' }, firstDelivery);

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
    // Looked up first: a racing delivery may have charged it before the hold.
    expect(gateway.calls).toEqual([`lookup:${orderId}`, `charge:${orderId}`]);
    expect(risk.calls).toBe(1);
    expect((await orders.get(orderId))?.risk).toMatchObject({ approvedAfterReview: true });
  });
});
