import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import { type OrderStatus, transition } from '#domain/order-state.ts';
import type { RiskAnswer } from '#domain/payment-ports.ts';
import { userPrincipal } from '#domain/principal.ts';
import { spendKeyOf } from '../fakes/in-memory.ts';
import { type FakePipeline, fakePipeline, firstDelivery } from '../fakes/pipeline.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

/*
 * Two deliveries of one payment message race. The first passes the risk check and charges; the
 * second gets another verdict and writes it first. Then the gateway's success callback arrives
 * (unless it is lost), and the user cancels. Whatever the order of events, the money ends kept
 * on a PAID order, or given back: never kept on an order that is not PAID.
 */

const agentId = 'demo-agent';
const pass: RiskAnswer = { kind: 'assessed', level: 'pass', requestId: 'r-1' };
const timeout: RiskAnswer = { kind: 'error', code: 'Timeout', retryable: true };

/** What the second delivery's risk check answers, and what it writes. */
const verdicts: ReadonlyArray<{
  readonly name: string;
  readonly answers: readonly RiskAnswer[];
  readonly writes: OrderStatus;
}> = [
  {
    name: 'review',
    answers: [{ kind: 'assessed', level: 'review', requestId: 'r-2' }],
    writes: 'HELD_FOR_REVIEW',
  },
  {
    name: 'reject',
    answers: [{ kind: 'assessed', level: 'reject', requestId: 'r-2' }],
    writes: 'FAILED',
  },
  {
    name: 'a risk timeout above the fail-open limit',
    answers: [timeout, timeout, timeout],
    writes: 'HELD_FOR_REVIEW',
  },
];

/** What becomes of the first delivery once its charge is out. */
const fates = {
  /** Its answer comes while the second delivery writes; it writes after. */
  late: 'answers after the other delivery wrote',
  /** Its answer never comes; its message comes back. */
  redelivered: 'times out and its message comes back',
  /** It dies with its message gone; the gateway's callback tells. */
  callback: 'dies, and only the callback tells',
  /** It dies with its message gone, and the callback is lost too. */
  lost: 'dies, and the callback is lost too',
} as const;
type Fate = keyof typeof fates;

/** The second delivery writes its verdict while the first one's charge is out. */
async function race(p: FakePipeline, order: Order, answers: readonly RiskAnswer[], fate: Fate) {
  const request = { orderId: order.orderId, agentId };
  if (fate === 'late' || fate === 'redelivered') {
    if (fate === 'redelivered') p.gateway.chargeScript.push('charge-then-unknown');
    p.risk.script.push(pass, ...answers);
    const slow = p.gateway.holdNextAnswer();
    const first = p.submit(request, firstDelivery);
    await slow.charged;
    await p.submit(request, firstDelivery);
    slow.release();
    const answered = await first;
    if (fate === 'redelivered') {
      expect(answered).toMatchObject({ kind: 'retry', reason: 'GATEWAY_OUTCOME_UNKNOWN' });
      await p.submit(request, { ...firstDelivery, receiveCount: 2 });
    }
    return;
  }
  // The first delivery charged and died before writing anything.
  await p.gateway.charge({
    idempotencyKey: order.orderId,
    amount: order.amount,
    currency: order.currency,
    paymentMethod: order.paymentMethod,
  });
  p.risk.script.push(...answers);
  await p.submit(request, firstDelivery);
}

describe('two deliveries of one payment message racing', () => {
  const cases = verdicts.flatMap((verdict) =>
    (Object.keys(fates) as Fate[]).map((fate) => {
      const held = verdict.writes === 'HELD_FOR_REVIEW';
      // A held order is paid by what the gateway took, unless the user cancels it before anyone
      // learns of the charge; a rejected order gives the money back.
      const expected: OrderStatus = held && fate !== 'lost' ? 'PAID' : 'REFUNDED';
      return [verdict.name, fates[fate], expected, verdict, fate] as const;
    }),
  );

  it.each(cases)(
    'second delivery %s, first delivery %s: ends %s, the money kept only if PAID',
    async (_verdict, _fate, expected, verdict, fate) => {
      // Prepare: an auto-paid order of 4.50, above the fail-open limit of 4.00.
      const p = fakePipeline({ failOpenLimit: 400 });
      const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });

      // Act
      await race(p, order, verdict.answers, fate);
      if (fate !== 'lost') await p.handleEvent(p.succeeded(order));
      const cancel = await p.lifecycle.cancel(userPrincipal(demoAgent.ownerId), order.orderId).then(
        (result) => result.order.status,
        (error: { code: string }) => error.code,
      );
      await p.runChecks();

      // Assess
      const end = (await p.orders.get(order.orderId)) as Order;
      expect(end.history[1]).toMatchObject({ from: 'PENDING_PAYMENT', to: verdict.writes });
      expect(end.status).toBe(expected);
      expect(p.gateway.chargeCount()).toBe(1);
      expect(p.netCaptured(end)).toBe(end.status === 'PAID' ? end.amount : 0);
      expect(cancel).toBe(held(verdict.writes, fate) ? 'CANCELLED' : 'ILLEGAL_TRANSITION');
      expect(p.told.lateSuccess).toBe(expected === 'REFUNDED' ? 1 : 0);
      // The day's auto-pay budget holds exactly what was kept.
      const day = { agentId, day: '2026-11-23' };
      expect(p.orders.spent.get(spendKeyOf(day))).toBe(end.status === 'PAID' ? end.amount : 0);
      // Every entry of the history is a legal move.
      for (const entry of end.history.slice(1)) {
        if (entry.from === null || entry.cause === 'INTAKE') throw new Error('a second intake');
        expect(transition(entry.from, entry.cause)).toBe(entry.to);
      }
    },
  );
});

/** Whether the order is still held when the user cancels it. */
function held(writes: OrderStatus, fate: Fate): boolean {
  return writes === 'HELD_FOR_REVIEW' && fate === 'lost';
}
