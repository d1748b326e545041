import { describe, expect, it } from 'vitest';
import type { RiskAnswer } from '#domain/payment-ports.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * An agent that wants an order paid that the risk engine would hold for review replays its own
 * placement (same key, same body) as fast as it can before the first verdict is written. A
 * replay queues the payment only when intake could not queue it, so the replays add no
 * delivery. And should two deliveries run at once anyway (SQS delivers at least once), one that
 * meets an engine failing under the load and fails open re-reads the order before it charges:
 * the hold another delivery wrote stands, and nobody is charged for an order held for review.
 */

const agentId = 'demo-agent';
const review: RiskAnswer = { kind: 'assessed', level: 'review', requestId: 'r-review' };
const throttled: RiskAnswer = { kind: 'error', code: 'RequestLimitExceeded', retryable: true };

describe('an agent replaying its own placement before the first verdict', () => {
  it('queues one payment delivery, however many replays', async () => {
    // Prepare
    const p = fakePipeline();
    const placement = { agentId, idempotencyKey: 'k-1', body: latteOrder };
    await p.placeOrder(placement);

    // Act
    for (let replay = 0; replay < 10; replay++) await p.placeOrder(placement);

    // Assess
    expect(p.payments.sent).toHaveLength(1);
  });

  it('gets no charge for an order the risk engine held while a racing delivery failed open', async () => {
    // Prepare
    const p = fakePipeline();
    const placement = { agentId, idempotencyKey: 'k-1', body: latteOrder };
    const { order } = await p.placeOrder(placement);

    // Act: two deliveries of the message run at once, one meeting a throttled engine.
    p.risk.script.push(review, throttled, throttled, throttled);
    const request = { orderId: order.orderId, agentId };
    await Promise.all([p.submit(request, firstDelivery), p.submit(request, firstDelivery)]);

    // Assess
    const end = await p.orders.get(order.orderId);
    expect({ status: end?.status, charges: p.gateway.chargeCount() }).toEqual({
      status: 'HELD_FOR_REVIEW',
      charges: 0,
    });
  });
});
