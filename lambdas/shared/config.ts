import { defaultGuardPolicy, type GuardPolicy } from '#domain/agent-guards.ts';
import type { BackoffPolicy } from '#domain/backoff.ts';
import type { BreakerPolicy } from '#domain/circuit-breaker.ts';
import type { IntakePolicy } from '#domain/schemas.ts';
import type { SettlementSchedule } from '#domain/settlement.ts';
import type { PaymentPolicy } from '#domain/submit-payment.ts';
import type { DeadLetterWalk, RefundKeyWindow } from '#domain/sweep.ts';
import {
  jsonRecord,
  list,
  number,
  numbers,
  oneOf,
  optional,
  optionalText,
  readSettings,
  type SettingsOf,
  text,
  url,
} from './settings.ts';

const csv = list(/^[A-Z]{3}$/);

/**
 * How long one AWS SDK call may wait for its connection and for its answer; every function's
 * wiring sets both, and a tool outside the functions that sets neither keeps the SDK's default
 * (no limit). A call that times out is retried by the SDK, as a 5xx is.
 */
const awsClientEnvironment = {
  AWS_CONNECTION_TIMEOUT_MS: optional(number({ min: 1 })),
  AWS_REQUEST_TIMEOUT_MS: optional(number({ min: 1 })),
};

export function readAwsClientEnvironment(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(awsClientEnvironment, env);
}

const seconds = number({ min: 0 });

/**
 * Who pays at Stripe for each agent (`default` for the others): a JSON object of agent id →
 * `{ "customer": "cus_…", "paymentMethod": "pm_…" }`. Empty unless the gateway is Stripe.
 */
const stripePayers = jsonRecord((value) => {
  const payer = value as { customer?: unknown; paymentMethod?: unknown } | null;
  if (typeof payer?.customer !== 'string' || !payer.customer.startsWith('cus_')) {
    return 'customer must start with cus_';
  }
  if (typeof payer.paymentMethod !== 'string' || payer.paymentMethod === '') {
    return 'paymentMethod must be set';
  }
  return { customer: payer.customer, paymentMethod: payer.paymentMethod };
});
const positive = number({ min: 1 });

const deadlineEnvironment = {
  PAYMENT_DEADLINE_SECONDS: positive,
  REFUND_DEADLINE_SECONDS: positive,
  REVIEW_DEADLINE_SECONDS: positive,
  PAYMENT_WINDOW_SECONDS: positive,
};

/** When a voided payment's order is looked up again: read by whoever voids, and by the sweep. */
const voidLookupEnvironment = {
  SETTLEMENT_VOID_LOOKUP_SECONDS: numbers(positive),
  GATEWAY_CAPTURE_WINDOW_SECONDS: positive,
};

const settlementScheduleEnvironment = {
  ...voidLookupEnvironment,
  SETTLEMENT_CHECK_QUEUE_URL: url,
  SETTLEMENT_FIRST_CHECK_SECONDS: positive,
  SETTLEMENT_INTERVAL_SECONDS: positive,
  SETTLEMENT_CHECKS: positive,
};

/** The deadlines every function that moves orders applies, from the same settings. */
export function deadlinesOf(environment: {
  PAYMENT_DEADLINE_SECONDS: number;
  REFUND_DEADLINE_SECONDS: number;
  REVIEW_DEADLINE_SECONDS: number;
  PAYMENT_WINDOW_SECONDS: number;
}) {
  return {
    paymentSeconds: environment.PAYMENT_DEADLINE_SECONDS,
    refundSeconds: environment.REFUND_DEADLINE_SECONDS,
    reviewSeconds: environment.REVIEW_DEADLINE_SECONDS,
    paymentWindowSeconds: environment.PAYMENT_WINDOW_SECONDS,
  };
}

type VoidLookupSettings = SettingsOf<typeof voidLookupEnvironment>;

/** How the settlement of a PENDING payment is checked, the same in every function that settles. */
export function settlementScheduleOf(
  environment: VoidLookupSettings & {
    SETTLEMENT_FIRST_CHECK_SECONDS: number;
    SETTLEMENT_INTERVAL_SECONDS: number;
    SETTLEMENT_CHECKS: number;
  },
): SettlementSchedule {
  return {
    firstCheckSeconds: environment.SETTLEMENT_FIRST_CHECK_SECONDS,
    intervalSeconds: environment.SETTLEMENT_INTERVAL_SECONDS,
    checks: environment.SETTLEMENT_CHECKS,
    ...voidLookupsOf(environment),
  };
}

/** The lookups after a void alone, for the sweep, which brings voided orders back for them. */
export function voidLookupsOf(
  environment: VoidLookupSettings,
): Pick<SettlementSchedule, 'voidLookupSeconds' | 'captureWindowSeconds'> {
  return {
    voidLookupSeconds: environment.SETTLEMENT_VOID_LOOKUP_SECONDS,
    captureWindowSeconds: environment.GATEWAY_CAPTURE_WINDOW_SECONDS,
  };
}

/** How the sweep walks the payment DLQ. */
export function deadLetterWalkOf(environment: {
  SWEEP_DEAD_LETTER_BATCH_SIZE: number;
  SWEEP_DEAD_LETTER_MAX_BATCH_SIZE: number;
  SWEEP_DEAD_LETTER_CYCLE_RUNS: number;
}): DeadLetterWalk {
  return {
    batchSize: environment.SWEEP_DEAD_LETTER_BATCH_SIZE,
    maxBatchSize: environment.SWEEP_DEAD_LETTER_MAX_BATCH_SIZE,
    cycleRuns: environment.SWEEP_DEAD_LETTER_CYCLE_RUNS,
  };
}

/** When the sweep sends a refund it gave up again, after the gateway's key window. */
export function refundKeyWindowOf(environment: {
  GATEWAY_IDEMPOTENCY_KEY_WINDOW_SECONDS: number;
  SWEEP_REFUND_KEY_WINDOWS: number;
}): RefundKeyWindow {
  return {
    seconds: environment.GATEWAY_IDEMPOTENCY_KEY_WINDOW_SECONDS,
    looks: environment.SWEEP_REFUND_KEY_WINDOWS,
  };
}

/** How long a message waits before it is delivered again, in every function that retries. */
export function backoffOf(environment: {
  BACKOFF_BASE_SECONDS: number;
  BACKOFF_MAX_SECONDS: number;
}): BackoffPolicy {
  return {
    baseSeconds: environment.BACKOFF_BASE_SECONDS,
    maxSeconds: environment.BACKOFF_MAX_SECONDS,
  };
}

/** What intake accepts: read by order-intake and by the tools that describe it (OpenAPI, bench). */
export function intakePolicyOf(environment: IntakeEnvironment): IntakePolicy {
  return {
    supportedCurrencies: environment.SUPPORTED_CURRENCIES,
    maxOrderAmount: environment.MAX_ORDER_AMOUNT,
    confirmationWindowSeconds: environment.CONFIRMATION_WINDOW_SECONDS,
  };
}

/** The guards against runaway agents, as intake applies them. */
export function guardPolicyOf(environment: IntakeEnvironment): GuardPolicy {
  return {
    duplicateWindowSeconds: environment.DUPLICATE_WINDOW_SECONDS,
    intentSlotSeconds: defaultGuardPolicy.intentSlotSeconds,
    defaultRatePerSecond: environment.AGENT_RATE_PER_SECOND,
    defaultBurst: environment.AGENT_RATE_BURST,
  };
}

const intakeEnvironment = {
  ...deadlineEnvironment,
  TABLE_NAME: text({ min: 3 }),
  PAYMENT_SUBMISSION_QUEUE_URL: url,
  SUPPORTED_CURRENCIES: csv,
  MAX_ORDER_AMOUNT: positive,
  CONFIRMATION_WINDOW_SECONDS: positive,
  DUPLICATE_WINDOW_SECONDS: positive,
  AGENT_RATE_PER_SECOND: number({ integer: false, above: 0 }),
  AGENT_RATE_BURST: positive,
  CONTROL_CACHE_SECONDS: number({ integer: false, min: 0 }),
};
export type IntakeEnvironment = SettingsOf<typeof intakeEnvironment>;

export function readIntakeEnvironment(env: NodeJS.ProcessEnv = process.env): IntakeEnvironment {
  return readSettings(intakeEnvironment, env);
}

/** The deadlines alone, for a tool that moves orders outside the functions (the operator CLI). */
export function readDeadlines(env: NodeJS.ProcessEnv = process.env) {
  return deadlinesOf(readSettings(deadlineEnvironment, env));
}

const paymentEnvironment = {
  ...deadlineEnvironment,
  ...settlementScheduleEnvironment,
  TABLE_NAME: text({ min: 3 }),
  PAYMENT_SUBMISSION_QUEUE_URL: url,
  PAYMENT_SUBMISSION_MAX_RECEIVE_COUNT: positive,
  GATEWAY_NAME: text({ pattern: /^[a-z][a-z0-9-]{0,31}$/ }),
  GATEWAY_URL: url,
  GATEWAY_TIMEOUT_MS: positive,
  GATEWAY_API_KEY_SECRET_ID: text(),
  STRIPE_PAYERS: stripePayers,
  RISK_ENGINE_URL: url,
  RISK_REGION: text({ pattern: /^[a-z]+-[a-z]+(-[a-z0-9]+)*$/ }),
  RISK_SCENE_CODE: text(),
  RISK_CREDENTIALS_SECRET_ID: text(),
  RISK_TIMEOUT_MS: positive,
  RISK_MAX_ATTEMPTS: positive,
  RISK_RETRY_DELAY_MS: seconds,
  RISK_FAIL_OPEN_LIMIT: seconds,
  BACKOFF_BASE_SECONDS: positive,
  BACKOFF_MAX_SECONDS: positive,
  BREAKER_WINDOW_SECONDS: positive,
  BREAKER_FAILURE_RATE: number({ integer: false, above: 0, max: 1 }),
  BREAKER_MINIMUM_VOLUME: positive,
  BREAKER_OPEN_SECONDS: positive,
  SECRET_MAX_AGE_SECONDS: positive,
};
export type PaymentEnvironment = SettingsOf<typeof paymentEnvironment>;

export function readPaymentEnvironment(env: NodeJS.ProcessEnv = process.env): PaymentEnvironment {
  return readSettings(paymentEnvironment, env);
}

export function paymentPolicyOf(environment: PaymentEnvironment): PaymentPolicy {
  return {
    risk: {
      maxAttempts: environment.RISK_MAX_ATTEMPTS,
      retryDelayMs: environment.RISK_RETRY_DELAY_MS,
      reserveMs: environment.GATEWAY_TIMEOUT_MS * 2 + 1_000,
      failOpenLimit: environment.RISK_FAIL_OPEN_LIMIT,
    },
    backoff: backoffOf(environment),
    settlement: settlementScheduleOf(environment),
    deadlines: deadlinesOf(environment),
  };
}

export function breakerPolicyOf(environment: PaymentEnvironment): BreakerPolicy {
  return {
    windowMs: environment.BREAKER_WINDOW_SECONDS * 1000,
    failureRate: environment.BREAKER_FAILURE_RATE,
    minimumVolume: environment.BREAKER_MINIMUM_VOLUME,
    openMs: environment.BREAKER_OPEN_SECONDS * 1000,
    probeLeaseMs: environment.GATEWAY_TIMEOUT_MS * 5,
    cacheMs: 1_000,
  };
}

const callbackEnvironment = {
  ...deadlineEnvironment,
  ...settlementScheduleEnvironment,
  TABLE_NAME: text({ min: 3 }),
  GATEWAY_NAME: text({ pattern: /^[a-z][a-z0-9-]{0,31}$/ }),
  WEBHOOK_SECRET_ID: text(),
  WEBHOOK_TOLERANCE_SECONDS: positive,
  // 0 turns the grace off: only AWSCURRENT verifies.
  WEBHOOK_PREVIOUS_GRACE_SECONDS: seconds,
  WEBHOOK_PENDING_GRACE_SECONDS: seconds,
  SECRET_MAX_AGE_SECONDS: positive,
};

export type CallbackEnvironment = SettingsOf<typeof callbackEnvironment>;

export function readCallbackEnvironment(env: NodeJS.ProcessEnv = process.env): CallbackEnvironment {
  return readSettings(callbackEnvironment, env);
}

const reconcilerEnvironment = {
  ...deadlineEnvironment,
  ...settlementScheduleEnvironment,
  TABLE_NAME: text({ min: 3 }),
  PAYMENT_SUBMISSION_QUEUE_URL: url,
  SETTLEMENT_CHECK_MAX_RECEIVE_COUNT: positive,
  GATEWAY_NAME: text({ pattern: /^[a-z][a-z0-9-]{0,31}$/ }),
  GATEWAY_URL: url,
  GATEWAY_TIMEOUT_MS: positive,
  GATEWAY_API_KEY_SECRET_ID: text(),
  STRIPE_PAYERS: stripePayers,
  SECRET_MAX_AGE_SECONDS: positive,
  BACKOFF_BASE_SECONDS: positive,
  BACKOFF_MAX_SECONDS: positive,
};

export function readReconcilerEnvironment(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(reconcilerEnvironment, env);
}

const lifecycleEnvironment = {
  ...deadlineEnvironment,
  TABLE_NAME: text({ min: 3 }),
  PAYMENT_SUBMISSION_QUEUE_URL: url,
  SETTLEMENT_CHECK_QUEUE_URL: url,
};

export function readLifecycleEnvironment(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(lifecycleEnvironment, env);
}

const agentsEnvironment = {
  TABLE_NAME: text({ min: 3 }),
  SUPPORTED_CURRENCIES: csv,
  MAX_ORDER_AMOUNT: positive,
  // Empty: no user pool (the local stack, or another OIDC provider); agents get no credentials.
  USER_POOL_ID: optionalText(''),
};

export function readAgentsEnvironment(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(agentsEnvironment, env);
}

const sweepEnvironment = {
  ...deadlineEnvironment,
  ...voidLookupEnvironment,
  TABLE_NAME: text({ min: 3 }),
  PAYMENT_SUBMISSION_QUEUE_URL: url,
  SETTLEMENT_CHECK_QUEUE_URL: url,
  SETTLEMENT_CHECKS: positive,
  SWEEP_BATCH_SIZE: positive,
  SWEEP_REDRIVE_LIMIT: positive,
  GATEWAY_IDEMPOTENCY_KEY_WINDOW_SECONDS: positive,
  // 0: a refund whose redrive budget is spent is left to a person at once.
  SWEEP_REFUND_KEY_WINDOWS: number({ min: 0 }),
  // The sweep's schedule, which its dead-letter walk and its pause of payments count in.
  SWEEP_EVERY_SECONDS: positive,
  PAYMENT_SUBMISSION_DLQ_URL: url,
  SWEEP_DEAD_LETTER_BATCH_SIZE: positive,
  SWEEP_DEAD_LETTER_MAX_BATCH_SIZE: positive,
  SWEEP_DEAD_LETTER_CYCLE_RUNS: positive,
};

export function readSweepEnvironment(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(sweepEnvironment, env);
}

const rotationEnvironment = {
  GATEWAY_URL: url,
  GATEWAY_TIMEOUT_MS: positive,
  GATEWAY_API_KEY_SECRET_ID: text(),
  WEBHOOK_SECRET_ID: text(),
};

export type RotationEnvironment = SettingsOf<typeof rotationEnvironment>;

export function readRotationEnvironment(env: NodeJS.ProcessEnv = process.env): RotationEnvironment {
  return readSettings(rotationEnvironment, env);
}

const webhookEndpointsEnvironment = {
  TABLE_NAME: text({ min: 3 }),
  WEBHOOK_ENDPOINT_KEY_SECRET_ID: text(),
  WEBHOOK_URL_POLICY: oneOf(['https', 'https-or-loopback']),
  WEBHOOK_ENDPOINTS_PER_USER: positive,
  SECRET_MAX_AGE_SECONDS: positive,
};

export function readWebhookEndpointsEnvironment(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(webhookEndpointsEnvironment, env);
}

const fanOutEnvironment = {
  TABLE_NAME: text({ min: 3 }),
  NOTIFICATION_QUEUE_URL: url,
};

export function readFanOutEnvironment(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(fanOutEnvironment, env);
}

const deliveryEnvironment = {
  TABLE_NAME: text({ min: 3 }),
  NOTIFICATION_QUEUE_URL: url,
  WEBHOOK_ENDPOINT_KEY_SECRET_ID: text(),
  WEBHOOK_DELIVERY_TIMEOUT_MS: positive,
  NOTIFICATION_BACKOFF_BASE_SECONDS: positive,
  NOTIFICATION_BACKOFF_MAX_SECONDS: positive,
  SECRET_MAX_AGE_SECONDS: positive,
};

export function readDeliveryEnvironment(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(deliveryEnvironment, env);
}
