import { describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { gatewayEventSchema } from '#domain/callbacks.ts';
import { ValidationError } from '#domain/errors.ts';
import { refundRequestSchema } from '#domain/lifecycle.ts';
import { createOrderSchema, idempotencyKeySchema, parseWith, text } from '#domain/schemas.ts';
import { intakePolicy, latteOrder } from '../fixtures/orders.ts';

const forbidden: ReadonlyArray<readonly [string, string]> = [
  ['NUL', '\u0000'],
  ['a bell', '\u0007'],
  ['a line feed', '\n'],
  ['DEL', '\u007f'],
  ['a C1 control (NEL)', '\u0085'],
  ['a lone high surrogate', '\ud800'],
  ['a lone low surrogate', '\udc00'],
  ['a pair in the wrong order', '\ude00\ud83d'],
  ['the left-to-right mark', '\u200e'],
  ['the right-to-left mark', '\u200f'],
  ['the Arabic letter mark', '\u061c'],
  ['a left-to-right embedding', '\u202a'],
  ['a right-to-left embedding', '\u202b'],
  ['a pop of a directional formatting', '\u202c'],
  ['a left-to-right override', '\u202d'],
  ['a right-to-left override', '\u202e'],
  ['a left-to-right isolate', '\u2066'],
  ['a right-to-left isolate', '\u2067'],
  ['a first-strong isolate', '\u2068'],
  ['a pop of a directional isolate', '\u2069'],
];

/** One request of each kind that carries text, every optional string filled in. */
const requests: ReadonlyArray<readonly [string, z.core.$ZodType, unknown]> = [
  ['an order', createOrderSchema(intakePolicy), latteOrder],
  ['a refund', refundRequestSchema, { reason: 'The coffee shop was closed' }],
  [
    'a gateway event',
    gatewayEventSchema,
    {
      id: 'evt_1',
      type: 'payment.failed',
      created: 1_717_243_200,
      data: {
        paymentId: 'pay_1',
        idempotencyKey: `ord_${'a'.repeat(32)}`,
        amount: 450,
        currency: 'CNY',
        declineCode: 'card_declined',
        refundId: 're_1',
      },
    },
  ],
];

/** Every string in `value`, with its dotted path. */
function stringLeaves(value: unknown, path: string[] = []): Array<[string[], string]> {
  if (typeof value === 'string') return [[path, value]];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => stringLeaves(child, [...path, key]));
}

function withLeaf(value: unknown, path: readonly string[], leaf: string): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return leaf;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
    string,
    unknown
  >;
  copy[head] = withLeaf(copy[head], rest, leaf);
  return copy;
}

function refusal(schema: z.core.$ZodType, input: unknown): ValidationError | undefined {
  try {
    parseWith(schema, input);
    return undefined;
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
}

describe('text fields', () => {
  it.each(forbidden)('refuses %s in a string', (_, character) => {
    expect(text({ max: 50 }).safeParse(`ab${character}cd`).success).toBe(false);
    expect(text({ max: 50 }).safeParse(character).success).toBe(false);
  });

  it.each([
    ['plain ASCII', 'oat latte, no sugar'],
    ['accents', 'café crème'],
    ['CJK', '拿铁 大杯'],
    ['right-to-left script without controls', 'قهوة'],
    ['an emoji (a surrogate pair)', 'latte ☕ 😀'],
    ['a zero-width joiner inside an emoji sequence', '👩\u200d💻'],
  ])('accepts %s', (_, value) => {
    expect(text({ max: 50 }).safeParse(value).success).toBe(true);
  });

  it.each(forbidden)('refuses %s in an Idempotency-Key', (_, character) => {
    expect(idempotencyKeySchema.safeParse(`key${character}1`).success).toBe(false);
  });

  describe.each(requests)('in %s', (_, schema, valid) => {
    const leaves = stringLeaves(valid);

    it('is accepted as it is', () => {
      expect(refusal(schema, valid)).toBeUndefined();
      expect(leaves.length).toBeGreaterThan(0);
    });

    it.each(forbidden)('refuses %s in any string field, naming the field', (_, character) => {
      for (const [path, value] of leaves) {
        // Prepare
        const field = path.join('.');
        const freeText = refusal(schema, withLeaf(valid, path, `${value}x`)) === undefined;

        // Act
        const error = refusal(schema, withLeaf(valid, path, `${value}${character}`));

        // Assess
        expect(error?.status, field).toBe(400);
        expect(error?.details?.field, field).toBe(field);
        if (freeText) {
          expect(error?.code, field).toBe('VALIDATION_FAILED');
        }
      }
    });
  });
});
