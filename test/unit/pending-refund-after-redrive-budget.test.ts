import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import {
  defaultRefundKeyWindow,
  REDRIVE_LIMIT_REACHED,
  REFUND_AFTER_KEY_WINDOW,
} from '#domain/sweep.ts';
import { type FakePipeline, fakePipeline, refundAskedOrder } from '../fakes/pipeline.ts';

/*
 * A refund Stripe takes `pending` (or `requires_action`) may stay so for days (a bank transfer,
 * a customer who has not given their details). Every reconciler run meanwhile reads it pending
 * and answers `unavailable`; the settlement checks die, and the sweep sets the REFUND_PENDING
 * order moving every 15 minutes until its redrive budget is spent (10, about two and a half
 * hours), then leaves it: until a look after the gateway's key window, or out of the due index
 * after the last such look. When the refund succeeds after that, its `refund.updated` is the
 * only word autopay gets until then: it must bring the order to REFUNDED, not be dropped as "its
 * answer records it", for nobody is left to ask for that answer.
 */

async function stored(p: FakePipeline, orderId: string): Promise<Order> {
  const order = await p.orders.get(orderId);
  if (order === undefined) throw new Error(`no order ${orderId}`);
  return order;
}

describe('a refund pending at the gateway for longer than the sweep keeps asking', () => {
  it.each([
    { given: 'until the key window has passed', looks: 3, lastError: REFUND_AFTER_KEY_WINDOW },
    { given: 'for good', looks: 0, lastError: REDRIVE_LIMIT_REACHED },
  ])(
    'is recorded REFUNDED when its success is told after the sweep gave the order up $given',
    async ({ looks, lastError }) => {
      // Prepare: the refund stays pending through every check and every redrive of the sweep.
      const p = fakePipeline({ refundKeyWindow: { ...defaultRefundKeyWindow, looks } });
      const asked = await refundAskedOrder(p);
      const pending = { kind: 'unavailable', detail: 'refund re_1 pending' } as const;
      for (let answer = 0; answer < 200; answer++) p.gateway.refundScript.push(pending);
      let delivered = await p.deliverChecksUntilDead(0);
      for (let run = 0; run < 12; run++) {
        p.clock.advance(16 * 60);
        await p.sweep();
        delivered = await p.deliverChecksUntilDead(delivered);
      }
      const givenUp = await stored(p, asked.orderId);
      expect(givenUp).toMatchObject({ status: 'REFUND_PENDING', lastError });
      expect(givenUp.dueAt === undefined).toBe(looks === 0);

      // Act: the refund succeeds at the gateway, which says so by its event.
      p.gateway.refundScript.length = 0;
      await p.handleEvent(p.refundSucceeded(givenUp, `re_refund_${asked.orderId}`));
      await p.deliverChecksUntilDead(delivered);

      // Assess
      const after = await stored(p, asked.orderId);
      expect(after.status).toBe('REFUNDED');
      expect(p.netCaptured(after)).toBe(0);
    },
  );

  it('asks nothing more of the reconciler while the order is still in the due index', async () => {
    // Prepare: the refund is out and pending; the sweep has not given the order up.
    const p = fakePipeline();
    const asked = await refundAskedOrder(p);
    const scheduled = p.checks.scheduled.length;

    // Act
    await p.handleEvent(p.refundSucceeded(asked, `re_refund_${asked.orderId}`));

    // Assess
    expect(p.checks.scheduled).toHaveLength(scheduled);
    expect((await stored(p, asked.orderId)).status).toBe('REFUND_PENDING');
  });
});
