import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAgentToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { callTool, connectMcp, orderOf } from '../support/mcp.ts';

let stack: LocalRuntime;
let mcp: Client;

beforeAll(async () => {
  stack = await startLocalRuntime({ pollers: false, logLevel: 'ERROR' });
  mcp = await connectMcp({
    AUTOPAY_API_URL: stack.apiUrl,
    AUTOPAY_TOKEN: await signAgentToken('cautious-agent'),
  });
});

afterAll(async () => {
  await mcp?.close();
  await stack?.stop();
});

describe('list_orders over the MCP server', () => {
  // Known gap: the API has no GET /v1/orders yet (the local API answers 404 Not Found, which
  // the tool reports as ROUTE_NOT_FOUND). The tool and the client follow the route's documented
  // shape (?status=&limit=&cursor=, answering { orders, nextCursor }), so this passes once the
  // route is served.
  it.fails("lists the agent's own orders, filtered by status, a page at a time", async () => {
    const { sessionId: _, ...order } = latteOrder;
    const first = orderOf(await callTool(mcp, 'place_order', order));
    const second = orderOf(await callTool(mcp, 'place_order', { ...order, amount: 500 }));

    const page = await callTool(mcp, 'list_orders', { status: 'AWAITING_CONFIRMATION', limit: 1 });
    const listed = page.structuredContent as { orders: { orderId: string }[]; nextCursor?: string };
    const next = await callTool(mcp, 'list_orders', {
      status: 'AWAITING_CONFIRMATION',
      limit: 1,
      cursor: listed.nextCursor,
    });

    expect(page.isError, page.text).toBeFalsy();
    expect(page.text).toContain(second.orderId);
    expect(next.text).toContain(first.orderId);
  });
});
