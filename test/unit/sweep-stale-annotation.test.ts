import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import { lookupsAfterVoid, defaultSettlementSchedule as schedule } from '#domain/settlement.ts';
import { defaultDeadLetterWalk, defaultRefundKeyWindow, makeSweep } from '#domain/sweep.ts';
import { silentSweepObserver } from '../fakes/in-memory.ts';
import { fakePipeline, refundAskedOrder } from '../fakes/pipeline.ts';

/*
 * The sweep reads an overdue order, then writes its bookkeeping (`redrives`, the next `dueAt`,
 * and past the budget `lastError: REDRIVE_LIMIT_REACHED`). A move that keeps the status and
 * lands in between must not be undone: a refund the gateway failed after it succeeded
 * (REFUND_PENDING → REFUND_PENDING, lastError REFUND_FAILED, out of the due index) would
 * otherwise get its dueAt back and, past the budget, its REFUND_FAILED replaced; the next check
 * would send the refund again, the gateway would replay the success under the order's key, and
 * the order would say REFUNDED while the whole amount is back with the merchant.
 */

const _agentId = 'demo-agent';

type Pipeline = ReturnType<typeof fakePipeline>;

/** A paid order whose refund the gateway made, its answer lost: REFUND_PENDING, unrecorded. */
async function refundOut(p: Pipeline): Promise<Order> {
  const order = await refundAskedOrder(p);
  await p.gateway.refund({
    paymentId: p.gateway.charges.get(order.orderId)?.paymentId ?? '',
    amount: order.amount,
    currency: order.currency,
    idempotencyKey: `refund_${order.orderId}`,
  });
  return order;
}

/** The pipeline's sweep, with `race` run once just before its first write of an order. */
function sweepRacedBy(p: Pipeline, race: () => Promise<unknown>) {
  let raced = false;
  const orders = Object.create(p.orders) as typeof p.orders;
  orders.annotate = async (...args) => {
    if (!raced) {
      raced = true;
      await race();
    }
    return p.orders.annotate(...args);
  };
  return makeSweep({
    orders,
    clock: p.clock,
    deadlines: defaultDeadlinePolicy,
    payments: p.payments,
    settlementChecks: p.checks,
    deadPayments: p.deadPayments,
    deadLetters: defaultDeadLetterWalk,
    runEverySeconds: 300,
    finalCheck: schedule.checks,
    voidLookups: lookupsAfterVoid(schedule),
    batchSize: 100,
    redriveLimit: 10,
    refundKeyWindow: defaultRefundKeyWindow,
    observer: silentSweepObserver,
  });
}

describe('a move that lands between the sweep reading an order and annotating it', () => {
  it('keeps a refund the gateway failed out of the due index', async () => {
    // Prepare: the refund is overdue; its failure is told while the sweep handles it.
    const p = fakePipeline();
    const order = await refundOut(p);
    p.clock.advance(16 * 60);
    const sweep = sweepRacedBy(p, () =>
      p.handleEvent(p.refundFailed(order, `re_refund_${order.orderId}`)),
    );

    // Act
    await sweep();

    // Assess
    const end = await p.orders.get(order.orderId);
    expect(end).toMatchObject({ status: 'REFUND_PENDING', lastError: 'REFUND_FAILED' });
    expect(end?.dueAt).toBeUndefined();
  });

  it('keeps the order held for a person past the redrive budget, never recorded REFUNDED', async () => {
    // Prepare: the refund was redriven to the end of its budget; its failure is told while the
    // sweep gives up on it.
    const p = fakePipeline();
    const order = await refundOut(p);
    await p.orders.annotate(order.orderId, 'REFUND_PENDING', { redrives: 10 });
    p.clock.advance(16 * 60);
    const sweep = sweepRacedBy(p, () =>
      p.handleEvent(p.refundFailed(order, `re_refund_${order.orderId}`)),
    );
    await sweep();

    // Act: a check of the order still queued (an earlier redrive's) reaches the reconciler.
    await p.reconcile({ orderId: order.orderId, check: 0 }, 1);

    // Assess
    expect(await p.orders.get(order.orderId)).toMatchObject({
      status: 'REFUND_PENDING',
      lastError: 'REFUND_FAILED',
    });
  });
});
