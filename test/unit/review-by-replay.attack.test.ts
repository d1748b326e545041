import { describe, expect, it } from 'vitest';
import type { RiskAnswer } from '#domain/payment-ports.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * An agent that wants an order paid that the risk engine would hold for review replays its own
 * placement (same key, same body) as fast as it can before the first verdict is written: while
 * the order is unattempted, every replay queues one more payment message. Each delivery asks the
 * risk engine on its own; one that meets an engine failing under the load fails open and
 * charges, after another delivery has written the hold, and "a success for an order held for
 * review pays it". Nobody reviewed the order.
 */

const agentId = 'demo-agent';
const review: RiskAnswer = { kind: 'assessed', level: 'review', requestId: 'r-review' };
const throttled: RiskAnswer = { kind: 'error', code: 'RequestLimitExceeded', retryable: true };

describe('an agent replaying its own placement before the first verdict', () => {
  it('neither multiplies the payment deliveries nor gets an order paid the risk engine held', async () => {
    // Prepare
    const p = fakePipeline();
    const placement = { agentId, idempotencyKey: 'k-1', body: latteOrder };
    const { order } = await p.placeOrder(placement);

    // Act: ten replays; then two of the deliveries run at once, one meeting a throttled engine.
    for (let replay = 0; replay < 10; replay++) await p.placeOrder(placement);
    p.risk.script.push(review, throttled, throttled, throttled);
    const request = { orderId: order.orderId, agentId };
    await Promise.all([p.submit(request, firstDelivery), p.submit(request, firstDelivery)]);

    // Assess
    const end = await p.orders.get(order.orderId);
    expect({
      deliveries: p.payments.sent.length,
      status: end?.status,
      charges: p.gateway.chargeCount(),
    }).toEqual({ deliveries: 1, status: 'HELD_FOR_REVIEW', charges: 0 });
  });
});
