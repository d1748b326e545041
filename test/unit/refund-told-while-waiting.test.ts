import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import type { RefundOutcome } from '#domain/payment-ports.ts';
import { REFUND_AFTER_KEY_WINDOW } from '#domain/sweep.ts';
import { type FakePipeline, fakePipeline, refundAskedOrder } from '../fakes/pipeline.ts';

/*
 * Stripe made the refund but answered its request a 500, which it saves under the refund's key
 * and replays to every retry for a day. On such an answer the Stripe adapter reads the payment's
 * refunds and takes the one carrying the order's `metadata.orderId` (test/integration/
 * stripe-adapter.test.ts), so the refund is recorded at its first answer. Only while that read
 * fails as well (Stripe down for hours) does the sweep give the refund up after its redrives
 * (about two and a half hours) and wait out the key window. Stripe tells of the refund once it is
 * back (`charge.refunded`, here `refund.succeeded`): the event handler asks the reconciler at
 * once, the saved 500 is answered again, the read now finds the refund, and the order is
 * REFUNDED then, not at the sweep's look a day later.
 */

const dayMs = 24 * 3600 * 1000;

/**
 * The gateway as the Stripe adapter answers over Stripe: the first refund request makes the
 * refund, and every request for a day after is answered 500; the adapter then reads the
 * payment's refunds, which fail (unavailable) for `downHours` and after that show the refund.
 */
function refundMadeThen500ForADay(p: FakePipeline, downHours: number): void {
  const make = p.gateway.refund.bind(p.gateway);
  let first: number | undefined;
  let made: RefundOutcome | undefined;
  p.gateway.refund = async (request) => {
    const now = p.clock.now().getTime();
    if (first === undefined) {
      first = now;
      made = await make(request);
    }
    if (now - first >= dayMs) return make(request);
    if (now - first < downHours * 3600 * 1000) return { kind: 'unknown', detail: 'stripe 500' };
    return made ?? { kind: 'unknown', detail: 'stripe 500' };
  };
}

/** Sweeps every five minutes for `hours`, delivering each check until done or dead. */
async function hoursOfSweeps(p: FakePipeline, hours: number, from: number): Promise<number> {
  let delivered = await p.deliverChecksUntilDead(from);
  for (let run = 0; run < hours * 12; run++) {
    p.clock.advance(300);
    await p.sweep();
    delivered = await p.deliverChecksUntilDead(delivered);
  }
  return delivered;
}

describe('a refund Stripe made and answered 500, replayed under its key', () => {
  it("is recorded at its first answer, read from the payment's refunds", async () => {
    // Prepare
    const p = fakePipeline();
    const asked = await refundAskedOrder(p);
    refundMadeThen500ForADay(p, 0);

    // Act: the checks the refund request scheduled are delivered.
    await p.deliverChecksUntilDead(0);

    // Assess
    const end = (await p.orders.get(asked.orderId)) as Order;
    expect(p.netCaptured(end)).toBe(0);
    expect(end.status).toBe('REFUNDED');
  });

  it('is recorded within the hour Stripe tells of it while the order waits out the key window', async () => {
    // Prepare: Stripe is down for six hours, refund reads included; the sweep has given it up.
    const p = fakePipeline();
    const asked = await refundAskedOrder(p);
    refundMadeThen500ForADay(p, 6);
    const delivered = await hoursOfSweeps(p, 6, 0);
    const waiting = (await p.orders.get(asked.orderId)) as Order;
    expect(waiting.lastError).toBe(REFUND_AFTER_KEY_WINDOW);

    // Act: Stripe, back, tells of the refund; an hour of sweeps and checks follows.
    await p.handleEvent(p.refundSucceeded(waiting, `re_refund_${asked.orderId}`));
    await hoursOfSweeps(p, 1, delivered);

    // Assess: the money is back, and the order says so.
    const end = (await p.orders.get(asked.orderId)) as Order;
    expect(p.netCaptured(end)).toBe(0);
    expect(end.status).toBe('REFUNDED');
  });
});
