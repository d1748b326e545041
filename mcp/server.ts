/**
 * autopay's MCP server: the tools an LLM agent pays with. Each tool is one API call through the
 * typed client; adding one is an entry in `tools` below. The Idempotency-Key of an order is
 * never the model's: it is derived from the server's session and the order's canonical content
 * (client/intent.ts), so a model that retries the same purchase, however it words the call,
 * gets the first order back instead of a second charge.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type * as z from 'zod';
import type { RouteSpec } from '#shared/wiring.ts';
import type { AutopayClient } from '../client/autopay-client.ts';
import { errorResult, type Operation, orderResult } from './outcomes.ts';
import { cancelOrderInput, getOrderInput, listOrdersInput, placeOrderInput } from './schemas.ts';

export interface ServerContext {
  readonly client: AutopayClient;
  /** The session every order of this server belongs to (the API's `sessionId`). */
  readonly sessionId: string;
}

interface Tool<Input extends z.ZodObject> {
  readonly title: string;
  readonly description: string;
  readonly input: Input;
  readonly operation: Operation;
  /** The one API route the tool calls: an agent's route (test/unit/mcp-tools.test.ts). */
  readonly route: Pick<RouteSpec, 'method' | 'path'>;
  readonly annotations: ToolAnnotations;
  readonly run: (args: z.infer<Input>, context: ServerContext) => Promise<CallToolResult>;
}

const tool = <Input extends z.ZodObject>(definition: Tool<Input>) => definition;

const statusGuide =
  'Statuses: PAID = charged, done. PENDING_PAYMENT = accepted, being paid. AWAITING_SETTLEMENT = submitted, the gateway settles it later. AWAITING_CONFIRMATION = not charged, the user must confirm in their app before confirmBy. HELD_FOR_REVIEW = held, a person decides; autopay sends no payment while it is held, but one sent just before the hold may still be found within minutes (it then reads PAID): the answer says until when. Only the user confirms or refunds an order, in their app; this agent may cancel its own order while it waits (cancel_order). FAILED / CANCELLED / EXPIRED = not paid; money a payment sent just before a hold or a risk refusal took is found within minutes and given back (the answer says when). REFUND_PENDING / REFUNDED = money being given back / given back; a REFUND_PENDING order with lastError REFUND_AFTER_KEY_WINDOW is delayed by the gateway and sent again by itself in about a day.';

export const tools = {
  place_order: tool({
    title: 'Place an order and pay for it',
    description: `Places an order for the user and pays for it when the user lets this agent pay on its own; otherwise the order waits for the user to confirm it in their app. Calling again with the same order (same action, items, amount, currency and payment method, in any order or wording) NEVER places or charges a second time: it returns the first order. So if a call failed or its answer was lost, calling again is safe. To buy the very same thing a second time on purpose, only when the user asks, pass repeatOf. The answer says plainly whether money was taken, whether the user must act and by when, or why it failed: do not retry an order whose answer you have. ${statusGuide}`,
    input: placeOrderInput,
    operation: 'place',
    route: { method: 'POST', path: '/v1/orders' },
    annotations: { destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async run({ repeatOf, ...order }, { client, sessionId }) {
      if (repeatOf !== undefined) await client.getOrder(repeatOf);
      const placed = await client.placeOrder({ ...order, sessionId }, { repeatOf });
      const lead = placed.replayed
        ? 'This is the order an earlier call already placed for the same request; nothing new was placed or charged. '
        : '';
      return orderResult(placed.order, lead);
    },
  }),
  get_order: tool({
    title: 'Read an order',
    description: `Reads one of this agent's orders: its status, amount, items, history and last error. Use it to follow an order after place_order. ${statusGuide}`,
    input: getOrderInput,
    operation: 'read',
    route: { method: 'GET', path: '/v1/orders/{id}' },
    annotations: { readOnlyHint: true, openWorldHint: true },
    async run({ orderId }, { client }) {
      return orderResult(await client.getOrder(orderId));
    },
  }),
  list_orders: tool({
    title: "List this agent's orders",
    description: `Lists this agent's own orders, newest first, optionally only those in one status, a page at a time: when the answer has a cursor, pass it back as cursor for the next page (with a status filter a page may hold fewer orders than limit, even none, while more follow). Use it to find an order whose id you lost before placing anything again. ${statusGuide}`,
    input: listOrdersInput,
    operation: 'list',
    route: { method: 'GET', path: '/v1/orders' },
    annotations: { readOnlyHint: true, openWorldHint: true },
    async run(query, { client }) {
      const page = await client.listOrders(query);
      const lines = page.orders.map((order) => {
        const why = order.reason ?? order.holdReason;
        return `${order.orderId} ${order.status}${why ? ` (${why})` : ''} ${order.amount} ${order.currency}`;
      });
      const more = page.cursor ? `More: call again with cursor ${page.cursor}.` : 'No more pages.';
      return {
        content: [
          { type: 'text', text: `${page.orders.length} order(s). ${more}\n${lines.join('\n')}` },
          { type: 'text', text: JSON.stringify(page) },
        ],
        structuredContent: { ...page },
      };
    },
  }),
  cancel_order: tool({
    title: 'Cancel an order of this agent that waits for the user',
    description:
      'Cancels an order this agent placed that is not charged and waits for the user (AWAITING_CONFIRMATION) or is held for review (HELD_FOR_REVIEW), for instance when it was placed by mistake or the user changed their mind: it will never be charged. Once payment has started (PENDING_PAYMENT, AWAITING_SETTLEMENT, PAID) it cannot be cancelled: a paid order needs a refund, which only the user can ask for in their app, so tell the user instead of retrying. Cancelling twice is harmless.',
    input: cancelOrderInput,
    operation: 'cancel',
    route: { method: 'POST', path: '/v1/orders/{id}/cancel' },
    annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: true },
    async run({ orderId }, { client }) {
      const moved = await client.cancelOrder(orderId);
      return orderResult(moved.order, moved.replayed ? 'It was already cancelled. ' : '');
    },
  }),
};

export function createAutopayMcpServer(context: ServerContext): McpServer {
  const server = new McpServer({ name: 'autopay', version: '0.1.0' });
  for (const [name, definition] of Object.entries(tools)) {
    const { title, description, input, annotations, operation } = definition;
    const run = definition.run as (
      args: unknown,
      context: ServerContext,
    ) => Promise<CallToolResult>;
    server.registerTool(
      name,
      { title, description, inputSchema: input, annotations },
      async (args: unknown) => {
        try {
          return await run(args, context);
        } catch (error) {
          return errorResult(error, operation);
        }
      },
    );
  }
  return server;
}
