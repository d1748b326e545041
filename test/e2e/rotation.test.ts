import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { driveRotation } from '../../local/runtime/rotation.ts';
import { AgentClient, type OrderBody } from '../support/http.ts';

let stack: LocalRuntime;
const captured: string[] = [];
const realWrite = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  // Every line the functions log in this file is kept, to be searched for secrets at the end.
  process.stdout.write = ((chunk: string | Uint8Array) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  stack = await startLocalRuntime({
    logLevel: 'DEBUG',
    seed: 5,
    environment: { BACKOFF_MAX_SECONDS: '1' },
    gatewayFaults: { pendingRate: 0.3, settleAfterMs: 300 },
  });
});

afterAll(async () => {
  await stack?.stop();
  process.stdout.write = realWrite;
});

async function currentValue(secretId: string, stage = 'AWSCURRENT'): Promise<string> {
  const result = await stack.secretsManager.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  return result.SecretString ?? '';
}

const rotate = (secretId: string) =>
  driveRotation((event) => stack.invoke('keyRotation', event), secretId);

describe('rotating both secrets while orders are paid', () => {
  it('fails no order, rejects no callback, and retires the oldest key', async () => {
    // Prepare
    const agent = await AgentClient.for(stack, 'demo-agent');
    const seen = new Set<string>([
      await currentValue(stack.secretIds.gatewayApiKey),
      await currentValue(stack.secretIds.webhookSigningSecret),
    ]);
    const oldestKey = await currentValue(stack.secretIds.gatewayApiKey);
    const placed: OrderBody[] = [];
    let streaming = true;
    // Orders flow while the rotations run, and at least a dozen of them, however fast the
    // rotations go on a busy machine.
    const stream = (async () => {
      while ((streaming || placed.length < 12) && placed.length < 40) {
        placed.push(await agent.place());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // Act: two rotations of each secret while the orders flow.
    for (let round = 0; round < 2; round++) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await rotate(stack.secretIds.gatewayApiKey);
      await rotate(stack.secretIds.webhookSigningSecret);
      seen.add(await currentValue(stack.secretIds.gatewayApiKey));
      seen.add(await currentValue(stack.secretIds.webhookSigningSecret));
    }
    streaming = false;
    await stream;
    const settled = await Promise.all(
      placed.map((order) => agent.waitForStatus(order.orderId, 'PAID', 30_000)),
    );

    // Assess
    expect(settled).toHaveLength(placed.length);
    const ledger = stack.gateway.ledger();
    for (const order of settled) {
      expect(ledger.charges[order.orderId]?.payments, order.orderId).toBe(1);
    }
    const pending = settled.filter((order) =>
      order.history.some((entry) => entry.to === 'AWAITING_SETTLEMENT'),
    );
    expect(pending.length).toBeGreaterThan(0);
    const logs = captured.join('');
    expect(logs).not.toContain('SIGNATURE_INVALID');
    expect(logs).not.toContain('TIMESTAMP_OUT_OF_TOLERANCE');
    const probe = await fetch(`${stack.gateway.url}/v1/payments?idempotencyKey=probe`, {
      headers: { authorization: `Bearer ${oldestKey}` },
    });
    expect(probe.status).toBe(401);
    expect(seen.size).toBe(6);

    // No secret value, old or new, appears in any log line of the run.
    // The capture did see the functions that handle secrets at work.
    for (const line of ['Rotation step done', 'Callback handled', 'Gateway answered']) {
      expect(logs).toContain(line);
    }
    for (const value of seen) {
      expect(logs.includes(value), `a secret of ${value.length} characters was logged`).toBe(false);
    }
  });
});
