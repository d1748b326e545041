import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutopayApiError, AutopayClient } from '../../client/autopay-client.ts';
import { signAgentToken, signUserToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { apiFetchRequest } from '../support/contract.ts';
import { callTool, connectMcp } from '../support/mcp.ts';

/**
 * The typed client as the user's app uses it, with a user token on the local stack: it creates
 * an agent, suspends it (and the agent's MCP tool is told so), resumes and lists it, and
 * registers and deletes a webhook endpoint. Every answer is checked against docs/openapi.json.
 */
let stack: LocalRuntime;
let app: AutopayClient;
const opened: Client[] = [];

const clientFor = (token: string) =>
  new AutopayClient({ baseUrl: stack.apiUrl, token, fetch: apiFetchRequest, maxRetries: 0 });

async function refusal(call: Promise<unknown>): Promise<AutopayApiError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof AutopayApiError)) throw new Error(`expected a refusal, got ${error}`);
  return error;
}

beforeAll(async () => {
  stack = await startLocalRuntime({ logLevel: 'ERROR', seed: 17, pollers: false });
  app = clientFor(await signUserToken('demo-user'));
});

afterAll(async () => {
  await Promise.all(opened.map((client) => client.close()));
  await stack?.stop();
});

const coffee = {
  action: 'order_coffee',
  sessionId: 's-user-app',
  items: [{ sku: 'latte', quantity: 1 }],
  amount: 450,
  currency: 'CNY' as const,
  paymentMethod: 'wallet' as const,
};

describe("the typed client for the user's app, on the local stack", () => {
  it('creates an agent, suspends it (its model is told), resumes it, and lists it', async () => {
    // Prepare
    const { agent, created, idempotencyKey } = await app.createAgent({
      name: 'Coffee runner',
      trustedActions: ['order_coffee', 'submit_payment'],
      perOrderLimit: 5000,
      dailyLimit: 20000,
      limitCurrency: 'CNY',
    });
    const agentToken = await signAgentToken(agent.agentId);
    const mcp = await connectMcp({ AUTOPAY_API_URL: stack.apiUrl, AUTOPAY_TOKEN: agentToken });
    opened.push(mcp);

    // Act
    const replay = await app.createAgent(
      {
        name: 'Coffee runner',
        trustedActions: ['order_coffee', 'submit_payment'],
        perOrderLimit: 5000,
        dailyLimit: 20000,
        limitCurrency: 'CNY',
      },
      idempotencyKey,
    );
    const suspended = await app.suspendAgent(agent.agentId);
    const refused = await refusal(clientFor(agentToken).placeOrder(coffee));
    const { sessionId: _, ...unsessioned } = coffee;
    const told = await callTool(mcp, 'place_order', unsessioned);
    const resumed = await app.resumeAgent(agent.agentId);
    const changed = await app.updateAgent(agent.agentId, { perOrderLimit: 3000 });
    const placed = await clientFor(agentToken).placeOrder(coffee);
    const listed = await app.listAgents({ limit: 100 });
    const read = await app.getAgent(agent.agentId);

    // Assess
    expect(created).toBe(true);
    expect(replay).toMatchObject({ created: false, agent: { agentId: agent.agentId } });
    expect(agent).toMatchObject({ ownerId: 'demo-user', suspended: false });
    expect(suspended.suspended).toBe(true);
    expect(refused).toMatchObject({ status: 403, code: 'AGENT_SUSPENDED' });
    expect(told.isError).toBe(true);
    expect(told.text).toMatch(/^AGENT_SUSPENDED: .*until the user resumes the agent/);
    expect(resumed.suspended).toBe(false);
    expect(changed.perOrderLimit).toBe(3000);
    expect(placed.order.status).toBe('PENDING_PAYMENT');
    expect(listed.agents.map((each) => each.agentId)).toContain(agent.agentId);
    expect(read.history.map((entry) => entry.action)).toEqual([
      'CREATE',
      'SUSPEND',
      'RESUME',
      'UPDATE',
    ]);
  });

  it("answers another user's agent, or an agent's token on a user's route, with its code", async () => {
    const other = await refusal(app.getAgent('other-agent'));
    const asAgent = await refusal(clientFor(await signAgentToken('demo-agent')).listAgents());
    const unknown = await refusal(
      clientFor(await signAgentToken('nobody-agent')).placeOrder(coffee),
    );

    expect(other).toMatchObject({ status: 404, code: 'AGENT_NOT_FOUND' });
    expect(asAgent).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(unknown).toMatchObject({ status: 403, code: 'AGENT_NOT_REGISTERED' });
  });

  it('registers a webhook endpoint with its secret, lists it, and deletes it once', async () => {
    // Prepare
    const { endpoint, created } = await app.createWebhookEndpoint({
      url: 'http://127.0.0.1:9/autopay/events',
      events: ['order.paid', 'agent.suspended'],
    });

    // Act
    const listed = await app.listWebhookEndpoints();
    await app.deleteWebhookEndpoint(endpoint.id);
    const after = await app.listWebhookEndpoints();
    const again = await refusal(app.deleteWebhookEndpoint(endpoint.id));

    // Assess
    expect(created).toBe(true);
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect(listed.map((each) => each.id)).toContain(endpoint.id);
    expect(listed.find((each) => each.id === endpoint.id)).not.toHaveProperty('secret');
    expect(after.map((each) => each.id)).not.toContain(endpoint.id);
    expect(again).toMatchObject({ status: 404, code: 'WEBHOOK_ENDPOINT_NOT_FOUND' });
  });
});
