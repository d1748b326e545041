/**
 * The tools' input schemas, taken from docs/openapi.json (the API's own, generated from the
 * handlers' schemas), so a tool cannot accept what the API refuses nor drift when the document
 * is regenerated. Descriptions written for a model are laid over the API's.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import type { Order } from '../client/autopay-client.ts';
import type { CreateOrderRequest } from '../client/intent.ts';

const openApiFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'openapi.json');

interface OpenApiDocument {
  readonly components: { readonly schemas: Readonly<Record<string, unknown>> };
}

const document = JSON.parse(readFileSync(openApiFile, 'utf8')) as OpenApiDocument;

/** A component schema with its `#/components/schemas/...` references inlined. */
function inlined(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(inlined);
  if (node === null || typeof node !== 'object') return node;
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const name = ref.replace('#/components/schemas/', '');
    return inlined(document.components.schemas[name]);
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, inlined(value)]));
}

/** A zod schema for each field, typed as client/api-types.ts types the same component. */
type Shape<T> = { [Key in keyof T]-?: z.ZodType<T[Key]> };

function componentSchema<T>(name: string): z.ZodObject<Shape<T>> {
  const json = inlined(document.components.schemas[name]) as z.core.JSONSchema.JSONSchema;
  const schema = z.fromJSONSchema(json);
  if (!(schema instanceof z.ZodObject)) throw new Error(`${name} is not an object schema`);
  return schema as unknown as z.ZodObject<Shape<T>>;
}

const createOrder = componentSchema<CreateOrderRequest>('CreateOrderRequest');
const orderStatus = componentSchema<Order>('Order').shape.status.describe(
  'Only orders in this status',
);

const orderId = z
  .string()
  .min(1)
  .max(64)
  .describe('The orderId that place_order or list_orders gave (ord_ and 32 hex digits)');

/**
 * place_order takes the API's order without `sessionId`: the session is the server's, so that a
 * model cannot make a retry look like a new purchase by naming a new session.
 */
export const placeOrderInput = createOrder.omit({ sessionId: true }).extend({
  items: createOrder.shape.items.describe(
    'What to buy, one line per product (sku, optional size, quantity). The order of the lines does not matter.',
  ),
  amount: createOrder.shape.amount.describe(
    'The total to pay, as an integer in minor units of the currency: 450 means 4.50 CNY.',
  ),
  repeatOf: orderId
    .optional()
    .describe(
      'Only when the user explicitly asks to buy the same thing AGAIN in this session: the orderId of the earlier identical order. Never set it to retry a call whose answer you did not get: a plain retry is always safe and never charges twice.',
    ),
});

export const getOrderInput = z.object({ orderId });

export const cancelOrderInput = z.object({ orderId });

export const listOrdersInput = z.object({
  status: orderStatus.optional(),
  limit: z.number().int().min(1).max(100).optional().describe('Orders per page (default 20)'),
  cursor: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .describe('The cursor of the previous page, as list_orders gave it, to read the next one'),
});
