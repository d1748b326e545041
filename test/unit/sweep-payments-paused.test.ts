import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import type { OperatorControls } from '#domain/ports.ts';
import type { SweepObserver } from '#domain/sweep.ts';
import { silentSweepObserver } from '../fakes/in-memory.ts';
import {
  type FakePipeline,
  fakePipeline,
  firstDelivery,
  refundAskedOrder,
  sweepEverySeconds,
} from '../fakes/pipeline.ts';
import { cautiousAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * `pause payments` turns the payment queue's event source mapping off: payment submission
 * receives nothing until the resume, and the messages wait in the queue. The settlement-check
 * queue keeps its consumer, so lookups, voids and refunds go on. The sweep reads the switch each
 * run: an overdue order waiting for its payment is counted (OrdersPastDeadline) and looked at
 * again next run, with no message sent (nothing would receive it) and its redrive budget kept, so
 * that it raises no RedriveLimitReached however long the pause; within a run or two of the resume
 * it is set moving again. Everything else moves as it would: waiting orders expire, payment
 * windows close, refunds and settlements are checked.
 */

const agentId = 'demo-agent';
const paused: OperatorControls = {
  paymentsPaused: { by: 'ops@example.test', at: '2026-11-23T09:30:00Z' },
};

/** Counts what the sweep tells, per order. */
function countingObserver() {
  const told = { pastDeadline: new Map<string, number>(), redriveLimitReached: 0, expired: 0 };
  const observer: SweepObserver = {
    ...silentSweepObserver,
    pastDeadline: (order) =>
      told.pastDeadline.set(order.orderId, (told.pastDeadline.get(order.orderId) ?? 0) + 1),
    redriveLimitReached: () => {
      told.redriveLimitReached++;
    },
    expired: () => {
      told.expired++;
    },
  };
  return { told, observer };
}

async function stored(p: FakePipeline, orderId: string): Promise<Order> {
  const order = await p.orders.get(orderId);
  if (order === undefined) throw new Error(`no order ${orderId}`);
  return order;
}

/**
 * The sweep runs every five minutes for `runs` runs under `controls`; the settlement checks it
 * asks for are delivered (their consumer runs while payments are paused), its payment messages
 * are kept, undelivered.
 */
async function sweepRuns(p: FakePipeline, runs: number, controls: OperatorControls) {
  for (let run = 0; run < runs; run++) {
    p.clock.advance(sweepEverySeconds);
    await p.sweep(controls);
    await p.runChecks();
  }
}

/** An order whose first delivery met a gateway outage: PENDING_PAYMENT, due in 15 minutes. */
async function paymentInOutage(p: FakePipeline, key: string): Promise<Order> {
  const { order } = await p.placeOrder({
    agentId,
    idempotencyKey: key,
    body: { ...latteOrder, sessionId: key },
  });
  p.gateway.chargeScript.push({ kind: 'unavailable', detail: 'HTTP 503' });
  await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
  p.payments.sent.length = 0;
  return stored(p, order.orderId);
}

describe('the sweep while an operator has paused payments', () => {
  it('sends no payment message and spends no redrive budget, still counts the order, and sets it moving within two runs of the resume', async () => {
    // Prepare: an order waiting out a gateway outage; payments are paused for four hours.
    const { told, observer } = countingObserver();
    const p = fakePipeline({ sweepObserver: observer });
    const order = await paymentInOutage(p, 'k-1');

    // Act
    await sweepRuns(p, 48, paused);
    const duringPause = await stored(p, order.orderId);
    const sentDuringPause = p.payments.sent.length;
    const counted = told.pastDeadline.get(order.orderId);
    await sweepRuns(p, 2, {});

    // Assess: nothing sent, nothing spent, nothing given up while paused; counted on every run
    // past its deadline (the first two were before it); sent again within two runs after.
    expect({
      sentDuringPause,
      redrives: duringPause.redrives,
      lastError: duringPause.lastError,
      counted,
      redriveLimitReached: told.redriveLimitReached,
    }).toEqual({
      sentDuringPause: 0,
      redrives: undefined,
      lastError: 'GATEWAY_UNAVAILABLE',
      counted: 46,
      redriveLimitReached: 0,
    });
    expect(p.payments.sent.map((message) => message.orderId)).toEqual([order.orderId]);
    const [message] = p.payments.sent.splice(0);
    await p.deliver(message as NonNullable<typeof message>, { ...firstDelivery, receiveCount: 2 });
    const end = await stored(p, order.orderId);
    expect({ status: end.status, kept: p.netCaptured(end) }).toEqual({ status: 'PAID', kept: 450 });
  });

  it('still expires waiting orders, closes payment windows and sends refunds, which need no charge', async () => {
    // Prepare: a one-hour payment window; an order waiting for its user; one waiting out the
    // outage; a paid order whose refund check was lost. Payments are paused for two hours.
    const { told, observer } = countingObserver();
    const p = fakePipeline({
      sweepObserver: observer,
      deadlines: { ...defaultDeadlinePolicy, paymentWindowSeconds: 3600 },
    });
    const refund = await refundAskedOrder(p);
    p.checks.scheduled.splice(0);
    p.payments.sent.length = 0;
    const waiting = await p.placeOrder({
      agentId: cautiousAgent.agentId,
      idempotencyKey: 'k-wait',
      body: { ...latteOrder, sessionId: 'wait' },
    });
    expect(waiting.order.status).toBe('AWAITING_CONFIRMATION');
    const paying = await paymentInOutage(p, 'k-pay');

    // Act
    await sweepRuns(p, 24, paused);

    // Assess: each moved without a payment message; the refund's money is back.
    const refunded = await stored(p, refund.orderId);
    const expired = await stored(p, waiting.order.orderId);
    const closed = await stored(p, paying.orderId);
    expect({
      refund: refunded.status,
      kept: p.netCaptured(refunded),
      waiting: expired.status,
      paying: closed.status,
      expiredTold: told.expired,
      sent: p.payments.sent.length,
      redriveLimitReached: told.redriveLimitReached,
    }).toEqual({
      refund: 'REFUNDED',
      kept: 0,
      waiting: 'EXPIRED',
      paying: 'FAILED',
      expiredTold: 1,
      sent: 0,
      redriveLimitReached: 0,
    });
  });
});
