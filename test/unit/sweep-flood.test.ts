import { describe, expect, it } from 'vitest';
import { fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * An order over the agent's limit costs it nothing: it waits for the user and expires. Each one
 * also takes a place in the sweep's due index (SWEEP_BATCH_SIZE 500 every 5 minutes in AWS; 100
 * here). The agent's token bucket (1 order a second sustained by default) admits one waiting
 * order a second, for ever: faster than the sweep expires them here. The sweep serves the orders
 * that hold or may hold money first, so a settlement whose checks were dead-lettered is still
 * voided at its deadline; the waiting orders keep a share of every run.
 */

const agentId = 'demo-agent';
/** Over demo-agent's per-order limit of 50.00: it waits for the user, and expires. */
const waiting = { ...latteOrder, amount: 6000 };

describe('an agent placing waiting orders faster than the sweep expires them', () => {
  it("does not hold another order's overdue settlement back from its final check", async () => {
    // Prepare: the agent has placed a waiting order a second for half an hour, the sweep
    // running every five minutes.
    const p = fakePipeline();
    let placed = 0;
    async function flood(seconds: number, after: () => Promise<void> = async () => {}) {
      for (let second = 0; second < seconds; second++) {
        p.clock.advance(1);
        await p.placeOrder({ agentId, idempotencyKey: `flood-${++placed}`, body: waiting });
        if (placed % 300 === 0) {
          await p.sweep();
          await after();
        }
      }
    }
    await flood(1800);

    // A payment left pending at the gateway; its settlement checks are dead-lettered.
    const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
    p.gateway.nextStatus = 'pending';
    await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
    const settleBy = Date.parse((await p.orders.get(order.orderId))?.settleBy ?? '');
    const deadLettered = p.checks.scheduled.length;

    // Act: the flood goes on for two hours more; when does the sweep ask for the final check,
    // the one that voids the payment?
    let askedAt = Number.POSITIVE_INFINITY;
    await flood(7200, async () => {
      const asked = p.checks.scheduled.slice(deadLettered).some((c) => c.orderId === order.orderId);
      if (asked) askedAt = Math.min(askedAt, p.clock.now().getTime());
    });

    // Assess: within two sweep runs of the deadline, as without the flood.
    expect((askedAt - settleBy) / 60_000, 'minutes late').toBeLessThanOrEqual(10);
  });
});
