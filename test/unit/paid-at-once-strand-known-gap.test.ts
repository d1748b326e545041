import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { chargeThenDieOnWrites, sweepDelivering } from '../fakes/dead-deliveries.ts';
import { fakePipeline } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * An order paid at once enters the due index only when a delivery of its payment message is
 * handled and fails (`overdueLater`). A message whose every delivery dies unhandled (the
 * function times out or throws, e.g. DynamoDB throttling its writes or a bad deploy for the
 * minutes that eight deliveries take) goes to the DLQ having written nothing; when its first
 * delivery charged before dying, the gateway holds the money for an order nothing looks at. The
 * sweep closes that: every run it peeks the payment DLQ (leaving the messages there for its alarm
 * and the operator's redrive) and makes each such order due at once, marked as possibly charged,
 * so its redrive asks the gateway before anything is charged again.
 *
 * Two ways in stay open, with no net that costs nothing per paid order:
 * - a message that outlives the queue's 7-day retention while payments are paused is gone, and
 *   so is its DLQ entry; the order is then PENDING_PAYMENT with no `dueAt`: the sweep never sees
 *   it, `ops stuck` does not list it, its 24 h payment window is never closed, and its agent-day
 *   spend stays claimed (PaymentMessageAge alarms at 6 h, PaymentMessageExpiring a day
 *   before the message goes);
 * - the HTTP functions answer through middy, whose early timeout (`timeoutEarlyInMillis`, 5 ms by
 *   default) answers 500 just before the function's deadline while the use case keeps running; in
 *   Lambda the invocation then ends normally and the environment is frozen with the put still to
 *   come, which resumes on that instance's next invocation, seconds or minutes later. Intake
 *   checks its 20 s deadline right before the put, so only a put already on its way when the
 *   environment froze can land more than 60 s after `placedAt` and find its payment message
 *   dropped as "no such order" (done, so not in the DLQ either). The chaos run meets the first
 *   half on a loaded machine: 5xx answers to placements that were stored, found by the client's
 *   retry as replays.
 * Either would need a due-index entry written at intake: a write unit in and one out per paid
 * order.
 */

const agentId = 'demo-agent';
const maxReceiveCount = 8;

describe('an order paid at once whose payment message dies unhandled', () => {
  it('pays an order whose first delivery charged and whose every delivery then died, once the table recovers', async () => {
    // Prepare: an order paid at once; the first delivery charges, then every delivery dies on the
    // order's write, until SQS moves the message to the DLQ.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await chargeThenDieOnWrites(p, order);
    expect(p.gateway.charges.get(order.orderId)?.kind).toBe('succeeded');
    expect(p.deadPayments.messages).toHaveLength(1);
    p.payments.sent.length = 0;

    // Act: the table recovers; the sweep runs every five minutes for two days, and every payment
    // message and check it sends is delivered.
    await sweepDelivering(p, 2);

    // Assess: the money is kept on a PAID order, charged once; the dead message stays for its
    // alarm and the operator.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({ status: 'PAID', kept: 450 });
    expect(p.gateway.calls.filter((call) => call.startsWith('charge:'))).toHaveLength(1);
    expect(p.deadPayments.messages).toHaveLength(1);
  });

  it('fails an order whose every delivery died before charging, once its payment window passes unpaid', async () => {
    // Prepare: every delivery dies before it writes or charges anything (DynamoDB unreachable
    // until the function times out).
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    const get = p.orders.get.bind(p.orders);
    p.orders.get = async () => {
      throw new Error('Task timed out after 30.00 seconds');
    };
    for (let receiveCount = 1; receiveCount <= maxReceiveCount; receiveCount++) {
      const delivery = { receiveCount, maxReceiveCount, remainingMs: () => 30_000 };
      await expect(p.deliver({ orderId: order.orderId, agentId }, delivery)).rejects.toThrow();
    }
    p.orders.get = get;

    // Act: the sweep runs every five minutes for two days; the payment messages it sends are
    // lost as well, so only its close at the end of the payment window is left.
    for (let run = 0; run < 2 * 24 * 12; run++) {
      p.clock.advance(300);
      await p.sweep();
      await p.runChecks();
    }

    // Assess: closed at the end of its window, nothing charged, its spend given back.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({ status: 'FAILED', kept: 0 });
    expect(await p.orders.findDue(p.clock.now().toISOString(), 10)).toEqual([]);
  });

  // Known gap, as above, without a charge: the order is never paid, failed or listed as stuck.
  it.fails('leaves an order whose message was lost PENDING_PAYMENT past its payment window, its spend claimed', async () => {
    // Prepare: an order paid at once whose message expires unread while payments are paused.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.payments.sent.length = 0;

    // Act: the sweep runs every five minutes for two days, past the 24 h payment window.
    for (let run = 0; run < 2 * 24 * 12; run++) {
      p.clock.advance(300);
      await p.sweep();
      await p.runChecks();
    }

    // Assess: the order was paid or closed; either way, somebody acted on it.
    const end = (await p.orders.get(order.orderId)) as Order;
    const actedOn = p.payments.sent.length > 0 || end.status !== 'PENDING_PAYMENT';
    expect({ actedOn, stuck: await p.orders.findDue(p.clock.now().toISOString(), 10) }).toEqual({
      actedOn: true,
      stuck: [],
    });
  });

  // Known gap, as above: an order whose put lands after its message was dropped.
  it.fails('leaves an order stored after its payment message was dropped PENDING_PAYMENT for good', async () => {
    // Prepare: the placement is answered by the early timeout with its put still to come; the
    // environment is frozen until the instance's next invocation.
    const p = fakePipeline();
    const create = p.orders.create.bind(p.orders);
    let thaw = () => {};
    const thawed = new Promise<void>((resolve) => {
      thaw = resolve;
    });
    p.orders.create = async (order) => {
      await thawed;
      return create(order);
    };
    const placing = p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await new Promise((resolve) => setImmediate(resolve));
    const [message] = p.payments.sent;
    if (message === undefined) throw new Error('no payment message was sent');

    // Act: the message comes back a minute later and is dropped; then the instance is invoked
    // again and the put lands. The sweep runs every five minutes for two days.
    p.clock.advance(61);
    const dropped = await p.submit(message, {
      receiveCount: 9,
      maxReceiveCount,
      remainingMs: () => 30_000,
    });
    thaw();
    const { order } = await placing;
    for (let run = 0; run < 2 * 24 * 12; run++) {
      p.clock.advance(300);
      await p.sweep();
      await p.runChecks();
    }

    // Assess: the order was paid or closed.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect(dropped).toEqual({ kind: 'done', detail: 'no such order' });
    expect(end.status).not.toBe('PENDING_PAYMENT');
  });
});
