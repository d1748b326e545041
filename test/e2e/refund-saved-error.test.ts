import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { signOwnerToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { askRefund } from '../support/contract.ts';
import { AgentClient } from '../support/http.ts';

/*
 * Stripe saves a request's first answer under its idempotency key, a 500 included, and replays
 * it until it prunes the key, at least 24 hours later. Here the simulated Stripe keeps a key for
 * 20 s, and promises nothing of whether the 500'd request made the refund. One that did is read
 * from the payment's refunds at the 500 and adopted at once. One that did not is unknown: the
 * sweep gives it up after two redrives a second apart, and sends it again 21 s after the give-up,
 * once, when the key is pruned and the refund made. A file of its own: the functions read their
 * environment once per process.
 */

const keyWindowMs = 20_000;
let stack: LocalRuntime;
let agent: AgentClient;

beforeAll(async () => {
  stack = await startLocalRuntime({
    gateway: 'stripe',
    logLevel: 'ERROR',
    seed: 31,
    scheduleSeconds: 1,
    environment: {
      BACKOFF_MAX_SECONDS: '1',
      REFUND_DEADLINE_SECONDS: '1',
      SWEEP_REDRIVE_LIMIT: '2',
      GATEWAY_IDEMPOTENCY_KEY_WINDOW_SECONDS: String(keyWindowMs / 1000 + 1),
      SWEEP_REFUND_KEY_WINDOWS: '1',
    },
    queues: { settlementCheck: { maxReceiveCount: 3 } },
    gatewayFaults: { idempotencyKeyWindowMs: keyWindowMs },
  });
  agent = await AgentClient.for(stack, 'demo-agent');
});

afterAll(async () => {
  await stack?.stop();
});

/** The owner asks the order's refund through the API. */
async function askOwnerRefund(orderId: string, idempotencyKey: string): Promise<Response> {
  return askRefund(stack.apiUrl, orderId, await signOwnerToken('demo-agent'), idempotencyKey);
}

describe('a refund Stripe answered 500 and replays under its key', () => {
  it('is REFUNDED at once when the 500 made the refund, never given up', async () => {
    // Prepare: a paid order; its refund is made at Stripe and answered a 500, saved.
    const placed = await agent.place();
    await agent.waitForStatus(placed.orderId, 'PAID', 10_000);
    stack.gateway.scriptNext([{ fault: 'refund_saved_error' }]);

    // Act
    const asked = await askOwnerRefund(placed.orderId, 'refund-saved-500-made');
    const refunded = await agent.waitForStatus(placed.orderId, 'REFUNDED', keyWindowMs / 2);

    // Assess: REFUNDED within half the key window (a refund given up waits it out), by the one
    // refund Stripe made.
    expect(asked.status).toBe(202);
    expect(refunded.lastError).toBeUndefined();
    const ledger = stack.gateway.ledger();
    expect(ledger.refundSavedErrors).toBe(1);
    expect(ledger.charges[placed.orderId]).toMatchObject({ captured: 450, refunded: 450 });
  }, 60_000);

  it('is given up until the key window has passed when the 500 made nothing, then sent again and made', async () => {
    // Prepare: a paid order; its refund is answered a 500, saved, before anything is made.
    const placed = await agent.place();
    await agent.waitForStatus(placed.orderId, 'PAID', 10_000);
    stack.gateway.scriptNext([{ fault: 'refund_saved_error_unmade' }]);

    // Act
    const asked = await askOwnerRefund(placed.orderId, 'refund-saved-500-unmade');
    const waiting = await agent.waitFor(
      placed.orderId,
      (order) => order.lastError === 'REFUND_AFTER_KEY_WINDOW',
      keyWindowMs,
    );
    const refunded = await agent.waitForStatus(placed.orderId, 'REFUNDED', 3 * keyWindowMs);

    // Assess: given up while the 500 was replayed, then REFUNDED by the one refund made afresh.
    expect(asked.status).toBe(202);
    expect(waiting.status).toBe('REFUND_PENDING');
    expect(refunded.lastError).toBeUndefined();
    const ledger = stack.gateway.ledger();
    expect(ledger.refundSavedErrors).toBe(2);
    expect(ledger.charges[placed.orderId]).toMatchObject({ captured: 450, refunded: 450 });
    const stored = await new DynamoDbOrderRepository(stack.dynamodb, stack.tableName).get(
      placed.orderId,
    );
    const made = ledger.refunds.filter((each) => each.paymentId === stored?.gatewayRef);
    expect(made.map((each) => each.id)).toEqual([stored?.refundId]);
  }, 120_000);
});
