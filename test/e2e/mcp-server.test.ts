import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutopayClient } from '../../client/autopay-client.ts';
import { signAgentToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { clientFor, readSettings, serveHttp } from '../../mcp/main.ts';
import { SendOutage } from '../support/calls.ts';
import { apiFetchRequest } from '../support/contract.ts';
import { callTool, connectMcp, orderOf } from '../support/mcp.ts';

let stack: LocalRuntime;
let demo: Client;
let cautious: Client;
let demoApi: AutopayClient;
const opened: Client[] = [];
let outage: SendOutage;
let httpServer: Server | undefined;

async function server(agentId: string, env: Record<string, string> = {}): Promise<Client> {
  const client = await connectMcp({
    AUTOPAY_API_URL: stack.apiUrl,
    AUTOPAY_TOKEN: await signAgentToken(agentId),
    ...env,
  });
  opened.push(client);
  return client;
}

const basket = {
  action: 'order_coffee',
  items: [
    { sku: 'latte', size: 'medium', quantity: 1 },
    { sku: 'croissant', quantity: 2 },
  ],
  amount: 1150,
  currency: 'CNY',
  paymentMethod: 'wallet',
};

/** The same basket as a model might put it on a retry: keys, lines and spacing shuffled. */
const reworded = {
  paymentMethod: 'wallet',
  currency: 'CNY',
  amount: 1150,
  items: [
    { quantity: 1, sku: 'croissant' },
    { sku: ' latte', quantity: 1, size: 'medium ' },
    { sku: 'croissant ', quantity: 1 },
  ],
  action: 'order_coffee',
};

const chargesOf = (orderId: string) => stack.gateway.ledger().charges[orderId];

beforeAll(async () => {
  // CRITICAL: the injected outage below would log an ERROR for each of its attempts.
  stack = await startLocalRuntime({ logLevel: 'CRITICAL', seed: 16 });
  demoApi = new AutopayClient({
    baseUrl: stack.apiUrl,
    token: await signAgentToken('demo-agent'),
    fetch: apiFetchRequest,
  });
  // The stack's own SQS client, loaded in this process: an outage of the payment queue.
  const clients = await import('#adapters/aws-clients.ts');
  outage = new SendOutage(clients.sqs);
  [demo, cautious] = await Promise.all([server('demo-agent'), server('cautious-agent')]);
});

afterAll(async () => {
  await Promise.all(opened.map((client) => client.close()));
  httpServer?.closeAllConnections();
  await new Promise((resolve) => httpServer?.close(resolve) ?? resolve(undefined));
  await stack?.stop();
});

describe('the MCP server over stdio, driven by the SDK client, on the local stack', () => {
  it("offers the agent's four tools, none of which lets the model choose a key or a session", async () => {
    const { tools } = await demo.listTools();
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));

    expect(Object.keys(byName).sort()).toEqual([
      'cancel_order',
      'get_order',
      'list_orders',
      'place_order',
    ]);
    const place = byName.place_order?.inputSchema;
    expect(Object.keys(place?.properties ?? {}).sort()).toEqual([
      'action',
      'amount',
      'currency',
      'items',
      'paymentMethod',
      'repeatOf',
    ]);
    expect(place?.required).toEqual(
      expect.arrayContaining(['action', 'items', 'amount', 'currency', 'paymentMethod']),
    );
    expect(byName.place_order?.description).toMatch(/NEVER places or charges a second time/);
  });

  it('places an order, and a reworded retry of the same intent replays it: one order, one charge', async () => {
    // Act
    const first = await callTool(demo, 'place_order', basket);
    const again = await callTool(demo, 'place_order', reworded);

    // Assess
    expect(first.isError).toBeFalsy();
    const order = orderOf(first);
    expect(['PENDING_PAYMENT', 'PAID']).toContain(order.status);
    expect(orderOf(again).orderId).toBe(order.orderId);
    expect(again.text).toMatch(/already placed .* nothing new was placed or charged/);
    const paid = await waitForStatus(order.orderId, 'PAID');
    expect(paid.items).toEqual([
      { sku: 'croissant', quantity: 2 },
      { sku: 'latte', size: 'medium', quantity: 1 },
    ]);
    expect(chargesOf(order.orderId)).toMatchObject({ payments: 1, captured: 1150, refunded: 0 });
    const read = await callTool(demo, 'get_order', { orderId: order.orderId });
    expect(read.text).toContain('CHARGED: 11.50 CNY was paid.');
  });

  it('places a new order for a new intent: another amount, or the same basket in another session', async () => {
    const placed = orderOf(await callTool(demo, 'place_order', { ...basket, amount: 1200 }));
    const elsewhere = await server('demo-agent');
    const otherSession = orderOf(await callTool(elsewhere, 'place_order', basket));
    const first = orderOf(await callTool(demo, 'place_order', basket));

    expect(new Set([placed.orderId, otherSession.orderId, first.orderId]).size).toBe(3);
  });

  it('keeps replaying across a restart of the server when the host names the session', async () => {
    const before = await server('demo-agent', { AUTOPAY_SESSION_ID: 'conversation-42' });
    const placed = orderOf(await callTool(before, 'place_order', { ...basket, amount: 300 }));
    await before.close();
    const after = await server('demo-agent', { AUTOPAY_SESSION_ID: 'conversation-42' });

    const replayed = orderOf(await callTool(after, 'place_order', { ...basket, amount: 300 }));

    expect(replayed.orderId).toBe(placed.orderId);
  });

  it('buys the same basket again only when the model names the order it repeats', async () => {
    const first = orderOf(await callTool(demo, 'place_order', { ...basket, amount: 400 }));
    const second = orderOf(
      await callTool(demo, 'place_order', { ...basket, amount: 400, repeatOf: first.orderId }),
    );
    const secondAgain = orderOf(
      await callTool(demo, 'place_order', { ...basket, amount: 400, repeatOf: first.orderId }),
    );

    expect(second.orderId).not.toBe(first.orderId);
    expect(secondAgain.orderId).toBe(second.orderId);
    const unknown = await callTool(demo, 'place_order', {
      ...basket,
      repeatOf: 'ord_00000000000000000000000000000000',
    });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/^ORDER_NOT_FOUND/);
  });

  it('says that a waiting order is not charged and waits for the user until confirmBy, and lets the agent cancel it', async () => {
    // Act
    const placed = await callTool(cautious, 'place_order', basket);
    const order = orderOf(placed);
    const cancelled = await callTool(cautious, 'cancel_order', { orderId: order.orderId });
    const twice = await callTool(cautious, 'cancel_order', { orderId: order.orderId });
    const read = await callTool(cautious, 'get_order', { orderId: order.orderId });

    // Assess
    expect(order.status).toBe('AWAITING_CONFIRMATION');
    expect(placed.text).toContain('NOT CHARGED, WAITING FOR THE USER');
    expect(placed.text).toContain(`before ${order.confirmBy}`);
    expect(placed.text).toContain('ACTION_NOT_TRUSTED');
    expect(placed.text).toContain('you cannot confirm it yourself');
    expect(cancelled.isError).toBeFalsy();
    expect(orderOf(cancelled).status).toBe('CANCELLED');
    expect(cancelled.text).toContain('NOT CHARGED, CANCELLED');
    expect(twice.isError).toBeFalsy();
    expect(orderOf(twice).status).toBe('CANCELLED');
    expect(twice.text).toMatch(/already cancelled/);
    expect(orderOf(read).status).toBe('CANCELLED');
    expect(read.text).toContain('NOT CHARGED, CANCELLED');
    expect(stack.gateway.ledger().charges[order.orderId]).toBeUndefined();
  });

  it('answers a cancel of a paid order as a tool error that has the model ask the user for a refund', async () => {
    const order = orderOf(await callTool(demo, 'place_order', { ...basket, amount: 500 }));
    await waitForStatus(order.orderId, 'PAID');

    const refused = await callTool(demo, 'cancel_order', { orderId: order.orderId });

    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/^ILLEGAL_TRANSITION: .*The order is PAID.*ask the user .*refund/);
    expect(refused.structuredContent).toMatchObject({
      error: { code: 'ILLEGAL_TRANSITION', status: 409, currentStatus: 'PAID' },
    });
    expect(chargesOf(order.orderId)).toMatchObject({ payments: 1, captured: 500, refunded: 0 });
  });

  it('names the earlier order when the same purchase arrives under another key: a possible duplicate, not charged', async () => {
    // Prepare: the agent's own code placed the basket in this session under a key of its own.
    const session = 'conversation-dup';
    const earlier = await demoApi.placeOrder(
      { ...basket, amount: 800, sessionId: session, currency: 'CNY', paymentMethod: 'wallet' },
      { idempotencyKey: 'agent-own-key-1' },
    );
    const model = await server('demo-agent', { AUTOPAY_SESSION_ID: session });

    // Act
    const answer = await callTool(model, 'place_order', { ...basket, amount: 800 });

    // Assess
    const order = orderOf(answer);
    expect(order).toMatchObject({
      status: 'AWAITING_CONFIRMATION',
      reason: 'POSSIBLE_DUPLICATE',
      duplicateOf: earlier.order.orderId,
    });
    expect(answer.text).toMatch(/^Order ord_\w+: NOT CHARGED, WAITING FOR THE USER/);
    expect(answer.text).toContain(`(the earlier order: ${earlier.order.orderId})`);
    expect(chargesOf(order.orderId)).toBeUndefined();
  });

  it('turns every refusal the stack can give into a tool error with its code and what to do', async () => {
    const bogus = await server('demo-agent', { AUTOPAY_TOKEN: 'not-a-token' });
    const answers = {
      ORDER_NOT_FOUND: await callTool(demo, 'get_order', {
        orderId: 'ord_00000000000000000000000000000000',
      }),
      VALIDATION_FAILED: await callTool(demo, 'place_order', {
        ...basket,
        items: [{ sku: 'latte\u0007', quantity: 1 }],
      }),
      UNAUTHENTICATED: await callTool(bogus, 'get_order', { orderId: 'ord_1' }),
    };

    for (const [code, answer] of Object.entries(answers)) {
      expect(answer.isError, code).toBe(true);
      expect(answer.text, code).toMatch(new RegExp(`^${code}: `));
      expect(answer.structuredContent, code).toMatchObject({ error: { code } });
    }
    expect(answers.UNAUTHENTICATED.text).toMatch(/credentials must be renewed/);
    expect(answers.VALIDATION_FAILED.text).toMatch(/items\.0\.sku.*Nothing was placed/);
  });

  it("refuses input off the API's schema before calling it, as a tool error", async () => {
    const answer = await callTool(demo, 'place_order', { ...basket, amount: 0, note: 'hi' });

    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/Input validation error.*amount/s);
  });

  it('says the outcome of an order placed during an outage is unknown, and its retry places it once', async () => {
    // Prepare: the first attempt and both of the client's retries lose the payment queue.
    outage.failing = 3;
    const order = { ...basket, amount: 650 };

    // Act
    const during = await callTool(demo, 'place_order', order);
    const after = await callTool(demo, 'place_order', order);

    // Assess
    expect(during.isError).toBe(true);
    expect(during.text).toMatch(/^SERVICE_UNAVAILABLE: .*outcome is unknown.*safe/);
    const placed = orderOf(after);
    const paid = await waitForStatus(placed.orderId, 'PAID');
    expect(chargesOf(paid.orderId)).toMatchObject({ payments: 1, captured: 650 });
  });
});

describe('the MCP server over streamable HTTP', () => {
  it('serves the same tools, each MCP session an autopay session of its own', async () => {
    // Prepare
    const settings = readSettings({
      AUTOPAY_API_URL: stack.apiUrl,
      AUTOPAY_TOKEN: await signAgentToken('demo-agent'),
      MCP_TRANSPORT: 'http',
      MCP_PORT: '0',
    });
    httpServer = await serveHttp(settings, clientFor(settings));
    const url = new URL(`http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/mcp`);
    const connect = async () => {
      const client = new Client({ name: 'autopay-tests', version: '0.0.0' });
      await client.connect(new StreamableHTTPClientTransport(url));
      opened.push(client);
      return client;
    };
    const [one, other] = [await connect(), await connect()];
    const order = { ...basket, amount: 700 };

    // Act
    const placed = orderOf(await callTool(one, 'place_order', order));
    const replayed = orderOf(await callTool(one, 'place_order', { ...reworded, amount: 700 }));
    const elsewhere = orderOf(await callTool(other, 'place_order', order));

    const stale = await fetch(url, {
      method: 'POST',
      headers: {
        'mcp-session-id': 'mcp_ended',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });

    // Assess
    expect(replayed.orderId).toBe(placed.orderId);
    expect(elsewhere.orderId).not.toBe(placed.orderId);
    expect(stale.status).toBe(404);
  });
});

async function waitForStatus(orderId: string, status: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const order = await demoApi.getOrder(orderId);
    if (order.status === status) return order;
    if (Date.now() > deadline) throw new Error(`order ${orderId} still ${order.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
