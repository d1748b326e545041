import { describe, expect, it, vi } from 'vitest';
import type { Order } from '#domain/order.ts';
import {
  defaultRefundKeyWindow,
  REDRIVE_LIMIT_REACHED,
  REFUND_AFTER_KEY_WINDOW,
  type SweepObserver,
} from '#domain/sweep.ts';
import { silentSweepObserver } from '../fakes/in-memory.ts';
import {
  type FakePipeline,
  fakePipeline,
  firstDelivery,
  refundAskedOrder,
} from '../fakes/pipeline.ts';

/*
 * Stripe saves a request's first answer under its idempotency key, a 500 included, and answers
 * it again to every retry under that key until the key is pruned, 24 hours later at the
 * earliest. A refund autopay sends under the order's refund key that Stripe answered 500 is so
 * answered 500 (`unavailable`) for a day, however often it is sent. The reconciler retries it
 * with backoff until its check goes to the DLQ; the sweep sets the REFUND_PENDING order moving
 * every 15 minutes until its redrive budget is spent (SWEEP_REDRIVE_LIMIT, 10: about two and a
 * half hours), then gives it up, alarmed (`RedriveLimitReached`), but leaves it in the due index
 * (`lastError: REFUND_AFTER_KEY_WINDOW`) for one more look once the gateway's key window
 * (GATEWAY_IDEMPOTENCY_KEY_WINDOW_SECONDS, 25 hours) has passed since the give-up, with a fresh
 * budget. The same refund is then sent again under the same key, which Stripe has pruned, a
 * bounded number of times (SWEEP_REFUND_KEY_WINDOWS, 3); after the last it is left to a person.
 */

const keyWindowSeconds = 24 * 60 * 60;
const hour = 3600;

/**
 * Every refund sent within the key window of the first is answered as Stripe replays a 500;
 * `created`: the request that was answered 500 had made the refund, which the gateway holds
 * (and which the Stripe adapter, reading the payment's refunds on a 500, fails to read here).
 * `forever`: every refund is answered 500.
 */
function savedError(
  p: FakePipeline,
  { created = false, forever = false }: { created?: boolean; forever?: boolean } = {},
): Date[] {
  const attempts: Date[] = [];
  const refund = p.gateway.refund.bind(p.gateway);
  p.gateway.refund = async (request) => {
    const now = p.clock.now();
    attempts.push(now);
    const first = attempts[0] ?? now;
    if (created && attempts.length === 1) await refund(request);
    if (forever || now.getTime() - first.getTime() < keyWindowSeconds * 1000) {
      p.gateway.calls.push(`refund:${request.paymentId}`);
      return { kind: 'unavailable', detail: 'stripe 500' };
    }
    return refund(request);
  };
  return attempts;
}

/** How many of each pipeline's settlement checks were delivered already. */
const deliveredChecks = new WeakMap<FakePipeline, number>();

/**
 * The sweep runs every five minutes for `hours`; every payment message is delivered, and every
 * settlement check, once, until the reconciler is done with it or the DLQ takes it.
 */
async function sweepDeliveringUntilDead(p: FakePipeline, hours: number): Promise<void> {
  let delivered = await p.deliverChecksUntilDead(deliveredChecks.get(p) ?? 0);
  for (let run = 0; run < hours * 12; run++) {
    p.clock.advance(300);
    await p.sweep();
    for (const message of p.payments.sent.splice(0)) {
      await p.deliver(message, firstDelivery);
    }
    delivered = await p.deliverChecksUntilDead(delivered);
  }
  deliveredChecks.set(p, delivered);
}

async function stored(p: FakePipeline, orderId: string): Promise<Order> {
  const order = await p.orders.get(orderId);
  if (order === undefined) throw new Error(`no order ${orderId}`);
  return order;
}

/** A pipeline whose sweep's give-ups are recorded as its alarm counts them. */
function alarmedPipeline() {
  const observer: SweepObserver = { ...silentSweepObserver, redriveLimitReached: vi.fn() };
  return { p: fakePipeline({ sweepObserver: observer }), observer };
}

describe('a refund the gateway answered 500 and replays under its key for a day', () => {
  it('is refunded once the gateway takes the same refund again', async () => {
    // Prepare: a paid order whose user asked its refund; the gateway answers it 500 for a day.
    const p = fakePipeline();
    const asked = await refundAskedOrder(p);
    savedError(p);

    // Act
    await sweepDeliveringUntilDead(p, 48);

    // Assess: the money is back, given back once, and the order says nothing is wrong.
    const end = await stored(p, asked.orderId);
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({
      status: 'REFUNDED',
      kept: 0,
    });
    expect([...p.gateway.refunds.keys()]).toEqual([`refund_${asked.orderId}`]);
    expect(end.lastError).toBeUndefined();
    expect(end.dueAt).toBeUndefined();
  });

  it('alarms at the give-up, and leaves the order due once the key window has passed', async () => {
    // Prepare: as above, with the sweep's give-up recorded as its alarm counts it.
    const { p, observer } = alarmedPipeline();
    const asked = await refundAskedOrder(p);
    const attempts = savedError(p);

    // Act: a day, within the key window of the first refund.
    await sweepDeliveringUntilDead(p, 24);

    // Assess: given up with its reason, alarmed once with when the refund goes again, due then
    // and not before; every refund was sent within the key window of the first, none after the
    // give-up; the money is still taken.
    const waiting = await stored(p, asked.orderId);
    expect(waiting).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: REFUND_AFTER_KEY_WINDOW,
      refundKeyWindows: 1,
    });
    expect(waiting.redrives).toBeUndefined();
    expect(observer.redriveLimitReached).toHaveBeenCalledOnce();
    const [alarmed, again] = vi.mocked(observer.redriveLimitReached).mock.calls[0] ?? [];
    expect(alarmed?.orderId).toBe(asked.orderId);
    expect(again).toEqual({ at: waiting.dueAt, look: 1, of: defaultRefundKeyWindow.looks });
    expect(await p.orders.findDue(p.clock.now().toISOString(), 10)).toEqual([]);
    const dueIn = Date.parse(waiting.dueAt ?? '') - (attempts[0]?.getTime() ?? 0);
    expect(dueIn).toBeGreaterThan(keyWindowSeconds * 1000);
    const sentFor = (attempts.at(-1)?.getTime() ?? 0) - (attempts[0]?.getTime() ?? 0);
    expect(attempts.length).toBeGreaterThan(10);
    expect(sentFor).toBeLessThan(4 * hour * 1000);
    expect(p.netCaptured(waiting)).toBe(waiting.amount);
  });

  it('is left to a person for good, alarmed each time, when the gateway answers 500 for ever', async () => {
    // Prepare
    const { p, observer } = alarmedPipeline();
    const asked = await refundAskedOrder(p);
    const attempts = savedError(p, { forever: true });

    // Act: five days, well past the last look.
    await sweepDeliveringUntilDead(p, 5 * 24);
    const sent = attempts.length;
    await sweepDeliveringUntilDead(p, 2 * 24);

    // Assess: three looks after a key window, then given up for good, out of the due index; an
    // alarm at each give-up, the last one saying nothing more is sent; the money still taken.
    const end = await stored(p, asked.orderId);
    const { looks } = defaultRefundKeyWindow;
    expect(end).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: REDRIVE_LIMIT_REACHED,
      refundKeyWindows: looks,
    });
    expect(end.dueAt).toBeUndefined();
    const told = vi.mocked(observer.redriveLimitReached).mock.calls.map(([, again]) => again);
    expect(told).toEqual([
      expect.objectContaining({ look: 1, of: looks }),
      expect.objectContaining({ look: 2, of: looks }),
      expect.objectContaining({ look: 3, of: looks }),
      undefined,
    ]);
    expect(attempts.length).toBe(sent);
    expect(p.netCaptured(end)).toBe(end.amount);
    expect(p.gateway.refunds.size).toBe(0);
  });

  it('adopts the refund the request answered 500 had made, once the key is pruned', async () => {
    // Prepare: the first refund request made the refund, and its answer was a 500, saved.
    const p = fakePipeline();
    const asked = await refundAskedOrder(p);
    savedError(p, { created: true });

    // Act
    await sweepDeliveringUntilDead(p, 48);

    // Assess: that refund is the order's; no second one.
    const end = await stored(p, asked.orderId);
    expect(end).toMatchObject({ status: 'REFUNDED', refundId: `re_refund_${asked.orderId}` });
    expect(p.gateway.refunds.size).toBe(1);
    expect(p.netCaptured(end)).toBe(0);
  });

  it('does nothing at the later look when the refund was recorded meanwhile', async () => {
    // Prepare: given up, waiting out the key window; then a settlement check of the order,
    // redriven from its DLQ by an operator once the gateway answers, records the refund.
    const p = fakePipeline();
    const asked = await refundAskedOrder(p);
    const attempts = savedError(p);
    await sweepDeliveringUntilDead(p, 25);
    expect(await stored(p, asked.orderId)).toMatchObject({ lastError: REFUND_AFTER_KEY_WINDOW });
    await p.reconcile({ orderId: asked.orderId, check: 0 }, 1);
    const recorded = await stored(p, asked.orderId);
    const sent = attempts.length;

    // Act: past the time of the look.
    await sweepDeliveringUntilDead(p, 24);

    // Assess: REFUNDED, out of the index, and nothing more sent for it.
    const end = await stored(p, asked.orderId);
    expect(recorded).toMatchObject({ status: 'REFUNDED' });
    expect(recorded.dueAt).toBeUndefined();
    expect(end.status).toBe('REFUNDED');
    expect(attempts.length).toBe(sent);
    expect(p.gateway.refunds.size).toBe(1);
    expect(p.netCaptured(end)).toBe(0);
  });

  it('sends nothing at the later look when the gateway tells meanwhile that the refund failed', async () => {
    // Prepare: the 500'd request made the refund, which then failed (a closed card); the
    // gateway says so by its event while the order waits out the key window.
    const { p, observer } = alarmedPipeline();
    const asked = await refundAskedOrder(p);
    const attempts = savedError(p, { created: true });
    await sweepDeliveringUntilDead(p, 6);
    p.gateway.refunds.clear();
    await p.handleEvent(p.refundFailed(asked, `re_refund_${asked.orderId}`));
    const sent = attempts.length;

    // Act: past the time of the look.
    await sweepDeliveringUntilDead(p, 48);

    // Assess: held for a person as a failed refund is, out of the index; nothing sent again.
    const end = await stored(p, asked.orderId);
    expect(end).toMatchObject({ status: 'REFUND_PENDING', lastError: 'REFUND_FAILED' });
    expect(end.dueAt).toBeUndefined();
    expect(attempts.length).toBe(sent);
    expect(p.told.refundFailed).toBe(1);
    expect(observer.redriveLimitReached).toHaveBeenCalledOnce();
  });

  it('is recorded at once when the gateway tells of its refund while the order waits', async () => {
    // Prepare: the 500'd request made the refund; its success is told while the order waits
    // out the key window, and the gateway now answers its key afresh.
    const p = fakePipeline();
    const asked = await refundAskedOrder(p);
    const attempts = savedError(p, { created: true });
    await sweepDeliveringUntilDead(p, 25);
    const waiting = await stored(p, asked.orderId);
    expect(waiting.lastError).toBe(REFUND_AFTER_KEY_WINDOW);

    // Act
    await p.handleEvent(p.refundSucceeded(waiting, `re_refund_${asked.orderId}`));
    await sweepDeliveringUntilDead(p, 1);

    // Assess: recorded by the reconciler the event asked, long before the look was due.
    const end = await stored(p, asked.orderId);
    expect(end).toMatchObject({ status: 'REFUNDED', refundId: `re_refund_${asked.orderId}` });
    expect(Date.parse(end.updatedAt)).toBeLessThan(Date.parse(waiting.dueAt ?? ''));
    expect(attempts.at(-1)?.getTime()).toBeLessThan(Date.parse(waiting.dueAt ?? ''));
    expect(p.netCaptured(end)).toBe(0);
  });
});
