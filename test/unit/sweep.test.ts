import { beforeEach, describe, expect, it, type Mock, vi } from 'vitest';
import { defaultDeadlinePolicy, type MoveDeps, secondsAfter } from '#domain/order-moves.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import { defaultSettlementSchedule, lookupsAfterVoid } from '#domain/settlement.ts';
import {
  defaultDeadLetterWalk,
  makeSweep,
  REDRIVE_LIMIT_REACHED,
  REFUND_AFTER_KEY_WINDOW,
  type SweepObserver,
  waitingShare,
} from '#domain/sweep.ts';
import {
  FakeDeadLetterQueue,
  FixedClock,
  InMemoryOrders,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
  seedOrder,
} from '../fakes/in-memory.ts';

const agentId = 'demo-agent';
const finalCheck = 5;
const voidLookups = lookupsAfterVoid(defaultSettlementSchedule);
const idOf = (n: number) => `ord_${n.toString(16).padStart(32, '0')}`;
const day = 24 * 3600;
const redriveLimit = 3;
const refundKeyWindow = { seconds: day + 3600, looks: 2 };

describe('sweep of overdue orders', () => {
  let orders: InMemoryOrders;
  let payments: RecordingPaymentQueue;
  let checks: RecordingSettlementChecks;
  let deadPayments: FakeDeadLetterQueue;
  let clock: FixedClock;
  let observer: { [K in keyof SweepObserver]: Mock<SweepObserver[K]> };
  let deps: MoveDeps;
  let sweep: ReturnType<typeof makeSweep>;
  let next: number;

  beforeEach(() => {
    orders = new InMemoryOrders();
    payments = new RecordingPaymentQueue();
    checks = new RecordingSettlementChecks();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    deadPayments = new FakeDeadLetterQueue(clock);
    observer = {
      pastDeadline: vi.fn(),
      expired: vi.fn(),
      redriveLimitReached: vi.fn(),
      strandedFound: vi.fn(),
      deadLettersUnread: vi.fn(),
      deadPaymentUnhandled: vi.fn(),
      oldestDeadPayment: vi.fn(),
    };
    deps = { orders, clock, deadlines: defaultDeadlinePolicy };
    next = 0;
    sweep = sweepOf(25);
  });

  const sweepOf = (batchSize: number) =>
    makeSweep({
      ...deps,
      payments,
      settlementChecks: checks,
      deadPayments,
      deadLetters: { ...defaultDeadLetterWalk, batchSize: 10, maxBatchSize: 10 },
      runEverySeconds: 300,
      finalCheck,
      voidLookups,
      observer,
      batchSize,
      redriveLimit,
      refundKeyWindow,
    });

  /**
   * A new order in `status`, due as the pipeline would have made it at the clock's time: a
   * pending payment must settle within 21 minutes, as with the default settlement schedule.
   */
  const seed = async (status: OrderStatus) => {
    next++;
    const settleBy =
      status === 'AWAITING_SETTLEMENT'
        ? new Date(clock.now().getTime() + 1260_000).toISOString()
        : undefined;
    return seedOrder(deps, status, { orderId: idOf(next), agentId, gatewayRef: 'pay_1', settleBy });
  };

  const stored = async (orderId: string) => {
    const order = await orders.get(orderId);
    if (order === undefined) throw new Error(`${orderId} is gone`);
    return order;
  };

  it('expires an unconfirmed order past its confirmation window', async () => {
    // Prepare
    const order = await seed('AWAITING_CONFIRMATION');
    clock.advance(301);

    // Act
    const report = await sweep();

    // Assess
    expect(report).toEqual({ expired: 1, requeued: 0, pastDeadline: 0 });
    const expired = await stored(order.orderId);
    expect(expired.status).toBe('EXPIRED');
    expect(expired.dueAt).toBeUndefined();
    expect(observer.expired).toHaveBeenCalledOnce();
    expect(observer.pastDeadline).not.toHaveBeenCalled();
  });

  it('leaves an order that is not due yet untouched', async () => {
    // Prepare: the first order's window closes at 09:35, the second's at 09:38:20.
    const overdue = await seed('AWAITING_CONFIRMATION');
    clock.advance(200);
    const waiting = await seed('AWAITING_CONFIRMATION');
    clock.advance(150);

    // Act
    const report = await sweep();

    // Assess
    expect(report).toEqual({ expired: 1, requeued: 0, pastDeadline: 0 });
    expect((await stored(overdue.orderId)).status).toBe('EXPIRED');
    expect(await stored(waiting.orderId)).toEqual(waiting);
  });

  it('while payments are paused, counts an overdue payment and looks at it again next run, behind the orders it can move', async () => {
    // Prepare: a run of two; two payments overdue before a settlement is.
    const controls = { paymentsPaused: { by: 'ops', at: clock.now().toISOString() } };
    const first = await seed('PENDING_PAYMENT');
    const second = await seed('PENDING_PAYMENT');
    clock.advance(60);
    const settling = await seed('AWAITING_SETTLEMENT');
    clock.advance(1400);
    sweep = sweepOf(2);

    // Act
    const reports = [await sweep(controls)];
    clock.advance(300);
    reports.push(await sweep(controls));

    // Assess: the payments counted, nothing sent, no budget spent, each due again a run after
    // it was looked at; the settlement, due before the second run's, had its final check asked.
    expect(reports).toEqual([
      { expired: 0, requeued: 0, pastDeadline: 2 },
      { expired: 0, requeued: 1, pastDeadline: 2 },
    ]);
    expect(payments.sent).toEqual([]);
    expect(checks.scheduled.map(({ orderId, check }) => ({ orderId, check }))).toEqual([
      { orderId: settling.orderId, check: finalCheck },
    ]);
    const waiting = await Promise.all([first, second].map(({ orderId }) => stored(orderId)));
    expect(waiting.map((order) => order.redrives)).toEqual([undefined, undefined]);
    expect(waiting.map((order) => order.dueAt).sort()).toEqual([
      secondsAfter(clock.now(), 0),
      secondsAfter(clock.now(), 300),
    ]);
  });

  it('queues the payment of an order stuck in PENDING_PAYMENT again, and looks again later', async () => {
    // Prepare
    const order = await seed('PENDING_PAYMENT');
    clock.advance(901);

    // Act
    const first = await sweep();
    const second = await sweep();

    // Assess
    expect(first).toEqual({ expired: 0, requeued: 1, pastDeadline: 1 });
    expect(second).toEqual({ expired: 0, requeued: 0, pastDeadline: 0 });
    expect(payments.sent).toEqual([{ orderId: order.orderId, agentId }]);
    expect(observer.pastDeadline).toHaveBeenCalledOnce();
    expect(await stored(order.orderId)).toMatchObject({
      status: 'PENDING_PAYMENT',
      dueAt: '2026-11-23T10:00:01.000Z',
    });
  });

  it('schedules the final check, at once, of a payment past its settlement deadline', async () => {
    const order = await seed('AWAITING_SETTLEMENT');
    clock.advance(1260);

    const report = await sweep();

    expect(report).toEqual({ expired: 0, requeued: 1, pastDeadline: 1 });
    expect(checks.scheduled).toEqual([
      { orderId: order.orderId, check: finalCheck, delaySeconds: 0 },
    ]);
    expect(payments.sent).toEqual([]);
  });

  it('schedules the refund, at once, of an order stuck in REFUND_PENDING', async () => {
    const order = await seed('REFUND_PENDING');
    clock.advance(900);

    const report = await sweep();

    expect(report).toEqual({ expired: 0, requeued: 1, pastDeadline: 1 });
    expect(checks.scheduled).toEqual([{ orderId: order.orderId, check: 0, delaySeconds: 0 }]);
  });

  it('has a held order looked up once its review is overdue, and looks again a review period later', async () => {
    // Prepare
    const order = await seed('HELD_FOR_REVIEW');
    clock.advance(day);

    // Act
    const report = await sweep();

    // Assess: a charge a racing delivery made before the hold is found even if nobody reviews.
    expect(report).toEqual({ expired: 0, requeued: 1, pastDeadline: 1 });
    expect(observer.pastDeadline).toHaveBeenCalledOnce();
    expect(payments.sent).toEqual([]);
    expect(checks.scheduled).toEqual([{ orderId: order.orderId, check: 0, delaySeconds: 0 }]);
    expect(await stored(order.orderId)).toMatchObject({
      status: 'HELD_FOR_REVIEW',
      dueAt: '2026-11-25T09:30:00.000Z',
    });
  });

  it('has the reconciler close an unpaid order past its payment window, instead of paying it', async () => {
    // Prepare
    const order = await seedOrder(deps, 'PENDING_PAYMENT', {
      orderId: idOf(99),
      agentId,
      payBy: '2026-11-23T09:40:00.000Z',
    });
    clock.advance(900);

    // Act
    const report = await sweep();

    // Assess: looked at again a payment deadline later, in case the close did not happen.
    expect(report).toEqual({ expired: 0, requeued: 1, pastDeadline: 1 });
    expect(payments.sent).toEqual([]);
    expect(checks.scheduled).toEqual([{ orderId: order.orderId, check: 0, delaySeconds: 0 }]);
    expect((await stored(order.orderId)).dueAt).toBe('2026-11-23T10:00:00.000Z');
  });

  it('looks at an unpaid order again no later than the end of its payment window', async () => {
    const order = await seedOrder(deps, 'PENDING_PAYMENT', {
      orderId: idOf(99),
      agentId,
      payBy: '2026-11-23T09:50:00.000Z',
    });
    clock.advance(900);

    await sweep();

    expect(payments.sent).toEqual([{ orderId: order.orderId, agentId }]);
    expect((await stored(order.orderId)).dueAt).toBe('2026-11-23T09:50:00.000Z');
  });

  describe('the redrive budget', () => {
    /** Runs the sweep each time the order is due again, `times` times. */
    async function sweepEachTimeDue(orderId: string, times: number) {
      for (let run = 0; run < times; run++) {
        const dueAt = (await stored(orderId)).dueAt;
        if (dueAt === undefined) return;
        clock.advance((Date.parse(dueAt) - clock.now().getTime()) / 1000);
        await sweep();
      }
    }

    it.each<OrderStatus>(['AWAITING_SETTLEMENT', 'HELD_FOR_REVIEW'])(
      'counts each redrive of an order in %s, and past the budget leaves it with its reason and an alarm, for good',
      async (status) => {
        // Prepare
        const order = await seed(status);

        // Act: the order never moves on, however long the sweep keeps running.
        await sweepEachTimeDue(order.orderId, 10);
        clock.advance(10 * refundKeyWindow.seconds);
        await sweep();

        // Assess: three redrives, then left out of the index, told once; no look after a key
        // window, for it owes no refund.
        expect(checks.scheduled).toHaveLength(redriveLimit);
        const left = await stored(order.orderId);
        expect(left).toMatchObject({
          status,
          redrives: redriveLimit,
          lastError: 'REDRIVE_LIMIT_REACHED',
        });
        expect(left.dueAt).toBeUndefined();
        expect(left.refundKeyWindows).toBeUndefined();
        expect(observer.redriveLimitReached).toHaveBeenCalledOnce();
        expect(observer.redriveLimitReached).toHaveBeenCalledWith(
          expect.objectContaining({ orderId: order.orderId }),
          undefined,
        );
      },
    );

    it('sends a refund past its budget again after each key window, with a fresh budget, then leaves it for good', async () => {
      // Prepare
      const order = await seed('REFUND_PENDING');

      // Act: the refund is sent as often as its budget allows, and given up.
      await sweepEachTimeDue(order.orderId, redriveLimit + 1);
      const waiting = await stored(order.orderId);
      const givenUpAt = clock.now();
      // Then every time it is due again, until it is due no more.
      await sweepEachTimeDue(order.orderId, 20);

      // Assess: at the first give-up it waits a key window, its budget fresh, its reason told.
      expect(waiting).toMatchObject({
        status: 'REFUND_PENDING',
        lastError: REFUND_AFTER_KEY_WINDOW,
        refundKeyWindows: 1,
        dueAt: secondsAfter(givenUpAt, refundKeyWindow.seconds),
      });
      expect(waiting.redrives).toBeUndefined();
      // A budget for the first round and for each of the two looks, then left for good.
      expect(checks.scheduled).toHaveLength(redriveLimit * (refundKeyWindow.looks + 1));
      const left = await stored(order.orderId);
      expect(left).toMatchObject({
        status: 'REFUND_PENDING',
        redrives: redriveLimit,
        refundKeyWindows: refundKeyWindow.looks,
        lastError: REDRIVE_LIMIT_REACHED,
      });
      expect(left.dueAt).toBeUndefined();
      const told = observer.redriveLimitReached.mock.calls.map(([, again]) => again);
      expect(told).toEqual([
        { at: secondsAfter(givenUpAt, refundKeyWindow.seconds), look: 1, of: 2 },
        expect.objectContaining({ look: 2, of: 2 }),
        undefined,
      ]);
    });

    it('still closes an unpaid order past its budget once its payment window ends', async () => {
      // Prepare: payments that never get through, a window of two hours.
      const order = await seedOrder(deps, 'PENDING_PAYMENT', {
        orderId: idOf(99),
        agentId,
        payBy: '2026-11-23T11:30:00.000Z',
      });

      // Act
      await sweepEachTimeDue(order.orderId, redriveLimit + 2);

      // Assess: three payments sent again, left until the window's end, then closed.
      expect(payments.sent).toHaveLength(redriveLimit);
      expect(observer.redriveLimitReached).toHaveBeenCalledOnce();
      expect(clock.now().toISOString()).toBe('2026-11-23T11:30:00.000Z');
      expect(checks.scheduled).toEqual([{ orderId: order.orderId, check: 0, delaySeconds: 0 }]);
      expect(await stored(order.orderId)).toMatchObject({
        status: 'PENDING_PAYMENT',
        lastError: 'REDRIVE_LIMIT_REACHED',
      });
    });
  });

  it.each<OrderStatus>(['FAILED', 'CANCELLED', 'EXPIRED'])(
    'has a voided order in %s looked up at each time after its void, uncounted, then lets it go',
    async (status) => {
      // Prepare: voided now, so due an hour from now (1 h, 24 h, 7 days after the void).
      const order = await seed(status);
      const voidedAt = clock.now().toISOString();
      await orders.annotate(order.orderId, status, {
        voidedAt,
        dueAt: secondsAfter(clock.now(), 3600),
      });
      const dueAts: (string | undefined)[] = [];

      // Act: a run past each time, one more after the last.
      for (const seconds of [3600 + 60, day + 60, 7 * day + 60, 8 * day]) {
        clock.advance(seconds - (clock.now().getTime() - Date.parse(voidedAt)) / 1000);
        await sweep();
        dueAts.push((await stored(order.orderId)).dueAt);
      }

      // Assess: one lookup per time, the next time written each time, none after the last.
      expect(checks.scheduled).toEqual(
        [1, 2, 3].map(() => ({ orderId: order.orderId, check: 0, delaySeconds: 0 })),
      );
      expect(dueAts).toEqual([
        secondsAfter(new Date(voidedAt), day),
        secondsAfter(new Date(voidedAt), 7 * day),
        undefined,
        undefined,
      ]);
      const end = await stored(order.orderId);
      expect(end).toMatchObject({ status, version: order.version });
      expect(end.redrives).toBeUndefined();
      expect(observer.pastDeadline).not.toHaveBeenCalled();
      expect(observer.redriveLimitReached).not.toHaveBeenCalled();
    },
  );

  it('brings a voided order back for its next lookup only, when runs were missed', async () => {
    // Prepare: voided, due an hour later; the sweep does not run for two days.
    const order = await seed('FAILED');
    const voidedAt = clock.now().toISOString();
    await orders.annotate(order.orderId, 'FAILED', {
      voidedAt,
      dueAt: secondsAfter(clock.now(), 3600),
    });
    clock.advance(2 * day);

    // Act
    await sweep();

    // Assess: one lookup now stands for the two missed; the next is the last, at 7 days.
    expect(checks.scheduled).toHaveLength(1);
    expect((await stored(order.orderId)).dueAt).toBe(secondsAfter(new Date(voidedAt), 7 * day));
  });

  it('never finds an order that waits for nothing', async () => {
    // Prepare
    const terminal: OrderStatus[] = ['PAID', 'FAILED', 'CANCELLED', 'EXPIRED', 'REFUNDED'];
    for (const status of terminal) await seed(status);
    const before = structuredClone([...orders.orders.values()]);
    clock.advance(30 * day);

    // Act
    const report = await sweep();

    // Assess
    expect(report).toEqual({ expired: 0, requeued: 0, pastDeadline: 0 });
    expect(before.map((order) => order.dueAt)).toEqual(terminal.map(() => undefined));
    expect([...orders.orders.values()]).toEqual(before);
    expect(observer.expired).not.toHaveBeenCalled();
    expect(observer.pastDeadline).not.toHaveBeenCalled();
  });

  it('reports what it did with each kind of overdue order', async () => {
    // Prepare
    const statuses: OrderStatus[] = [
      'AWAITING_CONFIRMATION',
      'PENDING_PAYMENT',
      'AWAITING_SETTLEMENT',
      'REFUND_PENDING',
      'HELD_FOR_REVIEW',
      'PAID',
    ];
    for (const status of statuses) await seed(status);
    clock.advance(2 * day);

    // Act
    const report = await sweep();

    // Assess
    expect(report).toEqual({ expired: 1, requeued: 4, pastDeadline: 4 });
    expect(observer.expired).toHaveBeenCalledTimes(1);
    expect(observer.pastDeadline).toHaveBeenCalledTimes(4);
    expect(payments.sent).toHaveLength(1);
    expect(checks.scheduled.map((check) => check.check).sort()).toEqual([0, 0, finalCheck]);
  });

  it('handles at most batchSize orders in one run, the oldest first, and the rest in the next', async () => {
    // Prepare
    const small = sweepOf(2);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await seed('PENDING_PAYMENT')).orderId);
      clock.advance(10);
    }
    clock.advance(900);

    // Act
    const first = await small();
    const second = await small();
    const third = await small();

    // Assess
    expect([first, second, third].map((report) => report.requeued)).toEqual([2, 1, 0]);
    expect(payments.sent.map((request) => request.orderId)).toEqual(ids);
  });

  it('serves overdue orders that may hold money before older ones waiting for their user, keeping the waiting a share of each run', async () => {
    // Prepare: twelve waiting orders due first, then twelve pending payments; ten a run.
    const small = sweepOf(10);
    for (let i = 0; i < 12; i++) await seed('AWAITING_CONFIRMATION');
    for (let i = 0; i < 12; i++) await seed('PENDING_PAYMENT');
    clock.advance(900);

    // Act
    const first = await small();
    const second = await small();
    const third = await small();

    // Assess: nine payments and one expiry, then the rest of the payments, then the waiting.
    expect(waitingShare(10)).toBe(1);
    expect([first, second, third]).toEqual([
      { expired: 1, requeued: 9, pastDeadline: 9 },
      { expired: 7, requeued: 3, pastDeadline: 3 },
      { expired: 4, requeued: 0, pastDeadline: 0 },
    ]);
  });

  describe('payment messages that died on every delivery', () => {
    /** An order paid at once, as intake stores it: PENDING_PAYMENT with no `dueAt`. */
    const paidAtOnce = async () => {
      const order = await seed('PENDING_PAYMENT');
      await orders.annotate(order.orderId, 'PENDING_PAYMENT', { dueAt: undefined });
      return stored(order.orderId);
    };

    it('puts a pending order its dead message names in the due index, possibly charged, and redrives it in the same run', async () => {
      // Prepare
      const order = await paidAtOnce();
      deadPayments.messages.push({ orderId: order.orderId, agentId });

      // Act
      const report = await sweep();

      // Assess
      const after = await stored(order.orderId);
      expect(observer.strandedFound).toHaveBeenCalledTimes(1);
      expect(report.requeued).toBe(1);
      expect(payments.sent).toEqual([{ orderId: order.orderId, agentId }]);
      expect(after).toMatchObject({ outcomeUnknown: true, deadLettered: true, redrives: 1 });
      expect(after.dueAt).toBeDefined();
      expect(deadPayments.messages).toHaveLength(1);
    });

    it('leaves orders already due, and orders past PENDING_PAYMENT, to what they wait for', async () => {
      // Prepare: one due in 15 minutes, one paid, both named by dead messages.
      const due = await seed('PENDING_PAYMENT');
      const paid = await seed('PAID');
      deadPayments.messages.push(
        { orderId: due.orderId, agentId },
        { orderId: paid.orderId, agentId },
        { orderId: idOf(999), agentId },
      );

      // Act
      const report = await sweep();

      // Assess
      expect(observer.strandedFound).not.toHaveBeenCalled();
      expect(report).toEqual({ expired: 0, requeued: 0, pastDeadline: 0 });
      expect((await stored(due.orderId)).dueAt).toBe(due.dueAt);
      expect((await stored(paid.orderId)).version).toBe(paid.version);
    });

    it('reads a dead-letter queue deeper than one run in turn, counting messages, not orders', async () => {
      // Prepare: ten dead messages of one due order fill a run's ten, a stranded order's behind.
      const due = await seed('PENDING_PAYMENT');
      for (let n = 0; n < 10; n++) deadPayments.messages.push({ orderId: due.orderId, agentId });
      const stranded = await paidAtOnce();
      deadPayments.messages.push({ orderId: stranded.orderId, agentId });

      // Act
      await sweep();
      const firstFound = observer.strandedFound.mock.calls.length;
      clock.advance(300);
      await sweep();

      // Assess: the second run read the message the first one left; all eleven stay.
      expect(firstFound).toBe(0);
      expect(observer.strandedFound).toHaveBeenCalledTimes(1);
      expect((await stored(stranded.orderId)).deadLettered).toBe(true);
      expect(deadPayments.messages).toHaveLength(11);
    });

    it('reports how long ago the oldest dead payment message it read was first sent, and nothing when there is none', async () => {
      // Prepare: clock at 2026-11-23T09:30:00Z; the older message was sent 10 days before.
      const empty = await sweep();
      const first = await paidAtOnce();
      const second = await paidAtOnce();
      deadPayments.messages.push(
        { orderId: first.orderId, agentId, sentAt: '2026-11-20T09:30:00.000Z' },
        { orderId: second.orderId, agentId, sentAt: '2026-11-13T09:30:00.000Z' },
      );

      // Act
      await sweep();

      // Assess
      expect(empty.requeued).toBe(0);
      expect(observer.oldestDeadPayment).toHaveBeenCalledTimes(1);
      expect(observer.oldestDeadPayment).toHaveBeenCalledWith(10 * 86_400);
    });

    it('still sweeps the due index when the dead-letter queue cannot be read', async () => {
      // Prepare
      const stranded = await paidAtOnce();
      deadPayments.messages.push({ orderId: stranded.orderId, agentId });
      deadPayments.failNext = 1;
      const overdue = await seed('PENDING_PAYMENT');
      clock.advance(901);

      // Act
      const first = await sweep();
      const second = await sweep();

      // Assess: the run that could not read went on; the next one read.
      expect(observer.deadLettersUnread).toHaveBeenCalledTimes(1);
      expect(first.requeued).toBe(1);
      expect(second.requeued).toBe(1);
      expect(payments.sent.map((request) => request.orderId)).toEqual([
        overdue.orderId,
        stranded.orderId,
      ]);
    });

    it('still sweeps the due index when the orders its dead messages name cannot be read', async () => {
      // Prepare: the batch read of the dead messages' orders fails once (throttled, say).
      const stranded = await paidAtOnce();
      deadPayments.messages.push({ orderId: stranded.orderId, agentId });
      const overdue = await seed('PENDING_PAYMENT');
      clock.advance(901);
      const getMany = orders.getMany.bind(orders);
      orders.getMany = vi
        .fn<typeof orders.getMany>()
        .mockRejectedValueOnce(new Error('BatchGetItem left 1 keys unprocessed'))
        .mockImplementation(getMany);

      // Act
      const first = await sweep();

      // Assess: the overdue order was not held back by the dead messages.
      expect(observer.deadLettersUnread).toHaveBeenCalledTimes(1);
      expect(first.requeued).toBe(1);
      expect(payments.sent.map((request) => request.orderId)).toEqual([overdue.orderId]);
    });
  });
});
