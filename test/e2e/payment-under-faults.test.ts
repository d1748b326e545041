import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { AgentClient, type OrderBody } from '../support/http.ts';

let stack: LocalRuntime;

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    seed: 30,
    environment: { BACKOFF_MAX_SECONDS: '2' },
    // 30 % of gateway calls fail in one way or another, lookups included.
    gatewayFaults: {
      errorRate: 0.1,
      throttleRate: 0.05,
      resetRate: 0.05,
      hangRate: 0.05,
      chargeThenTimeoutRate: 0.05,
      hangMs: 5_000,
    },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('paying with 30 % gateway faults', () => {
  it('pays every order exactly once', async () => {
    // Prepare
    const agents = await Promise.all(
      ['demo-agent', 'demo-agent', 'demo-agent'].map((id) => AgentClient.for(stack, id)),
    );

    // Act: 18 orders of 4.50 stay within the demo agent's daily limit of 200.00.
    const placed: Array<{ agent: AgentClient; order: OrderBody }> = [];
    for (let i = 0; i < 18; i++) {
      const agent = agents[i % agents.length] as AgentClient;
      placed.push({ agent, order: await agent.place() });
    }
    const settled = await Promise.all(
      placed.map(({ agent, order }) => agent.waitForStatus(order.orderId, 'PAID', 90_000)),
    );

    // Assess
    const ledger = stack.gateway.ledger();
    for (const order of settled) {
      expect(ledger.charges[order.orderId], order.orderId).toMatchObject({
        payments: 1,
        captured: 450,
        refunded: 0,
      });
    }
    expect(new Set(settled.map((order) => order.orderId)).size).toBe(18);
    expect(ledger.payments).toHaveLength(18);
    // The faults did happen: some orders needed more than one attempt.
    expect(settled.some((order) => order.attempts > 1)).toBe(true);
    // Longer than the 90 s wait for PAID, so an order left unpaid fails by its id, not by the
    // run's time.
  }, 120_000);
});
