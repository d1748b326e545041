import { describe, expect, it } from 'vitest';
import { CircuitBreaker, defaultBreakerPolicy } from '#domain/circuit-breaker.ts';
import { makeLifecycle } from '#domain/lifecycle.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import { defaultRiskPolicy } from '#domain/risk-policy.ts';
import { defaultSettlementSchedule } from '#domain/settlement.ts';
import { makeSubmitPayment } from '#domain/submit-payment.ts';
import {
  FixedClock,
  InMemoryOrders,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
  seedOrder,
} from '../fakes/in-memory.ts';
import { FakeGateway, FakeRiskEngine, InMemoryBreakerStore } from '../fakes/payments.ts';

describe('an order held for review', () => {
  it('is paid once confirmed, without being held again', async () => {
    // Prepare: the risk engine wants every payment of this order reviewed.
    const orders = new InMemoryOrders();
    const clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    const gateway = new FakeGateway();
    const risk = new FakeRiskEngine();
    risk.fallback = { kind: 'assessed', level: 'review', requestId: 'r-1' };
    const checks = new RecordingSettlementChecks();
    const deps = { orders, clock, deadlines: defaultDeadlinePolicy };
    const orderId = `ord_${'0'.repeat(31)}1`;
    await seedOrder(deps, 'PENDING_PAYMENT', { orderId, agentId: 'demo-agent' });
    const submit = makeSubmitPayment({
      orders,
      gateway,
      risk,
      breaker: new CircuitBreaker(new InMemoryBreakerStore(), 'fake', clock, defaultBreakerPolicy),
      settlementChecks: checks,
      clock,
      observer: {
        gatewayCall() {},
        riskBypassed() {},
        lateSuccess() {},
        ignored() {},
        refundRejected() {},
        paymentWindowExpired() {},
      },
      sleep: async () => {},
      policy: {
        risk: defaultRiskPolicy,
        backoff: { baseSeconds: 1, maxSeconds: 300 },
        settlement: defaultSettlementSchedule,
        deadlines: defaultDeadlinePolicy,
      },
    });
    const lifecycle = makeLifecycle({
      ...deps,
      payments: new RecordingPaymentQueue(),
      settlementChecks: checks,
    });
    const delivery = { receiveCount: 1, maxReceiveCount: 8, remainingMs: () => 30_000 };
    await submit({ orderId, agentId: 'demo-agent' }, delivery);
    expect((await orders.get(orderId))?.status).toBe('HELD_FOR_REVIEW');

    // Act: the reviewer confirms, and payment submission takes the queued message.
    await lifecycle.confirm('demo-agent', orderId);
    const result = await submit({ orderId, agentId: 'demo-agent' }, delivery);

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
    expect(gateway.calls).toEqual([`charge:${orderId}`]);
    expect(risk.calls).toBe(1);
    expect((await orders.get(orderId))?.risk).toMatchObject({ approvedAfterReview: true });
  });
});
