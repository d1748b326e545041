import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { orderIdFor } from '#domain/place-order.ts';
import { signAgentToken, signUserToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { localTarget } from '../../ops/cli.ts';
import { runOps } from '../../ops/commands.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';
import { apiFetch } from '../support/contract.ts';
import { AgentClient, type OrderBody } from '../support/http.ts';

/**
 * The guards over HTTP on the local stack, with the wiring's defaults: a duplicate window of
 * 300 s, a bucket of 1 order a second and a burst of 10, the switches cached for 2 s.
 */
let stack: LocalRuntime;
let agentSequence = 0;

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    scheduleSeconds: 3600,
    // Two receives dead-letter a payment: a pause that kept receiving would show at once.
    queues: { paymentSubmission: { maxReceiveCount: 2 } },
  });
});

afterAll(async () => {
  await stack?.stop();
});

/** The user who owns the agents of these tests. */
const guardsUser = 'guards-user';

/** A trusted agent of its own (demo-agent's limits), so no test empties another's bucket. */
async function freshAgent(rate: { ratePerSecond?: number } = {}) {
  const agentId = `guarded-agent-${++agentSequence}`;
  await new DynamoDbAgentDirectory(stack.dynamodb, stack.tableName).put({
    ...demoAgent,
    agentId,
    ownerId: guardsUser,
    ...rate,
  });
  return { agentId, token: await signAgentToken(agentId) };
}

function post(token: string, key: string, body: object = latteOrder) {
  return apiFetch(`${stack.apiUrl}/v1/orders`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
  });
}

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

/**
 * Longer than the switches' cache (CONTROL_CACHE_SECONDS 2; the payment poller's 1 s plus a
 * long poll of 1 s it may have started just before), with room for a loaded machine.
 */
const switchDelay = () => new Promise((resolve) => setTimeout(resolve, 3_500));

describe('the guards over HTTP on the local stack', () => {
  it('lets one of two racing keys for one intent pay; the other waits until its user confirms', async () => {
    const { agentId, token } = await freshAgent();
    const client = await AgentClient.for(stack, agentId);

    const answers = await Promise.all([post(token, 'race-a'), post(token, 'race-b')]);
    const bodies = (await Promise.all(answers.map((answer) => answer.json()))) as OrderBody[];

    expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
    const paying = bodies.filter((body) => body.status === 'PENDING_PAYMENT');
    const waiting = bodies.filter((body) => body.status === 'AWAITING_CONFIRMATION');
    expect(paying).toHaveLength(1);
    expect(waiting).toHaveLength(1);
    const [paid, held] = [paying[0]?.orderId ?? '', waiting[0]?.orderId ?? ''];
    expect(waiting[0]).toMatchObject({ reason: 'POSSIBLE_DUPLICATE', duplicateOf: paid });
    await client.waitForStatus(paid, 'PAID');
    // The gateway charged once for the intent: no second charge without the user.
    expect(stack.gateway.ledger().charges[held]).toBeUndefined();

    const user = await signUserToken(guardsUser);
    const confirmed = await apiFetch(`${stack.apiUrl}/v1/orders/${held}/confirm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user}` },
    });
    expect(confirmed.status).toBe(202);
    await client.waitForStatus(held, 'PAID');
  });

  it('answers a replay of the first key with the order itself, not as a duplicate', async () => {
    const { token } = await freshAgent();
    const first = await post(token, 'k-1');
    const replay = await post(token, 'k-1');

    expect(first.status).toBe(202);
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const [placed, replayed] = [await first.json(), await replay.json()] as OrderBody[];
    expect(replayed?.orderId).toBe(placed?.orderId);
    expect(replayed?.reason).toBeUndefined();
  });

  it('refuses the 11th order of a burst with 429 RATE_LIMITED and Retry-After, storing nothing; reads and other agents go on', async () => {
    // A token every 20 s (the burst is the default 10): a loaded machine cannot refill one
    // while the burst is placed.
    const { agentId, token } = await freshAgent({ ratePerSecond: 0.05 });
    const other = await freshAgent();
    const statuses: number[] = [];
    for (let n = 1; n <= 10; n++) {
      statuses.push((await post(token, `b-${n}`, { ...latteOrder, sessionId: `s-${n}` })).status);
    }

    const refused = await post(token, 'b-11', { ...latteOrder, sessionId: 's-11' });
    const body = (await refused.json()) as { error: { retryAfterSeconds: number } };

    expect(statuses).toEqual(Array(10).fill(202));
    expect(refused.status).toBe(429);
    expect(body.error).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused.headers.get('retry-after')).toBe(String(body.error.retryAfterSeconds));
    expect(body.error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(body.error.retryAfterSeconds).toBeLessThanOrEqual(20);
    // Nothing was stored under the refused key; a replay and a read are not refused.
    const notStored = await apiFetch(`${stack.apiUrl}/v1/orders/${orderIdFor(agentId, 'b-11')}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(notStored.status).toBe(404);
    const replay = await post(token, 'b-1', { ...latteOrder, sessionId: 's-1' });
    const firstOrder = (await replay.json()) as OrderBody;
    const read = await apiFetch(`${stack.apiUrl}/v1/orders/${firstOrder.orderId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(replay.status).toBe(200);
    expect(read.status).toBe(200);
    expect((await post(other.token, 'o-1')).status).toBe(202);
  });

  it('pauses auto-pay within seconds: orders wait as AUTOPAY_PAUSED until it is resumed', async () => {
    const { agentId, token } = await freshAgent();
    const said = await ops('pause', 'autopay');
    await switchDelay();

    const paused = (await (await post(token, 'p-1')).json()) as OrderBody;
    const shown = await ops('paused');
    await ops('resume', 'autopay');
    await switchDelay();
    const resumed = (await (
      await post(token, 'p-2', { ...latteOrder, sessionId: 's-2' })
    ).json()) as OrderBody;

    expect(said).toMatch(/autopay paused in the local stack by \S+ at \d{4}-/);
    expect(shown).toMatch(/autopay: paused by \S+ at /);
    expect(paused).toMatchObject({ status: 'AWAITING_CONFIRMATION', reason: 'AUTOPAY_PAUSED' });
    expect(resumed.status).toBe('PENDING_PAYMENT');
    await (await AgentClient.for(stack, agentId)).waitForStatus(resumed.orderId, 'PAID');
  });

  it('pauses payments: the message waits in the queue, never received, until it is resumed', async () => {
    const { agentId, token } = await freshAgent();
    const client = await AgentClient.for(stack, agentId);
    await ops('pause', 'payments');
    await switchDelay();

    const placed = (await (await post(token, 'q-1')).json()) as OrderBody;
    // Longer than two visibility timeouts of a message received and returned.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const queued = await stack.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.queueUrls.paymentSubmission.url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const held = await client.get(placed.orderId);
    await ops('resume', 'payments');

    expect(held).toMatchObject({ status: 'PENDING_PAYMENT', attempts: 0 });
    expect(queued.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    const paid = await client.waitForStatus(placed.orderId, 'PAID', 20_000);
    expect(paid.deadLettered).toBeUndefined();
  });

  it('has the sweep count an overdue payment while payments are paused, sending nothing and spending none of its budget', async () => {
    const { agentId, token } = await freshAgent();
    const client = await AgentClient.for(stack, agentId);
    await ops('pause', 'payments');
    await switchDelay();
    const placed = (await (await post(token, 'r-1')).json()) as OrderBody;
    // Its message waits in the paused queue; the order is made overdue as a failed delivery
    // would have made it.
    const orders = new DynamoDbOrderRepository(stack.dynamodb, stack.tableName);
    const overdue = new Date(Date.now() - 60_000).toISOString();
    expect(await orders.annotate(placed.orderId, 'PENDING_PAYMENT', { dueAt: overdue })).toBe(true);

    const report = (await stack.invoke('sweep', {})) as { requeued: number; pastDeadline: number };
    const queued = await stack.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.queueUrls.paymentSubmission.url,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    const held = await orders.get(placed.orderId);
    await ops('resume', 'payments');

    expect(report.pastDeadline).toBeGreaterThanOrEqual(1);
    expect(queued.Attributes?.ApproximateNumberOfMessages).toBe('1');
    expect(held).toMatchObject({ status: 'PENDING_PAYMENT' });
    expect(held?.redrives).toBeUndefined();
    expect(Date.parse(held?.dueAt ?? '')).toBeGreaterThan(Date.now());
    await client.waitForStatus(placed.orderId, 'PAID', 20_000);
  });
});
