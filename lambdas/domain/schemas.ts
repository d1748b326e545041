import * as z from 'zod';
import { type ErrorCode, ValidationError } from './errors.ts';
import { paymentMethods } from './order.ts';

/** The largest body any route accepts; API Gateway itself allows far more. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Settings of intake that an operator may change; every one has a default (see wiring). */
export interface IntakePolicy {
  readonly supportedCurrencies: readonly string[];
  /** The largest order, in minor units. */
  readonly maxOrderAmount: number;
  readonly confirmationWindowSeconds: number;
}

/** Idempotency-Key: 1 to 255 visible ASCII characters, as for Stripe's keys. */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/)
  .describe('1 to 255 visible ASCII characters, unique per order attempt of one agent');

export const orderItemSchema = z.strictObject({
  sku: z.string().min(1).max(64).describe('The merchant stock-keeping unit'),
  size: z.string().min(1).max(32).optional(),
  quantity: z.number().int().min(1).max(100),
});

export function createOrderSchema(policy: IntakePolicy) {
  const [first, ...rest] = policy.supportedCurrencies;
  if (first === undefined) {
    throw new Error('At least one currency must be supported.');
  }
  return z.strictObject({
    action: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/)
      .describe('What the agent does for its user, e.g. order_coffee'),
    sessionId: z.string().min(1).max(128),
    items: z.array(orderItemSchema).min(1).max(50),
    amount: z
      .number()
      .int()
      .positive()
      .max(policy.maxOrderAmount)
      .describe('Integer amount in minor units of the currency (450 = 4.50 CNY)'),
    currency: z.enum([first, ...rest]).describe('ISO 4217 code from the supported set'),
    paymentMethod: z.enum(paymentMethods),
  });
}
export type CreateOrderRequest = z.infer<ReturnType<typeof createOrderSchema>>;

/** A field's own code when it has one, so agents can branch on the commonest mistakes. */
const fieldCodes: Readonly<Record<string, ErrorCode>> = {
  amount: 'INVALID_AMOUNT',
  currency: 'UNSUPPORTED_CURRENCY',
  paymentMethod: 'INVALID_PAYMENT_METHOD',
};

/**
 * Parses `input` or throws a ValidationError naming the first offending field. A field that is
 * present but wrong gets its own code; a missing or unknown field is VALIDATION_FAILED.
 */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) {
    return result.data;
  }
  const issues = result.error.issues.map((issue) => ({
    field: issue.path.map(String).join('.') || fieldOfUnknownKey(issue),
    problem: issue.message,
  }));
  const firstIssue = result.error.issues[0];
  const first = issues[0];
  if (firstIssue === undefined || first === undefined) {
    throw new ValidationError('VALIDATION_FAILED');
  }
  const top = String(firstIssue.path[0] ?? '');
  const present =
    typeof input === 'object' &&
    input !== null &&
    (input as Record<string, unknown>)[top] !== undefined;
  const code = (present && fieldCodes[top]) || 'VALIDATION_FAILED';
  const field = first.field || '(body)';
  throw new ValidationError(code, `${field}: ${first.problem}`, { field, issues });
}

function fieldOfUnknownKey(issue: z.core.$ZodIssue): string {
  return issue.code === 'unrecognized_keys' ? issue.keys.join(',') : '';
}
