import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '#shared/wiring.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { AgentClient, type OrderBody } from '../support/http.ts';

const orders = 18;
const backoffCapSeconds = 2;
/** The simulator's Retry-After on a throttle: within the backoff cap, so it never waits longer. */
const retryAfterSeconds = 1;
/**
 * Deliveries of one payment message before its DLQ. The seeded faults are drawn in arrival order,
 * so the order paid last meets a stretch of them alone: a loaded run paid one on its 9th delivery,
 * which the wiring's 8 would have sent to the DLQ, unpaid until the sweep 15 minutes after its
 * first failure. Met alone from any of its first 1,000 draws, seed 30 pays an order within 10
 * deliveries; 12 leave room for a run that spreads the faults otherwise.
 */
const maxReceives = 12;
const gatewayTimeoutMs = Number(wiring.functions.paymentSubmission.environment.GATEWAY_TIMEOUT_MS);
/**
 * How long the slowest order may take once all are placed: each delivery makes at most two
 * gateway calls (the lookup of an earlier attempt, then the charge), each cut at the gateway
 * timeout, and its message comes back at most the backoff cap later; every delivery but the
 * last fails. The rest covers a loaded machine (DynamoDB Local, the pollers) and an order whose
 * message outran its put once (2 s). An order past it is stuck, and fails by its id.
 */
const payAllWithinMs = maxReceives * (2 * gatewayTimeoutMs + backoffCapSeconds * 1000) + 18_000;
/** Placing all 18 at once within the agent's burst takes a few seconds, 30 on a loaded machine. */
const placeAllWithinMs = 30_000;

let stack: LocalRuntime;

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    seed: 30,
    environment: {
      BACKOFF_MAX_SECONDS: String(backoffCapSeconds),
      // One burst for the 18 placements, instead of 10 and then one a second: the agent's
      // token bucket is guards.test.ts's subject, not this one's.
      AGENT_RATE_BURST: String(orders),
      // The breaker never opens here: on 18 orders, 20 calls in a 10 s window half failing is a
      // fluctuation of 30 % faults (a loaded run had 24 calls, 12 failed, within 10 s), and it would
      // hold every order 31-35 s, and 30 s more per failed probe. Its opening, probe and closing are
      // test/integration/circuit-breaker.test.ts's; here it still reads and counts every call.
      BREAKER_MINIMUM_VOLUME: String(orders * maxReceives * 2 + 1),
    },
    queues: { paymentSubmission: { maxReceiveCount: maxReceives } },
    // 30 % of gateway calls fail in one way or another, lookups included.
    gatewayFaults: {
      errorRate: 0.1,
      throttleRate: 0.05,
      retryAfterSeconds,
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
  it(
    'pays every order exactly once',
    async () => {
      // Prepare
      const agents = await Promise.all(
        ['demo-agent', 'demo-agent', 'demo-agent'].map((id) => AgentClient.for(stack, id)),
      );

      // Act: 18 orders of 4.50 stay within the demo agent's daily limit of 200.00.
      const placed: Array<{ agent: AgentClient; order: OrderBody }> = [];
      for (let i = 0; i < orders; i++) {
        const agent = agents[i % agents.length] as AgentClient;
        placed.push({ agent, order: await agent.place() });
      }
      const settled = await Promise.all(
        placed.map(({ agent, order }) =>
          agent.waitForStatus(order.orderId, 'PAID', payAllWithinMs),
        ),
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
      expect(new Set(settled.map((order) => order.orderId)).size).toBe(orders);
      expect(ledger.payments).toHaveLength(orders);
      // The faults did happen: some orders needed more than one attempt.
      expect(settled.some((order) => order.attempts > 1)).toBe(true);
    },
    placeAllWithinMs + payAllWithinMs,
  );
});
