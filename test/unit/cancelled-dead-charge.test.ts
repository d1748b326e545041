import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { userPrincipal } from '#domain/principal.ts';
import { chargeThenDieOnWrites, sweepDelivering } from '../fakes/dead-deliveries.ts';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * An order paid at once whose first delivery charged and whose every delivery then died
 * unhandled (DynamoDB throttling its writes) may meanwhile have been held by a duplicate delivery
 * of the same message (SQS delivers at least once; the risk engine answered "review" to it) and
 * then cancelled by its user or agent. The cancel asks the reconciler to look for a charge, but
 * only once: when that SendMessage fails, the cancel answers 5xx, and a caller that does not send
 * it again (the agent withdrew the order, it does not care) would leave the charge with nobody
 * looking, the order's amount kept for a CANCELLED order for good. The sweep, reading the dead
 * message, has the reconciler look such an order up once, and the charge is refunded.
 */

const agentId = 'demo-agent';

describe('a held order cancelled while its charged payment message lies dead', () => {
  it('has its charge found and refunded by the sweep though the cancel could not ask for the lookup', async () => {
    // Prepare: placed and paid at once; the first delivery charges, then every delivery dies on
    // the order's write until SQS moves the message to the DLQ.
    const p = fakePipeline();
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    await chargeThenDieOnWrites(p, order);
    expect(p.gateway.charges.get(order.orderId)?.kind).toBe('succeeded');
    // A duplicate delivery of the message, sent before it died, is held by the risk engine.
    p.risk.script.push({ kind: 'assessed', level: 'review', requestId: 'r-1' });
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    expect((await p.orders.get(order.orderId))?.status).toBe('HELD_FOR_REVIEW');
    // The user cancels it; asking the reconciler for the lookup fails, and nobody sends it again.
    const schedule = p.checks.schedule.bind(p.checks);
    p.checks.schedule = async () => {
      throw new Error('SQS throttled');
    };
    await expect(
      p.lifecycle.cancel(userPrincipal(demoAgent.ownerId), order.orderId),
    ).rejects.toThrow();
    p.checks.schedule = schedule;
    p.payments.sent.length = 0;

    // Act: the sweep runs every five minutes for two days, every message and check delivered.
    await sweepDelivering(p, 2);

    // Assess: the money taken for the cancelled order is given back.
    const end = (await p.orders.get(order.orderId)) as Order;
    expect(p.netCaptured(end)).toBe(0);
  });
});
