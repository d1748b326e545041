import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { chargedAndStranded, deepen, sweepRunsUndelivered } from '../fakes/dead-deliveries.ts';
import { type FakePipeline, fakePipeline, sweepEverySeconds } from '../fakes/pipeline.ts';

/*
 * A sweep run receives its share of the payment DLQ, which hides each message it received for
 * the whole walk through the queue (the walk's runs plus one, up to 12 hours), and only then
 * reads the orders they name. When that read fails (DynamoDB throttled, as it is when payment
 * messages die on their writes), the run shows the messages it received again, so that the next
 * run reads them rather than the walk's next round: an order whose charged payment died
 * unhandled among them is found within a run of the table's recovery. A message naming no order
 * id intake issues (one DynamoDB would refuse as a key) is not asked for, so it cannot fail the
 * read of the others every run and hold the walk on them.
 */

/** DynamoDB refuses a batch read naming a key over 2,048 bytes, the whole batch. */
function refusingLongKeys(p: FakePipeline): void {
  const getMany = p.orders.getMany.bind(p.orders);
  p.orders.getMany = async (orderIds) => {
    if (orderIds.some((orderId) => orderId.length > 2048)) {
      throw new Error('ValidationException: key too large');
    }
    return getMany(orderIds);
  };
}

/** An order charged and stranded, its message first in a DLQ 60,001 messages deep. */
async function strandedFirstInDeepDlq() {
  const p = fakePipeline();
  const order = await chargedAndStranded(p, 'k-1');
  deepen(p);
  return { p, order };
}

/** A sweep run whose read of the orders the DLQ names is throttled; then the table recovers. */
async function failedOrderRead(p: FakePipeline): Promise<void> {
  const getMany = p.orders.getMany.bind(p.orders);
  p.orders.getMany = async () => {
    throw new Error('ProvisionedThroughputExceededException');
  };
  await sweepRunsUndelivered(p, 1);
  p.orders.getMany = getMany;
}

describe('dead payment messages received by a run that could not read their orders', () => {
  it('are read again by the next run, which finds the charged order among them', async () => {
    // Prepare
    const { p, order } = await strandedFirstInDeepDlq();

    // Act: one run fails to read the orders; the table recovers; one more run.
    await failedOrderRead(p);
    await sweepRunsUndelivered(p, 1);

    // Assess: the stranded order is found and set moving; the messages stay in the DLQ.
    const found = (await p.orders.get(order.orderId)) as Order;
    expect({
      deadLettered: found.deadLettered,
      sent: p.payments.sent.map((message) => message.orderId),
      shownAgain: p.deadPayments.shownAgain,
      dead: p.deadPayments.messages.length,
    }).toEqual({ deadLettered: true, sent: [order.orderId], shownAgain: 1, dead: 60_001 });
  });

  it('are left hidden for the walk when they cannot be shown again, and found when it comes round', async () => {
    // Prepare: as above, and the DLQ refuses to show them again.
    const { p, order } = await strandedFirstInDeepDlq();
    p.deadPayments.showAgain = async () => {
      throw new Error('queue unavailable');
    };

    // Act: the failed run, then runs until just before and just after the walk comes round.
    await failedOrderRead(p);
    const walk = (p.deadPayments.hides[0] ?? 0) / sweepEverySeconds;
    await sweepRunsUndelivered(p, walk - 1);
    const before = (await p.orders.get(order.orderId)) as Order;
    await sweepRunsUndelivered(p, 1);
    const after = (await p.orders.get(order.orderId)) as Order;

    // Assess
    expect({ walk, before: before.deadLettered, after: after.deadLettered }).toEqual({
      walk: 62,
      before: undefined,
      after: true,
    });
  });

  it('leaves a message naming no order to the operator, so that the orders beside it are found', async () => {
    // Prepare: a message naming a key DynamoDB refuses, then a charged and stranded order's.
    const p = fakePipeline();
    p.deadPayments.messages.push({ orderId: 'x'.repeat(3000), agentId: 'demo-agent' });
    const order = await chargedAndStranded(p, 'k-1');
    p.payments.sent.length = 0;
    refusingLongKeys(p);

    // Act
    await sweepRunsUndelivered(p, 1);

    // Assess: the order is found; both messages stay.
    const found = (await p.orders.get(order.orderId)) as Order;
    expect({
      deadLettered: found.deadLettered,
      sent: p.payments.sent.map((message) => message.orderId),
      dead: p.deadPayments.messages.length,
    }).toEqual({ deadLettered: true, sent: [order.orderId], dead: 2 });
  });
});
