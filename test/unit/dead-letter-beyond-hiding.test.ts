import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { chargedBehindDeadMessages, sweepDelivering } from '../fakes/dead-deliveries.ts';
import { fakePipeline } from '../fakes/pipeline.ts';

/*
 * Each sweep run reads a share of the payment DLQ and hides each message it read until the runs
 * after it have read the rest: from the DLQ's depth, it reads enough for a walk through the whole
 * queue in 12 runs (100 to 1,000 messages a run) and hides each message for the runs the walk
 * takes plus one (12 hours at most, SQS's longest). A DLQ deeper than an hour's fixed reads
 * (1,200 messages), read oldest first as the fake and mostly SQS serve it, is still gone through
 * to its end, and an order whose charged payment died unhandled behind the rest is found.
 */

describe('a payment DLQ deeper than the sweep gets through while its messages stay hidden', () => {
  it('still finds the order whose charged payment died unhandled behind them', async () => {
    // Prepare: 1,300 dead messages of orders long settled, then one charged and stranded.
    const p = fakePipeline();
    const order = await chargedBehindDeadMessages(p, 1300);

    // Act: the sweep runs every five minutes for a day; nobody redrives the DLQ.
    await sweepDelivering(p, 1);

    // Assess: the money is kept on a PAID order, and every dead message is still there.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({ status: 'PAID', kept: 450 });
    expect(p.deadPayments.messages).toHaveLength(1301);
  });
});
