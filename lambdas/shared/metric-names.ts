/**
 * Every custom metric the functions publish through Powertools (EMF), and where: the handlers and
 * observers name their metrics from here, and the alarms and dashboard of
 * infra/constructs/observability.ts watch the same names, so a renamed metric cannot leave an
 * alarm watching nothing. Plain data, so the functions and the CDK stack share it cheaply.
 */
import type { CallbackOutcome } from '#domain/callbacks.ts';
import type { BreakerState } from '#domain/payment-ports.ts';
import type { RotationStep } from '#domain/rotation.ts';
import type { PaymentObserver } from '#domain/submit-payment.ts';

/** The namespace (POWERTOOLS_METRICS_NAMESPACE) and the dimension Powertools adds to each. */
export const metricNamespace = 'Autopay';
export const serviceDimension = 'service';
/**
 * The dimension every function adds to each of its metrics (the stage it runs in), so that an
 * alarm of one stage never counts another stage's traffic in the same account.
 */
export const stageDimension = 'stage';

/**
 * The stage a function runs in: the `stage` dimension of every metric it publishes. Here rather
 * than with the other environment names, so that the functions' logging and metrics setup does
 * not carry the whole wiring table into every bundle.
 */
export const stageVariable = 'AUTOPAY_STAGE';

export const metricNames = {
  orderPlaced: 'OrderPlaced',
  orderReplayed: 'OrderReplayed',
  orderRead: 'OrderRead',
  agentChanged: 'AgentChanged',
  requestRefused: 'RequestRefused',
  requestFailed: 'RequestFailed',
  poisonMessage: 'PoisonMessage',
  gatewayLatency: 'GatewayLatency',
  riskCheckBypassed: 'RiskCheckBypassed',
  riskCheckRefused: 'RiskCheckRefused',
  lateSuccessRefund: 'LateSuccessRefund',
  settlementEventIgnored: 'SettlementEventIgnored',
  refundRejected: 'RefundRejected',
  paymentWindowExpired: 'PaymentWindowExpired',
  callbackUnknownOrder: 'CallbackUnknownOrder',
  callbackSignatureMismatch: 'CallbackSignatureMismatch',
  settlementAmountMismatch: 'SettlementAmountMismatch',
  foreignRefund: 'ForeignRefund',
  /** A refund of ours that the gateway failed after accepting it: a person pays the user back. */
  refundFailed: 'RefundFailed',
  ordersPastDeadline: 'OrdersPastDeadline',
  ordersExpired: 'OrdersExpired',
  redriveLimitReached: 'RedriveLimitReached',
  /** An order paid at once found through its payment message in the DLQ, out of the due index. */
  strandedPaymentFound: 'StrandedPaymentFound',
  /**
   * Seconds since the oldest dead payment message a sweep run read was first sent, published by
   * each run that reads one: the payment DLQ's retention counts from that first send.
   */
  oldestDeadPaymentAge: 'OldestDeadPaymentAge',
  sweepRuns: 'SweepRuns',
  webhookEndpointCreated: 'WebhookEndpointCreated',
  notificationsQueued: 'NotificationsQueued',
  notificationChangesRead: 'NotificationChangesRead',
  orderRateLimited: 'OrderRateLimited',
  possibleDuplicate: 'OrderPossibleDuplicate',
  /** An order that waited because auto-pay was paused (reason AUTOPAY_PAUSED). */
  autopayPaused: 'OrderAutopayPaused',
  /** Published by every sweep run: 1 while an operator has paused it, 0 otherwise. */
  autopayPausedState: 'AutopayPausedState',
  paymentsPausedState: 'PaymentsPausedState',
} as const;

type GatewayCall = Parameters<PaymentObserver['gatewayCall']>;

/** One metric per gateway call and outcome kind: `Gateway_charge_succeeded`, … */
export const gatewayCallMetric = <O extends GatewayCall[0], K extends GatewayCall[1]>(
  operation: O,
  outcome: K,
) => `Gateway_${operation}_${outcome}` as const;

/** One metric per state the circuit breaker moves to: `Breaker_open`, … */
export const breakerMetric = <S extends BreakerState>(state: S) => `Breaker_${state}` as const;

/**
 * What a callback did: `Callback_applied`, `Callback_ignored`, … A success callback for an order
 * already PAID (every such order's echo) is not counted: the callback function's Invocations less
 * these counts.
 */
export const callbackMetric = (result: CallbackOutcome['result']) => `Callback_${result}` as const;

/** The user's moves on an order: `Order_confirm`, `Order_cancel`, `Order_refund`. */
export const lifecycleMetric = (action: string) => `Order_${action}` as const;

/** One metric per rotation step done: `Rotation_createSecret`, … */
export const rotationMetric = (step: RotationStep) => `Rotation_${step}` as const;

/** What a queue consumer did with a message: `PaymentMessageHandled`, `SettlementRetryScheduled`. */
export const consumerMetric = (consumer: string, what: 'MessageHandled' | 'RetryScheduled') =>
  `${consumer}${what}` as const;
