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
  it("lists the agent's own orders, filtered by status, a page at a time", async () => {
    // Prepare
    const { sessionId: _, ...order } = latteOrder;
    const first = orderOf(await callTool(mcp, 'place_order', order));
    const second = orderOf(await callTool(mcp, 'place_order', { ...order, amount: 500 }));

    // Act
    const page = await callTool(mcp, 'list_orders', { status: 'AWAITING_CONFIRMATION', limit: 1 });
    const listed = page.structuredContent as { orders: { orderId: string }[]; cursor?: string };
    const next = await callTool(mcp, 'list_orders', {
      status: 'AWAITING_CONFIRMATION',
      limit: 1,
      cursor: listed.cursor,
    });

    // Assess
    expect(page.isError, page.text).toBeFalsy();
    expect(listed.orders.map((each) => each.orderId)).toEqual([second.orderId]);
    expect(page.text).toContain(`More: call again with cursor ${listed.cursor}.`);
    expect(page.text).toMatch(new RegExp(`${second.orderId} AWAITING_CONFIRMATION \\(\\w+\\) 500`));
    expect(next.isError, next.text).toBeFalsy();
    expect(next.text).toContain(first.orderId);
    expect(next.text).not.toContain(second.orderId);
  });

  it('answers a cursor it did not issue as a tool error that says to start over', async () => {
    const answer = await callTool(mcp, 'list_orders', { cursor: 'not-a-cursor' });

    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/^INVALID_CURSOR: .*without cursor/);
  });
});
