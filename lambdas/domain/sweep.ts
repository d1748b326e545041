import { REDRIVE_LIMIT_REACHED, REFUND_AFTER_KEY_WINDOW } from './errors.ts';
import { isOrderId, type Order, type PaymentFields, refundFailedAtGateway } from './order.ts';
import { earliest, isPast, type MoveDeps, moveOrder, secondsAfter } from './order-moves.ts';
import type {
  DeadPaymentMessages,
  DeadPaymentRequest,
  OperatorControls,
  PaymentQueue,
  SettlementCheckQueue,
} from './ports.ts';
import { checkOf, closedStatuses, nextLookupAfterVoid } from './settlement.ts';

export interface SweepObserver {
  /** An order past its deadline: counted, so an alarm can say that something is stuck. */
  pastDeadline(order: Order): void;
  expired(order: Order): void;
  /**
   * An order set moving as often as its budget allows: it is left, with its reason, to a person;
   * or, an order owing a refund, sent the refund again at `again.at`, once the gateway's key
   * window has passed, with a fresh budget (look `again.look` of the `again.of` it may have).
   */
  redriveLimitReached(order: Order, again?: KeyWindowLook): void;
  /** An order found through its dead payment message, out of the due index: put back in it. */
  strandedFound(order: Order): void;
  /**
   * The dead payment messages, or the orders they name, could not be read this run, or those it
   * received could not be shown again for the next run; a later run reads them again.
   */
  deadLettersUnread(error: unknown): void;
  /**
   * The order a dead payment message names could not be put in the due index (or looked up for a
   * dead charge) this run; its messages are shown again for the next run (`shownAgain`), or left
   * hidden until the walk comes round when the previous run had already shown them again.
   */
  deadPaymentUnhandled(orderId: string, error: unknown, shownAgain: boolean): void;
  /**
   * How long ago (seconds) the oldest dead payment message this run read was first sent: the
   * dead-letter queue deletes it once its retention has passed since then. SQS's own age of a
   * DLQ's oldest message leaves out those received three times, as the sweep's are.
   */
  oldestDeadPayment(ageSeconds: number): void;
}

export interface SweepDeps extends MoveDeps {
  readonly payments: PaymentQueue;
  readonly settlementChecks: SettlementCheckQueue;
  /** Read every run: a payment message that died on every delivery may have written nothing. */
  readonly deadPayments: DeadPaymentMessages;
  /** How many dead payment messages one run reads, and how long it hides them. */
  readonly deadLetters: DeadLetterWalk;
  /** How often the sweep runs (its schedule). */
  readonly runEverySeconds: number;
  /** The last status query, which voids a payment that is still pending. */
  readonly finalCheck: number;
  /** When, in seconds after a void, its closed order is looked up again (`lookupsAfterVoid`). */
  readonly voidLookups: readonly number[];
  readonly observer: SweepObserver;
  /** How many overdue orders one run handles; the next run takes the rest. */
  readonly batchSize: number;
  /** How many times one order is set moving again before it is left to a person. */
  readonly redriveLimit: number;
  readonly refundKeyWindow: RefundKeyWindow;
}

/**
 * How long the gateway answers a request again as it first answered it, and how often the sweep
 * waits that out for a refund. Stripe saves a request's first answer under its idempotency key,
 * a 500 included, and replays it to every retry until it prunes the key, once the key is at
 * least 24 hours old; a request under the key after that is made afresh.
 */
export interface RefundKeyWindow {
  /** A little over the gateway's key window, counted from the give-up. */
  readonly seconds: number;
  /** Windows one refund is given before it is left to a person. */
  readonly looks: number;
}

export const defaultRefundKeyWindow: RefundKeyWindow = { seconds: 25 * 3600, looks: 3 };

/**
 * How the runs walk the payment DLQ, which they read and never empty: each run reads a share of
 * it and hides what it read until the runs after it have read the rest.
 */
export interface DeadLetterWalk {
  /** The fewest messages one run reads. */
  readonly batchSize: number;
  /** The most messages one run reads, however deep the queue. */
  readonly maxBatchSize: number;
  /** Runs one walk through the whole queue takes, while the batch may grow to keep it so. */
  readonly cycleRuns: number;
}

export const defaultDeadLetterWalk: DeadLetterWalk = {
  batchSize: 100,
  maxBatchSize: 1000,
  cycleRuns: 12,
};

/** What one run reads of a payment DLQ `depth` messages deep. */
export interface DeadLetterRead {
  readonly messages: number;
  readonly hideSeconds: number;
}

/**
 * Reads as many messages as a walk through the queue in `cycleRuns` runs needs (within the
 * batch's bounds), and hides each for the runs the walk takes plus one, so that every message is
 * read once a walk however deep the queue, as long as the queue can hide it that long: with the
 * defaults and a run every 5 minutes, within an hour up to 12,000 messages, within 12 hours (SQS's
 * longest) up to 143,000.
 */
export function deadLetterRead(
  depth: number,
  walk: DeadLetterWalk,
  runEverySeconds: number,
  longestHideSeconds: number,
): DeadLetterRead {
  const wanted = Math.ceil(depth / walk.cycleRuns);
  const messages = Math.min(walk.maxBatchSize, Math.max(walk.batchSize, wanted));
  const runs = Math.max(1, Math.ceil(depth / messages)) + 1;
  return { messages, hideSeconds: Math.min(longestHideSeconds, runs * runEverySeconds) };
}

/** When the sweep sends a given-up refund again, and which of its looks that is. */
export interface KeyWindowLook {
  readonly at: string;
  readonly look: number;
  readonly of: number;
}

export interface SweepReport {
  readonly expired: number;
  readonly requeued: number;
  readonly pastDeadline: number;
}

/** A tenth of a run, at least one order and never the whole of it, for the waiting lane. */
export function waitingShare(batchSize: number): number {
  return Math.min(batchSize - 1, Math.max(1, Math.floor(batchSize / 10)));
}

export { REDRIVE_LIMIT_REACHED, REFUND_AFTER_KEY_WINDOW };

/** An order owing a refund that the sweep gave up until the gateway's key window has passed. */
export function waitsOutKeyWindow(order: Pick<Order, 'status' | 'lastError'>): boolean {
  return order.status === 'REFUND_PENDING' && order.lastError === REFUND_AFTER_KEY_WINDOW;
}

/**
 * Finds every order past its deadline through the sparse due index and sets it moving again:
 * unconfirmed orders expire, lost payment messages are sent again, orders past their payment
 * window are closed, settlements and refunds get a check now, held orders a lookup. Each one it
 * finds is counted; its deadline moves on so the next run counts it again only if it is still
 * stuck then. Each order has a budget of redrives: past it, the order keeps its reason and is
 * left to a person, except that an unpaid order is still closed at the end of its window, and
 * that a refund, which the gateway may be answering with an error saved under its key, is sent
 * again once the key window has passed, with a fresh budget, a bounded number of times. What
 * the sweep writes of an order is written only while its deadline is the one read: a move made
 * meanwhile that kept the status (a refund failed at the gateway, a compensation refused, both
 * taking the order out of the index) is not undone. While an operator has paused payments
 * (`controls`), an order waiting for its payment is counted and looked at again next run, its
 * budget untouched and no message sent: nothing would receive it.
 */
export function makeSweep(deps: SweepDeps) {
  /**
   * The orders whose write failed in the last run and whose dead payment messages it showed
   * again: one that fails again is left hidden for the walk. Kept by this instance only.
   */
  let shownAgainLastRun: ReadonlySet<string> = new Set();

  return async function sweep(controls: OperatorControls = {}): Promise<SweepReport> {
    const now = deps.clock.now();
    const paused = controls.paymentsPaused !== undefined;
    await putStrandedInIndex(now);
    const due = await dueOrders(now);
    let expired = 0;
    let requeued = 0;
    let pastDeadline = 0;
    for (const order of due) {
      if (closedStatuses.has(order.status)) {
        await lookAfterVoid(order, now);
        continue;
      }
      if (order.status === 'AWAITING_CONFIRMATION') {
        const result = await moveOrder(deps, order, 'CONFIRMATION_WINDOW_PASSED');
        if (result.kind === 'applied') {
          expired++;
          deps.observer.expired(order);
        }
        continue;
      }
      pastDeadline++;
      deps.observer.pastDeadline(order);
      const closing = order.status === 'PENDING_PAYMENT' && isPast(order.payBy, deps.clock);
      if (paused && order.status === 'PENDING_PAYMENT' && !closing) {
        await lookAfterResume(order, now);
        continue;
      }
      const redrives = order.redrives ?? 0;
      if (!closing && redrives >= deps.redriveLimit) {
        await giveUp(order, now);
        continue;
      }
      await redrive(order, closing);
      requeued++;
      await deps.orders.annotate(
        order.orderId,
        order.status,
        { redrives: redrives + 1, dueAt: nextLook(now, order, closing) },
        order.dueAt,
      );
    }
    return { expired, requeued, pastDeadline };
  };

  /**
   * The money lane first, so that an agent placing orders that wait for its user (each free,
   * each expiring unpaid) cannot hold back a settlement's void, a refund or a redrive. The waiting
   * lane keeps a share of every run and takes whatever room the money lane leaves, so it is
   * never starved: an order waiting for its user expires within ⌈k / share⌉ runs of its
   * deadline, k being the waiting orders due before it and itself (with the default batch of 500,
   * a share of 50 and a run every 5 minutes: 10 minutes for a backlog of 100).
   */
  async function dueOrders(now: Date): Promise<Order[]> {
    const before = now.toISOString();
    const share = waitingShare(deps.batchSize);
    const money = await deps.orders.findDue(before, deps.batchSize, 'money');
    const room = deps.batchSize - Math.min(money.length, deps.batchSize - share);
    const waiting = room > 0 ? await deps.orders.findDue(before, room, 'waiting') : [];
    return [...money.slice(0, deps.batchSize - waiting.length), ...waiting];
  }

  /**
   * An order paid at once enters the due index only when a delivery of its payment message is
   * handled and fails. A message whose every delivery died unhandled (a timeout, a crash, writes
   * throttled) reached the dead-letter queue having written nothing, perhaps after its first
   * delivery charged: its order, still PENDING_PAYMENT with no `dueAt`, is made due now, marked
   * as possibly charged, so that the redrive below asks the gateway before charging anything.
   * Costs one read of the dead-letter queue per run while it is empty, and one batch read of the
   * orders its messages name otherwise; nothing per paid order. Messages received whose orders
   * could not be read are shown again for the next run, rather than hidden for the whole walk; a
   * message naming no order id intake issues is left to the operator, so that it cannot fail the
   * read of the others every run. Each order is handled on its own: one whose write fails is
   * logged, the others and the due index go on, and its messages are shown again for the next
   * run; if that run fails on it again, they stay hidden until the walk comes round. So an order
   * whose writes keep failing is tried twice a walk, not every run.
   */
  async function putStrandedInIndex(now: Date): Promise<void> {
    const { deadPayments } = deps;
    const shownBefore = shownAgainLastRun;
    shownAgainLastRun = new Set();
    let requests: DeadPaymentRequest[];
    let orders: Map<string, Order>;
    let peeking = false;
    try {
      const depth = await deadPayments.depth();
      const read = deadLetterRead(
        depth,
        deps.deadLetters,
        deps.runEverySeconds,
        deadPayments.longestHideSeconds,
      );
      peeking = true;
      const peeked = await deadPayments.peek(read.messages, read.hideSeconds);
      reportOldest(peeked, now);
      requests = peeked.filter((request) => isOrderId(request.orderId));
      // A read of their orders that fails holds the due index back no more than the queue does.
      orders = await deps.orders.getMany(requests.map((request) => request.orderId));
    } catch (error) {
      deps.observer.deadLettersUnread(error);
      if (peeking) await showAgain();
      return;
    }
    const again: string[] = [];
    for (const { orderId } of requests) {
      try {
        await handleDeadPayment(orderId, orders.get(orderId), now);
      } catch (error) {
        const shown = !shownBefore.has(orderId);
        deps.observer.deadPaymentUnhandled(orderId, error, shown);
        if (shown) again.push(orderId);
      }
    }
    if (again.length > 0 && (await showAgain(again))) shownAgainLastRun = new Set(again);
  }

  /** What one dead payment message asks of the order it names, if anything. */
  async function handleDeadPayment(
    orderId: string,
    order: Order | undefined,
    now: Date,
  ): Promise<void> {
    if (order !== undefined && closedStatuses.has(order.status) && !order.deadLettered) {
      await lookForDeadCharge(order);
      return;
    }
    if (order?.status !== 'PENDING_PAYMENT' || order.dueAt !== undefined) return;
    const put = await deps.orders.annotate(orderId, 'PENDING_PAYMENT', {
      dueAt: now.toISOString(),
      deadLettered: true,
      outcomeUnknown: true,
    });
    if (put) deps.observer.strandedFound(order);
  }

  function reportOldest(requests: readonly DeadPaymentRequest[], now: Date): void {
    const sent = requests.flatMap(({ sentAt }) =>
      sentAt === undefined ? [] : [Date.parse(sentAt)],
    );
    if (sent.length > 0) {
      deps.observer.oldestDeadPayment(Math.max(0, (now.getTime() - Math.min(...sent)) / 1000));
    }
  }

  /**
   * The last peek's messages (or those of the orders named), shown again; if they cannot be, the
   * walk comes round to them. Whether they were.
   */
  async function showAgain(orderIds?: readonly string[]): Promise<boolean> {
    try {
      await deps.deadPayments.showAgain(orderIds);
      return true;
    } catch (error) {
      deps.observer.deadLettersUnread(error);
      return false;
    }
  }

  /**
   * An order closed without the money (cancelled after a hold, failed, expired) whose payment
   * message died may have been charged by a delivery that died too, with nobody left to look: the
   * reconciler looks it up once (and refunds what it finds). Asked first and marked after, so a
   * failure in between asks again on a later run, never not at all.
   */
  async function lookForDeadCharge(order: Order): Promise<void> {
    await deps.settlementChecks.schedule(
      { orderId: order.orderId, agentId: order.agentId, check: 0 },
      0,
    );
    await deps.orders.annotate(order.orderId, order.status, { deadLettered: true });
  }

  /**
   * A closed order is in the index only while lookups follow the void of its payment: one is due,
   * not overdue. The reconciler looks it up (and refunds what was captured despite the void); the
   * order waits for the next lookup, or leaves the index after the last one. Asked first and moved
   * on after, so a failure in between asks again on the next run.
   */
  async function lookAfterVoid(order: Order, now: Date): Promise<void> {
    await deps.settlementChecks.schedule(checkOf(order, 0), 0);
    await deps.orders.annotate(
      order.orderId,
      order.status,
      { dueAt: nextLookupAfterVoid(order.voidedAt, now, deps.voidLookups) },
      order.dueAt,
    );
  }

  /**
   * Payment submission receives nothing while payments are paused (its queue's mapping is off), so
   * a message sent now would only wait beside the order's own. The order is looked at again next
   * run, so that it is set moving within a run or two of the resume; its payment window still
   * closes on time.
   */
  async function lookAfterResume(order: Order, now: Date): Promise<void> {
    const dueAt = earliest(secondsAfter(now, deps.runEverySeconds), order.payBy);
    await deps.orders.annotate(order.orderId, order.status, { dueAt }, order.dueAt);
  }

  async function redrive(order: Order, closing: boolean): Promise<void> {
    const check = (n: number) =>
      deps.settlementChecks.schedule(
        { orderId: order.orderId, agentId: order.agentId, check: n },
        0,
      );
    if (order.status === 'PENDING_PAYMENT' && !closing) {
      await deps.payments.enqueue({ orderId: order.orderId, agentId: order.agentId });
    } else if (order.status === 'AWAITING_SETTLEMENT') {
      await check(deps.finalCheck);
    } else {
      // Closing an unpaid order, sending a refund, or looking for a charge a racing delivery
      // made before the hold: the reconciler's lookup or refund does each.
      await check(0);
    }
  }

  /**
   * Stops setting the order moving; an unpaid order still comes back to be closed on time, and
   * a refund once the gateway's key window has passed (`lookAfterKeyWindow`).
   */
  async function giveUp(order: Order, now: Date): Promise<void> {
    const again = lookAfterKeyWindow(order, now);
    const changes: Partial<PaymentFields> =
      again === undefined
        ? {
            lastError: REDRIVE_LIMIT_REACHED,
            dueAt: order.status === 'PENDING_PAYMENT' ? order.payBy : undefined,
          }
        : {
            lastError: REFUND_AFTER_KEY_WINDOW,
            dueAt: again.at,
            redrives: undefined,
            refundKeyWindows: again.look,
          };
    const given = await deps.orders.annotate(order.orderId, order.status, changes, order.dueAt);
    if (given) deps.observer.redriveLimitReached(order, again);
  }

  /**
   * A refund's checks and redrives may all have met one error the gateway saved under the
   * refund's key and replays until it prunes the key. Every send of this round came before the
   * give-up, its first one too: a key window counted from now ends after the saved answer's own,
   * and the refund is then sent again under the same key, afresh. Past the last look, none.
   */
  function lookAfterKeyWindow(order: Order, now: Date): KeyWindowLook | undefined {
    const { seconds, looks } = deps.refundKeyWindow;
    const look = (order.refundKeyWindows ?? 0) + 1;
    if (order.status !== 'REFUND_PENDING' || refundFailedAtGateway(order) || look > looks) {
      return undefined;
    }
    return { at: secondsAfter(now, seconds), look, of: looks };
  }

  function nextLook(now: Date, order: Order, closing: boolean): string {
    if (order.status === 'HELD_FOR_REVIEW') {
      return secondsAfter(now, deps.deadlines.reviewSeconds);
    }
    const again = secondsAfter(
      now,
      Math.min(deps.deadlines.paymentSeconds, deps.deadlines.refundSeconds),
    );
    return order.status === 'PENDING_PAYMENT' && !closing ? earliest(again, order.payBy) : again;
  }
}
