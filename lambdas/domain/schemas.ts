import { type ErrorCode, ValidationError } from './errors.ts';
import { paymentMethods } from './order.ts';
import './zod-messages.ts';
import * as z from 'zod/mini';

/** The largest body any route accepts; API Gateway itself allows far more. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Settings of intake that an operator may change; every one has a default (see wiring). */
export interface IntakePolicy {
  readonly supportedCurrencies: readonly string[];
  /** The largest order, in minor units. */
  readonly maxOrderAmount: number;
  readonly confirmationWindowSeconds: number;
}

/**
 * What no string we accept may hold: control characters (C0, DEL, C1); UTF-16 surrogates that
 * are not part of a pair, which JSON can carry as `\ud800` but DynamoDB refuses to store (a 5xx
 * instead of a 400); and the invisible bidirectional marks, embeddings, overrides and isolates
 * that make a string display otherwise than it reads. In `u` mode a paired surrogate is one code
 * point, so `\p{Cs}` matches only an unpaired one.
 */
const forbiddenInText = /[\p{Cc}\p{Cs}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

export const textRule =
  'no control characters, unpaired surrogates or bidirectional controls (U+061C, U+200E, ' +
  'U+200F, U+202A-U+202E, U+2066-U+2069)';

/** Every string a request may carry is built here, so the rule above holds for all of them. */
export function text({ min = 1, max }: { readonly min?: number; readonly max: number }) {
  const bounds = min > 0 ? [z.minLength(min), z.maxLength(max)] : [z.maxLength(max)];
  return z.string().check(
    ...bounds,
    z.refine((value) => !forbiddenInText.test(value), { message: `must have ${textRule}` }),
  );
}

/** Idempotency-Key: 1 to 255 visible ASCII characters, as for Stripe's keys. */
export const idempotencyKeySchema = text({ max: 255 }).check(
  z.regex(/^[\x21-\x7e]+$/),
  z.describe('1 to 255 visible ASCII characters, unique per order attempt of one agent'),
);

export const orderItemSchema = z.strictObject({
  sku: text({ max: 64 }).check(z.describe('The merchant stock-keeping unit')),
  size: z.optional(text({ max: 32 })),
  quantity: z.number().check(z.int(), z.gte(1), z.lte(100)),
});

export function createOrderSchema(policy: IntakePolicy) {
  const [first, ...rest] = policy.supportedCurrencies;
  if (first === undefined) {
    throw new Error('At least one currency must be supported.');
  }
  return z.strictObject({
    action: text({ max: 64 }).check(
      z.regex(/^[a-z][a-z0-9_]*$/),
      z.describe('What the agent does for its user, e.g. order_coffee'),
    ),
    sessionId: text({ max: 128 }),
    items: z.array(orderItemSchema).check(z.minLength(1), z.maxLength(50)),
    amount: z
      .number()
      .check(
        z.int(),
        z.positive(),
        z.lte(policy.maxOrderAmount),
        z.describe('Integer amount in minor units of the currency (450 = 4.50 CNY)'),
      ),
    currency: z.enum([first, ...rest]).check(z.describe('ISO 4217 code from the supported set')),
    paymentMethod: z.enum(paymentMethods),
  });
}
export type CreateOrderRequest = z.infer<ReturnType<typeof createOrderSchema>>;

/** A field's own code when it has one, so agents can branch on the commonest mistakes. */
const fieldCodes: Readonly<Record<string, ErrorCode>> = {
  amount: 'INVALID_AMOUNT',
  currency: 'UNSUPPORTED_CURRENCY',
  paymentMethod: 'INVALID_PAYMENT_METHOD',
  url: 'INVALID_WEBHOOK_URL',
  events: 'INVALID_WEBHOOK_EVENTS',
  limitCurrency: 'UNSUPPORTED_CURRENCY',
  perOrderLimit: 'INVALID_AMOUNT',
  dailyLimit: 'INVALID_AMOUNT',
};

/**
 * Parses `input` or throws a ValidationError naming the first offending field. A field that is
 * present but wrong gets its own code; a missing or unknown field is VALIDATION_FAILED.
 */
export function parseWith<T>(schema: z.core.$ZodType<T>, input: unknown): T {
  const result = z.safeParse(schema, input);
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
