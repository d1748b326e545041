import { describe, expect, it } from 'vitest';
import type { RiskAnswer } from '#domain/payment-ports.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * Two deliveries of one payment message race: the first charges and dies with its answer, the
 * second's risk check holds the order, and the gateway's callback is lost. Only the sweep's
 * review lookup, a day after the hold, would find the charge. A user who confirms the held order
 * first, more than a day after the charge, must not be charged again: the gateway keeps an
 * idempotency key for 24 hours only (Stripe prunes keys at least 24 hours old and makes a new
 * request when one is reused after that), so the order's key no longer stops a second charge.
 * A payment confirmed out of a hold is looked up before anything is sent.
 */

const agentId = 'demo-agent';
const DAY_MS = 86_400_000;
const review: RiskAnswer = { kind: 'assessed', level: 'review', requestId: 'r-2' };

describe('a held order its user confirms more than a day after a racing delivery charged it', () => {
  it('is charged once, and PAID by the charge the racing delivery made', async () => {
    // Prepare: the gateway's idempotency keys last 24 hours; the racing delivery charged and
    // died, and the other delivery held the order.
    const p = fakePipeline({ failOpenLimit: 400 });
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    const keyUsedAt = new Map<string, number>();
    let cardCharges = 0;
    const charge = p.gateway.charge.bind(p.gateway);
    p.gateway.charge = async (request) => {
      const now = p.clock.now().getTime();
      const used = keyUsedAt.get(request.idempotencyKey);
      if (used === undefined || now - used >= DAY_MS) {
        cardCharges++;
        keyUsedAt.set(request.idempotencyKey, now);
      }
      return charge(request);
    };
    await p.gateway.charge({
      idempotencyKey: order.orderId,
      amount: order.amount,
      currency: order.currency,
      paymentMethod: order.paymentMethod,
    });
    p.risk.script.push(review);
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    expect((await p.orders.get(order.orderId))?.status).toBe('HELD_FOR_REVIEW');

    // Act: the user confirms the next day, before the review lookup; the payment is delivered.
    p.clock.advance(DAY_MS / 1000 + 60);
    await p.lifecycle.confirm(demoAgent.ownerId, order.orderId);
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);

    // Assess
    expect(cardCharges).toBe(1);
    expect(await p.orders.get(order.orderId)).toMatchObject({
      status: 'PAID',
      gatewayRef: p.gateway.charges.get(order.orderId)?.paymentId,
    });
  });
});
