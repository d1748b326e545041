import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CallbackObserver } from '#domain/callbacks.ts';
import type { BreakerListener } from '#domain/circuit-breaker.ts';
import type { Order } from '#domain/order.ts';
import type { SettlementObserver } from '#domain/settlement.ts';
import type { PaymentObserver } from '#domain/submit-payment.ts';
import type { SweepObserver } from '#domain/sweep.ts';
import { breakerMetric, gatewayCallMetric, metricNames } from './metric-names.ts';
import { logger, metrics } from './observability.ts';

/*
 * What the use cases tell their observers, as log lines and metrics: the same from every function
 * that hears it, so a handler only passes them on.
 */

/** Settlement events as logs and metrics, the same from every function that settles orders. */
export function settlementObserver(log: typeof logger): SettlementObserver {
  return {
    lateSuccess(order: Order) {
      metrics.addMetric(metricNames.lateSuccessRefund, MetricUnit.Count, 1);
      log.error('Money taken for an order the user does not get: refunding it', {
        orderId: order.orderId,
        amount: order.amount,
        currency: order.currency,
        gatewayRef: order.gatewayRef,
      });
    },
    ignored(order: Order, why: string) {
      // The gateway's callback after a charge that succeeded at once is every paid order's echo:
      // neither a line nor a count says more than the order does.
      const echo = order.status === 'PAID' && why === 'succeeded while PAID';
      if (!echo) metrics.addMetric(metricNames.settlementEventIgnored, MetricUnit.Count, 1);
      (echo ? log.debug : log.info).call(log, 'Gateway outcome changes nothing', {
        orderId: order.orderId,
        why,
      });
    },
    refundRejected(order: Order, reason: string) {
      metrics.addMetric(metricNames.refundRejected, MetricUnit.Count, 1);
      log.error('The gateway refused a refund: it is not sent again', {
        orderId: order.orderId,
        status: order.status,
        compensation: order.compensation === true,
        amount: order.amount,
        currency: order.currency,
        gatewayRef: order.gatewayRef,
        reason,
      });
    },
    foreignRefund(order: Order) {
      metrics.addMetric(metricNames.foreignRefund, MetricUnit.Count, 1);
      log.error('The payment was refunded in full outside autopay: the order is REFUNDED', {
        orderId: order.orderId,
        amount: order.amount,
        currency: order.currency,
        gatewayRef: order.gatewayRef,
      });
    },
    refundFailed(order: Order) {
      metrics.addMetric(metricNames.refundFailed, MetricUnit.Count, 1);
      log.error('The gateway failed the order’s refund after accepting it: a person pays it back', {
        orderId: order.orderId,
        refundId: order.refundId,
        failureReason: order.refundFailure,
        compensation: order.compensation === true,
        amount: order.amount,
        currency: order.currency,
        gatewayRef: order.gatewayRef,
      });
    },
    paymentWindowExpired(order: Order) {
      metrics.addMetric(metricNames.paymentWindowExpired, MetricUnit.Count, 1);
      log.warn('Not paid within its payment window: the order failed', {
        orderId: order.orderId,
        payBy: order.payBy,
        attempts: order.attempts,
      });
    },
  };
}

/** Payment submission's events: the settlement ones, gateway timings and risk bypasses. */
export function paymentObserver(log: typeof logger): PaymentObserver {
  return {
    ...settlementObserver(log),
    gatewayCall(operation, outcome, ms) {
      metrics.addMetric(gatewayCallMetric(operation, outcome), MetricUnit.Count, 1);
      metrics.addMetric(metricNames.gatewayLatency, MetricUnit.Milliseconds, ms);
      // A charge that succeeded is in the order itself (PAID, its gatewayRef) and in the metrics;
      // every other answer explains where the order went next.
      const routine = operation === 'charge' && outcome === 'succeeded';
      (routine ? log.debug : log.info).call(log, 'Gateway answered', { operation, outcome, ms });
    },
    riskAnswered(_order, answer) {
      // A pass is recorded on the order with the engine's RequestId; anything else is told here.
      const routine = answer.kind === 'assessed' && answer.level === 'pass';
      (routine ? log.debug : log.info).call(log, 'Risk engine answered', {
        riskRequestId: answer.requestId,
        ...(answer.kind === 'assessed'
          ? { riskLevel: answer.level }
          : { riskErrorCode: answer.code, retryable: answer.retryable }),
      });
    },
    riskBypassed(order, verdict) {
      metrics.addMetric(metricNames.riskCheckBypassed, MetricUnit.Count, 1);
      const fields = {
        amount: order.amount,
        currency: order.currency,
        riskRequestId: verdict.requestId,
        riskErrorCode: verdict.errorCode,
        attempts: verdict.attempts,
      };
      if (verdict.refused) {
        // A wrong or expired credential, or a request the engine will never accept: every order
        // fails open until someone fixes it, so it alarms at once.
        metrics.addMetric(metricNames.riskCheckRefused, MetricUnit.Count, 1);
        log.error('Risk check bypassed: the engine refused the request', fields);
        return;
      }
      log.warn('Risk check bypassed: the engine did not answer', fields);
    },
  };
}

/** A circuit breaker's moves between closed, open and half-open. */
export function breakerMoves(gateway: string): BreakerListener {
  return (from, to) => {
    metrics.addMetric(breakerMetric(to), MetricUnit.Count, 1);
    logger.warn('Circuit breaker moved', { gateway, from, to });
  };
}

/** Callbacks that change nothing but must be seen. */
export const callbackObserver: CallbackObserver = {
  unknownOrder(gatewayEvent) {
    metrics.addMetric(metricNames.callbackUnknownOrder, MetricUnit.Count, 1);
    logger.warn('Callback for an order we do not have', { type: gatewayEvent.type });
  },
  amountMismatch(gatewayEvent, order) {
    metrics.addMetric(metricNames.settlementAmountMismatch, MetricUnit.Count, 1);
    logger.error('Callback amount or currency differs from the order: nothing changed', {
      eventAmount: gatewayEvent.data.amount,
      eventCurrency: gatewayEvent.data.currency,
      orderAmount: order.amount,
      orderCurrency: order.currency,
    });
  },
  foreignRefund(gatewayEvent, order) {
    metrics.addMetric(metricNames.foreignRefund, MetricUnit.Count, 1);
    logger.error('A refund that is not the order’s own full refund: recorded, not applied', {
      refundId: gatewayEvent.data.refundId,
      refundAmount: gatewayEvent.data.amount,
      orderAmount: order.amount,
      status: order.status,
    });
  },
};

/** A callback whose signature matched no cached secret, just before they are read afresh. */
export function signatureMismatch(): void {
  metrics.addMetric(metricNames.callbackSignatureMismatch, MetricUnit.Count, 1);
}

/** What the sweep finds: orders past their deadline, expiries, orders left to a person. */
export const sweepObserver: SweepObserver = {
  pastDeadline(order) {
    metrics.addMetric(metricNames.ordersPastDeadline, MetricUnit.Count, 1);
    logger.warn('Order past its deadline', {
      orderId: order.orderId,
      status: order.status,
      dueAt: order.dueAt,
    });
  },
  expired(order) {
    metrics.addMetric(metricNames.ordersExpired, MetricUnit.Count, 1);
    logger.info('Order expired unconfirmed', { orderId: order.orderId });
  },
  redriveLimitReached(order, again) {
    metrics.addMetric(metricNames.redriveLimitReached, MetricUnit.Count, 1);
    const about = {
      orderId: order.orderId,
      status: order.status,
      redrives: order.redrives,
      lastError: order.lastError,
      payBy: order.payBy,
    };
    if (again === undefined) {
      logger.error('Order set moving as often as its budget allows: left to a person', about);
      return;
    }
    logger.error(
      "Refund set moving as often as its budget allows: sent again once the gateway's key window has passed",
      { ...about, sendAgainAt: again.at, keyWindow: `${again.look} of ${again.of}` },
    );
  },
  strandedFound(order) {
    metrics.addMetric(metricNames.strandedPaymentFound, MetricUnit.Count, 1);
    logger.warn('Order found through its dead payment message: due now', {
      orderId: order.orderId,
      status: order.status,
    });
  },
  deadLettersUnread(error) {
    logger.error(
      'The dead payment messages could not be read: the next run reads them again, unless those this run received could not be shown again either (then the walk through the DLQ comes round to them, within 12 hours)',
      { error },
    );
  },
  deadPaymentUnhandled(orderId, error, shownAgain) {
    logger.error(
      shownAgain
        ? 'The order a dead payment message names could not be handled: its messages are shown again for the next run'
        : 'The order a dead payment message names could not be handled again: its messages stay hidden until the walk through the DLQ comes round to them (within 12 hours)',
      { orderId, error },
    );
  },
  oldestDeadPayment(ageSeconds) {
    metrics.addMetric(metricNames.oldestDeadPaymentAge, MetricUnit.Seconds, ageSeconds);
  },
};
