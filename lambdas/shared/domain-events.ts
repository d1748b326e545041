import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Order } from '#domain/order.ts';
import type { SettlementObserver } from '#domain/settlement.ts';
import { type logger, metrics } from './observability.ts';

/** Settlement events as logs and metrics, the same from every function that settles orders. */
export function settlementObserver(log: typeof logger): SettlementObserver {
  return {
    lateSuccess(order: Order) {
      metrics.addMetric('LateSuccessRefund', MetricUnit.Count, 1);
      log.error('Money taken for an order the user does not get: refunding it', {
        orderId: order.orderId,
        amount: order.amount,
        currency: order.currency,
        gatewayRef: order.gatewayRef,
      });
    },
    ignored(order: Order, why: string) {
      metrics.addMetric('SettlementEventIgnored', MetricUnit.Count, 1);
      log.info('Gateway outcome changes nothing', { orderId: order.orderId, why });
    },
    refundRejected(order: Order, reason: string) {
      metrics.addMetric('RefundRejected', MetricUnit.Count, 1);
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
    paymentWindowExpired(order: Order) {
      metrics.addMetric('PaymentWindowExpired', MetricUnit.Count, 1);
      log.warn('Not paid within its payment window: the order failed', {
        orderId: order.orderId,
        payBy: order.payBy,
        attempts: order.attempts,
      });
    },
  };
}
