import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LocalRuntime,
  projectRoot,
  startLocalRuntime,
} from '../../local/runtime/local-runtime.ts';
import { localTarget } from '../../ops/cli.ts';
import { OpsError, runOps } from '../../ops/commands.ts';
import { AgentClient } from '../support/http.ts';

const run = promisify(execFile);
let stack: LocalRuntime;
let agent: AgentClient;

async function ops(...args: string[]): Promise<string> {
  const lines: string[] = [];
  const target = localTarget(
    {
      environment: stack.environment,
      tableName: stack.tableName,
      queueUrls: stack.queueUrls,
      secretIds: stack.secretIds,
    },
    (functionName, event) => stack.invoke(functionName, event),
  );
  await runOps(args, target, (line) => lines.push(line));
  return lines.join('\n');
}

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    // Orders fall due within a second; no scheduled sweep runs to move them on.
    scheduleSeconds: 3600,
    environment: { BACKOFF_MAX_SECONDS: '1', PAYMENT_DEADLINE_SECONDS: '1' },
    queues: { paymentSubmission: { maxReceiveCount: 2 } },
  });
  agent = await AgentClient.for(stack, 'demo-agent');
});

afterAll(async () => {
  await stack?.stop();
});

describe('operator tools against the local stack', () => {
  it('shows an order with its history and the risk verdict its agent does not see', async () => {
    const placed = await agent.place();
    const seenByAgent = await agent.waitForStatus(placed.orderId, 'PAID');

    const shown = JSON.parse(await ops('order', placed.orderId));

    expect(shown).toMatchObject({
      orderId: placed.orderId,
      status: 'PAID',
      agentId: 'demo-agent',
      risk: { level: 'pass', bypassed: false, requestId: expect.any(String) },
    });
    expect(shown.history).toHaveLength(2);
    expect(seenByAgent).not.toHaveProperty('risk');
  });

  it('says so when there is no such order', async () => {
    await expect(ops('order', 'ord_missing')).rejects.toThrow(OpsError);
  });

  it('lists what is stuck and in the DLQ with why, then redrives it to payment', async () => {
    // Prepare: the gateway refuses everything, so the payment runs out of deliveries.
    stack.gateway.setFaults({ errorRate: 1, errorStatuses: [503] });
    const placed = await agent.place();
    await agent.waitFor(placed.orderId, (order) => order.deadLettered === true, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    // Act
    const stuck = await ops('stuck');
    const dlq = await ops('dlq');
    stack.gateway.setFaults({ errorRate: 0 });
    const redrive = await ops('redrive', 'paymentSubmission');

    // Assess
    expect(stuck).toContain(placed.orderId);
    expect(stuck).toContain('PENDING_PAYMENT');
    expect(dlq).toMatch(/paymentSubmission DLQ: 1 message/);
    expect(dlq).toContain('lastError=GATEWAY_UNAVAILABLE');
    expect(redrive).toBe('Moved 1 message(s) from the paymentSubmission DLQ back to its queue.');
    await agent.waitForStatus(placed.orderId, 'PAID', 20_000);
    expect(await ops('dlq')).toMatch(/paymentSubmission DLQ: 0 message/);
  });

  it('refunds a paid order through the refund use case; the same command again is a replay', async () => {
    // Prepare
    const placed = await agent.place();
    await agent.waitForStatus(placed.orderId, 'PAID');

    // Act
    const said = await ops('refund', placed.orderId, 'charged', 'twice');
    const refunded = await agent.waitForStatus(placed.orderId, 'REFUNDED', 20_000);
    const again = await ops('refund', placed.orderId, 'charged', 'twice');

    // Assess
    expect(said).toContain('the order is REFUND_PENDING');
    expect(refunded.history.map((entry) => entry.to)).toEqual([
      'PENDING_PAYMENT',
      'PAID',
      'REFUND_PENDING',
      'REFUNDED',
    ]);
    expect(stack.gateway.ledger().charges[placed.orderId]).toMatchObject({
      captured: 450,
      refunded: 450,
    });
    expect(again).toContain('asked for before; the order is REFUNDED');
  });

  it('refuses to refund an order that is not paid, or with a reason it cannot store', async () => {
    // Prepare
    const cautious = await AgentClient.for(stack, 'cautious-agent');
    const waiting = await cautious.place();
    const paid = await agent.place();
    await agent.waitForStatus(paid.orderId, 'PAID');

    // Act
    const unpaid = await ops('refund', waiting.orderId).catch((error: unknown) => error);
    const badReason = await ops('refund', paid.orderId, 'a\u202ereason').catch((error) => error);
    const missing = await ops('refund', 'ord_missing').catch((error: unknown) => error);

    // Assess
    expect(unpaid).toBeInstanceOf(OpsError);
    expect(String(unpaid)).toContain('ILLEGAL_TRANSITION');
    expect(badReason).toBeInstanceOf(OpsError);
    expect(String(badReason)).toContain('VALIDATION_FAILED');
    expect(missing).toBeInstanceOf(OpsError);
    expect((await cautious.get(waiting.orderId)).status).toBe('AWAITING_CONFIRMATION');
    expect((await agent.get(paid.orderId)).status).toBe('PAID');
  });

  it('rotates a secret', async () => {
    const before = await current(stack.secretIds.webhookSigningSecret);
    const said = await ops('rotate', 'webhookSigningSecret');
    expect(said).toMatch(/^Rotated webhookSigningSecret: version .+ is now AWSCURRENT\.$/);
    expect(await current(stack.secretIds.webhookSigningSecret)).not.toBe(before);
  });

  it('refuses an unknown command or argument with the usage', async () => {
    await expect(ops('frobnicate')).rejects.toThrow(/usage: npm run ops/);
    await expect(ops('redrive', 'nowhere')).rejects.toThrow(/redrive needs one of/);
    await expect(ops('rotate', 'password')).rejects.toThrow(/rotate needs one of/);
    await expect(ops('refund')).rejects.toThrow(/refund needs an order id/);
  });
});

describe('the ops command line', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run('npx', ['tsx', 'ops/cli.ts', ...args], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it('says clearly when a stage name is missing', async () => {
    const result = await cli(['--stage']);
    expect(result).toMatchObject({ code: 2 });
    expect(result.stderr).toContain('--stage needs a stage name');
  });

  it('says clearly when there are no AWS credentials for a stage', async () => {
    const result = await cli(['--stage', 'dev', 'stuck'], {
      AWS_REGION: 'us-east-1',
      // Nothing may leave this machine: no instance metadata lookups, no profiles.
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: 'autopay-test-profile-that-does-not-exist',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('No AWS credentials found');
  });
});

async function current(secretId: string): Promise<string> {
  const value = await stack.secretsManager.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }),
  );
  return value.SecretString ?? '';
}
