import type { Order } from './order.ts';
import { type MoveDeps, moveOrder } from './order-moves.ts';
import type { PaymentQueue, SettlementCheckQueue } from './ports.ts';

export interface SweepObserver {
  /** An order past its deadline: counted, so an alarm can say that something is stuck. */
  pastDeadline(order: Order): void;
  expired(order: Order): void;
}

export interface SweepDeps extends MoveDeps {
  readonly payments: PaymentQueue;
  readonly settlementChecks: SettlementCheckQueue;
  /** The last status query, which voids a payment that is still pending. */
  readonly finalCheck: number;
  readonly observer: SweepObserver;
  /** How many overdue orders one run handles; the next run takes the rest. */
  readonly batchSize: number;
}

export interface SweepReport {
  readonly expired: number;
  readonly requeued: number;
  readonly pastDeadline: number;
}

/**
 * Finds every order past its deadline through the sparse due index and sets it moving again:
 * unconfirmed orders expire, lost payment messages are sent again, settlements and refunds get
 * a check now. Each one it finds is counted; its deadline moves on so the next run counts it
 * again only if it is still stuck then.
 */
export function makeSweep(deps: SweepDeps) {
  return async function sweep(): Promise<SweepReport> {
    const now = deps.clock.now();
    const due = await deps.orders.findDue(now.toISOString(), deps.batchSize);
    let expired = 0;
    let requeued = 0;
    let pastDeadline = 0;
    for (const order of due) {
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
      if (order.status === 'PENDING_PAYMENT') {
        await deps.payments.enqueue({ orderId: order.orderId, agentId: order.agentId });
        requeued++;
      } else if (order.status === 'AWAITING_SETTLEMENT' || order.status === 'REFUND_PENDING') {
        const check = order.status === 'AWAITING_SETTLEMENT' ? deps.finalCheck : 0;
        await deps.settlementChecks.schedule(
          { orderId: order.orderId, agentId: order.agentId, check },
          0,
        );
        requeued++;
      }
      await deps.orders.annotate(order.orderId, order.status, {
        dueAt: nextLook(now, order, deps),
      });
    }
    return { expired, requeued, pastDeadline };
  };
}

function nextLook(now: Date, order: Order, deps: SweepDeps): string {
  const seconds =
    order.status === 'HELD_FOR_REVIEW'
      ? deps.deadlines.reviewSeconds
      : Math.min(deps.deadlines.paymentSeconds, deps.deadlines.refundSeconds);
  return new Date(now.getTime() + seconds * 1000).toISOString();
}
