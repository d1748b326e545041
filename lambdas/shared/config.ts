import { z } from 'zod';

const csv = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()))
  .pipe(z.array(z.string().regex(/^[A-Z]{3}$/)).min(1));

const intakeEnvironment = z.object({
  TABLE_NAME: z.string().min(3),
  PAYMENT_SUBMISSION_QUEUE_URL: z.url(),
  SUPPORTED_CURRENCIES: csv,
  MAX_ORDER_AMOUNT: z.coerce.number().int().positive(),
  CONFIRMATION_WINDOW_SECONDS: z.coerce.number().int().positive(),
});
export type IntakeEnvironment = z.infer<typeof intakeEnvironment>;

export function readIntakeEnvironment(env: NodeJS.ProcessEnv = process.env): IntakeEnvironment {
  return parseEnvironment(intakeEnvironment, env);
}

/** A missing or wrong setting stops the cold start loudly, naming every problem. */
function parseEnvironment<T>(schema: z.ZodType<T>, env: NodeJS.ProcessEnv): T {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.')}: ${issue.message}`,
    );
    throw new Error(`Invalid environment: ${problems.join('; ')}`);
  }
  return result.data;
}

const seconds = z.coerce.number().int().nonnegative();
const positive = z.coerce.number().int().positive();

const paymentEnvironment = z.object({
  TABLE_NAME: z.string().min(3),
  PAYMENT_SUBMISSION_QUEUE_URL: z.url(),
  PAYMENT_SUBMISSION_MAX_RECEIVE_COUNT: positive,
  SETTLEMENT_CHECK_QUEUE_URL: z.url(),
  GATEWAY_NAME: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
  GATEWAY_URL: z.url(),
  GATEWAY_TIMEOUT_MS: positive,
  GATEWAY_API_KEY_SECRET_ID: z.string().min(1),
  RISK_ENGINE_URL: z.url(),
  RISK_TIMEOUT_MS: positive,
  RISK_MAX_ATTEMPTS: positive,
  RISK_RETRY_DELAY_MS: seconds,
  RISK_FAIL_OPEN_LIMIT: seconds,
  BACKOFF_BASE_SECONDS: positive,
  BACKOFF_MAX_SECONDS: positive,
  BREAKER_WINDOW_SECONDS: positive,
  BREAKER_FAILURE_RATE: z.coerce.number().gt(0).lte(1),
  BREAKER_MINIMUM_VOLUME: positive,
  BREAKER_OPEN_SECONDS: positive,
  SETTLEMENT_FIRST_CHECK_SECONDS: positive,
  SETTLEMENT_INTERVAL_SECONDS: positive,
  SETTLEMENT_CHECKS: positive,
  SECRET_MAX_AGE_SECONDS: positive,
});
export type PaymentEnvironment = z.infer<typeof paymentEnvironment>;

export function readPaymentEnvironment(env: NodeJS.ProcessEnv = process.env): PaymentEnvironment {
  return parseEnvironment(paymentEnvironment, env);
}
