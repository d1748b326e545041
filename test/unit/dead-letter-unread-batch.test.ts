import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import type { SweepObserver } from '#domain/sweep.ts';
import { chargedAndStranded, deepen, sweepRunsUndelivered } from '../fakes/dead-deliveries.ts';
import { silentSweepObserver } from '../fakes/in-memory.ts';
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
 *
 * Once the orders are read, each is handled on its own: a write that throws for one order
 * (DynamoDB throttled) is logged, the others and the due index go on, and that order's messages
 * are shown again for the next run. An order whose writes keep failing is not shown again by the
 * run after the one that showed it again: it is read twice a walk, not every run.
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

/** What the sweep said of each dead payment message it could not handle, in order. */
function recordingUnhandled() {
  const unhandled: { orderId: string; shownAgain: boolean }[] = [];
  const observer: SweepObserver = {
    ...silentSweepObserver,
    deadPaymentUnhandled: (orderId, _error, shownAgain) => unhandled.push({ orderId, shownAgain }),
  };
  return { unhandled, observer };
}

/** Every write of the order throws; how many were tried. */
function failingWrites(p: FakePipeline, orderId: string): { tries: number } {
  const count = { tries: 0 };
  const annotate = p.orders.annotate.bind(p.orders);
  p.orders.annotate = async (id, ...rest) => {
    if (id !== orderId) return annotate(id, ...rest);
    count.tries++;
    throw new Error('ValidationException: Item size has exceeded the maximum allowed size');
  };
  return count;
}

describe('dead payment messages of a run whose write of one of their orders failed', () => {
  it('are handled but for that order, whose messages the next run reads again, and the due index is swept', async () => {
    // Prepare: two orders charged and stranded, first in a DLQ 60,002 messages deep; the
    // table throttles the first write the sweep makes.
    const { unhandled, observer } = recordingUnhandled();
    const p = fakePipeline({ sweepObserver: observer });
    const first = await chargedAndStranded(p, 'k-1');
    const second = await chargedAndStranded(p, 'k-2');
    deepen(p);
    const annotate = p.orders.annotate.bind(p.orders);
    p.orders.annotate = async () => {
      p.orders.annotate = annotate;
      throw new Error('ProvisionedThroughputExceededException');
    };

    // Act: the run whose first write throws; one more run.
    p.clock.advance(sweepEverySeconds);
    const report = await p.sweep();
    const sentFirst = p.payments.sent.map((message) => message.orderId);
    await sweepRunsUndelivered(p, 1);

    // Assess: the second order found and redriven by the run that failed on the first; the first
    // order's messages alone shown again, and the first order found by the next run.
    const found = await Promise.all([first, second].map((o) => p.orders.get(o.orderId)));
    expect({
      requeued: report.requeued,
      sentFirst,
      unhandled,
      shownAgainOf: p.deadPayments.shownAgainOf,
      found: found.map((order) => (order as Order).deadLettered),
      sent: p.payments.sent.map((message) => message.orderId),
    }).toEqual({
      requeued: 1,
      sentFirst: [second.orderId],
      unhandled: [{ orderId: first.orderId, shownAgain: true }],
      shownAgainOf: [[first.orderId]],
      found: [true, true],
      sent: [second.orderId, first.orderId],
    });
  });

  it('reads an order whose every write fails twice a walk, not every run, and the walk goes on past it', async () => {
    // Prepare: an order stranded first in a DLQ 60,002 messages deep, all its writes failing
    // (an item DynamoDB refuses, say), and a charged order stranded last.
    const { unhandled, observer } = recordingUnhandled();
    const p = fakePipeline({ sweepObserver: observer });
    const failing = await chargedAndStranded(p, 'k-1');
    deepen(p);
    const behind = await chargedAndStranded(p, 'k-2');
    p.payments.sent.length = 0;
    const writes = failingWrites(p, failing.orderId);

    // Act: one walk's runs, then three more as the walk comes round.
    await sweepRunsUndelivered(p, 1);
    const walk = (p.deadPayments.hides[0] ?? 0) / sweepEverySeconds;
    await sweepRunsUndelivered(p, walk - 1);
    const triesInWalk = writes.tries;
    const found = (await p.orders.get(behind.orderId)) as Order;
    await sweepRunsUndelivered(p, 3);

    // Assess: tried by the walk's first two runs, then again by two runs as it comes round;
    // shown again the first time of each; the order behind found within the walk.
    expect({
      walk,
      triesInWalk,
      tries: writes.tries,
      shownAgain: unhandled.map((told) => told.shownAgain),
      found: found.deadLettered,
    }).toEqual({
      walk: 62,
      triesInWalk: 2,
      tries: 4,
      shownAgain: [true, false, true, false],
      found: true,
    });
  });
});
