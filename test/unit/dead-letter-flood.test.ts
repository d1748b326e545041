import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import {
  chargeThenDieOnWrites,
  deliveryNumber,
  sweepDelivering,
} from '../fakes/dead-deliveries.ts';
import { fakePipeline } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * The sweep finds an order whose payment message died unhandled by reading the payment DLQ, 100
 * messages a run while it is shallow (SWEEP_DEAD_LETTER_BATCH_SIZE), and never deletes there. A
 * gateway outage that outlasts eight deliveries fills the DLQ with the messages of every order
 * placed meanwhile (handled deaths: those orders are due and the sweep pays them after the
 * outage), and they stay until an operator redrives them. A message that then dies unhandled, after its first
 * delivery charged (writes throttled, timeouts), lands behind them. Each message a run reads stays
 * hidden until the runs after it have read the rest (from the DLQ's depth), so the next run reads
 * the ones behind it rather than the same hundred again, and the stranded order is found.
 */

const agentId = 'demo-agent';
/** One CNY a cup: a hundred orders stay within demo-agent's daily limit. */
const smallOrder = { ...latteOrder, amount: 100 };

describe('a payment DLQ holding more dead messages than one sweep run reads', () => {
  it('still finds the order whose charged payment died unhandled behind them', async () => {
    // Prepare: a gateway outage; a hundred orders' messages die after eight deliveries each.
    const p = fakePipeline();
    const charge = p.gateway.charge.bind(p.gateway);
    p.gateway.charge = async () => ({ kind: 'unavailable', detail: 'outage' });
    for (let n = 0; n < 100; n++) {
      p.clock.advance(2);
      const { order } = await p.placeOrder({
        agentId,
        idempotencyKey: `outage-${n}`,
        body: { ...smallOrder, sessionId: `s-${n}` },
      });
      for (let receiveCount = 1; receiveCount <= 8; receiveCount++) {
        await p.deliver({ orderId: order.orderId, agentId }, deliveryNumber(receiveCount));
      }
    }
    p.gateway.charge = charge;
    // The gateway is back; one more order charges on its first delivery, and every delivery of
    // it then dies on the order's write.
    p.clock.advance(60);
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await chargeThenDieOnWrites(p, order);
    expect(p.gateway.charges.get(order.orderId)?.kind).toBe('succeeded');
    expect(p.deadPayments.messages).toHaveLength(101);
    p.payments.sent.length = 0;

    // Act: the sweep runs every five minutes for two days, and every payment message and check
    // it sends is delivered; nobody redrives the DLQ.
    await sweepDelivering(p, 2);

    // Assess: the money is kept on a PAID order.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({ status: 'PAID', kept: 450 });
  });
});
