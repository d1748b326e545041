import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { CallCounter } from '../support/calls.ts';
import { AgentClient } from '../support/http.ts';

let stack: LocalRuntime;
let agent: AgentClient;
const counter = new CallCounter();

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    seed: 7,
    // Short backoffs keep the retries of these tests within seconds.
    environment: { BACKOFF_MAX_SECONDS: '1', RISK_FAIL_OPEN_LIMIT: '1000' },
    gatewayFaults: { autoSettle: false, hangMs: 5_000 },
    // Submission alone is under test: callbacks would settle orders behind its back.
    callbacks: false,
  });
  agent = await AgentClient.for(stack, 'demo-agent');
  // The functions' own clients: every DynamoDB and SQS request they make is counted.
  const clients = await import('#adapters/aws-clients.ts');
  counter.attach(clients.dynamodb, 'DynamoDB').attach(clients.sqs, 'SQS');
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.risk.setFaults({ internalErrorRate: 0 });
});

function chargesFor(orderId: string) {
  return stack.gateway.ledger().charges[orderId];
}

/** The order as stored, with what its agent is not shown (the risk verdict). */
function stored(orderId: string) {
  return new DynamoDbOrderRepository(stack.dynamodb, stack.tableName).get(orderId);
}

describe('payment submission on the local stack', () => {
  it('pays a trusted order within seconds, with one charge', async () => {
    // Act
    const placed = await agent.place();
    const paid = await agent.waitForStatus(placed.orderId, 'PAID', 10_000);

    // Assess
    expect(paid.attempts).toBe(1);
    expect(paid).not.toHaveProperty('risk');
    expect(paid).not.toHaveProperty('clientIp');
    expect(await stored(placed.orderId)).toMatchObject({
      risk: { level: 'pass', bypassed: false },
      // The address the risk engine is sent as UserIp.
      clientIp: '127.0.0.1',
    });
    expect(paid.history.map((entry) => entry.to)).toEqual(['PENDING_PAYMENT', 'PAID']);
    expect(chargesFor(placed.orderId)).toMatchObject({ payments: 1, captured: 450 });
  });

  it('costs three single-item DynamoDB writes and one SQS send of ours per paid order', async () => {
    // Prepare: a first order warms the caches (secret, breaker state).
    await agent.waitForStatus((await agent.place()).orderId, 'PAID');
    counter.reset();

    // Act: wait through the stack's own client, so the waiting costs none of the counted calls.
    const placed = await agent.place();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const item = await stack.dynamodb.send(
        new GetCommand({ TableName: stack.tableName, Key: { pk: `ORDER#${placed.orderId}` } }),
      );
      if (item.Item?.status === 'PAID' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Assess: intake reads the agent and the order (a replay?), claims the agent-day item,
    // queues, and puts the order; submission reads the order and the agent (is it suspended?)
    // and writes PAID. No transaction. The breaker's state is read at most once a second per
    // instance and written only while the gateway fails; it and the operators' switches (2 s) are
    // cached reads left out here. The message is sent just before the order is stored: when it
    // outruns the put, submission reads the order once more.
    const cached = (index: number) => /^(BREAKER|CONTROL)#/.test(counter.keys[index] ?? '');
    const uncached = counter.calls.filter((_, index) => !cached(index));
    const reads = uncached.filter((call) => call === 'DynamoDB.GetItem').length;
    const calls = uncached
      .filter((call) => call !== 'DynamoDB.BatchGetItem' && call !== 'DynamoDB.GetItem')
      .sort();
    expect(reads).toBeGreaterThanOrEqual(4);
    expect(reads).toBeLessThanOrEqual(5);
    expect(calls).toEqual([
      'DynamoDB.PutItem',
      'DynamoDB.UpdateItem',
      'DynamoDB.UpdateItem',
      'SQS.SendMessage',
    ]);
    expect(counter.count('DynamoDB.BatchGetItem')).toBeLessThanOrEqual(1);
  });

  it('never charges twice when a charge succeeds but its answer never arrives', async () => {
    // Prepare
    stack.gateway.scriptNext([{ fault: 'charge_then_timeout' }]);

    // Act
    const placed = await agent.place();
    const paid = await agent.waitForStatus(placed.orderId, 'PAID');

    // Assess
    expect(chargesFor(placed.orderId)).toMatchObject({ payments: 1, captured: 450 });
    expect(paid.attempts).toBe(2);
    expect(paid.lastError).toBeUndefined();
  });

  it.each([
    ['a 503', { fault: 'error', status: 503 }],
    ['a 500', { fault: 'error', status: 500 }],
    ['a 429 with Retry-After', { fault: 'throttle', retryAfterSeconds: 1 }],
    ['a connection reset', { fault: 'reset' }],
    ['a hang past the client timeout', { fault: 'hang' }],
  ] as const)('retries after %s and pays once', async (_, fault) => {
    // Prepare
    stack.gateway.scriptNext([fault]);

    // Act
    const placed = await agent.place();
    const paid = await agent.waitForStatus(placed.orderId, 'PAID');

    // Assess
    expect(chargesFor(placed.orderId)).toMatchObject({ payments: 1, captured: 450 });
    expect(paid.attempts).toBe(2);
  });

  it('fails a declined payment with the decline code', async () => {
    stack.gateway.scriptNext([{ fault: 'decline', declineCode: 'insufficient_funds' }]);
    const placed = await agent.place();
    const failed = await agent.waitForStatus(placed.orderId, 'FAILED');
    expect(failed).toMatchObject({
      declineCode: 'insufficient_funds',
      lastError: 'GATEWAY_DECLINED',
    });
    expect(chargesFor(placed.orderId)?.captured).toBe(0);
  });

  it('waits for settlement on a PENDING answer and schedules a settlement check', async () => {
    // Prepare
    stack.gateway.scriptNext([{ fault: 'pending' }]);

    // Act
    const placed = await agent.place();
    const waiting = await agent.waitForStatus(placed.orderId, 'AWAITING_SETTLEMENT');

    // Assess
    expect(typeof waiting.settleBy).toBe('string');
    const check = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queueUrls.settlementCheck.url,
        WaitTimeSeconds: 0,
        MaxNumberOfMessages: 10,
      }),
    );
    // The check is delayed by a minute: it is in the queue, not visible yet.
    expect(check.Messages ?? []).toEqual([]);
    const attributes = await stack.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.queueUrls.settlementCheck.url,
        AttributeNames: ['ApproximateNumberOfMessagesDelayed'],
      }),
    );
    expect(Number(attributes.Attributes?.ApproximateNumberOfMessagesDelayed)).toBeGreaterThan(0);
  });

  it('fetches the current gateway key after a 401 and pays without failing the order', async () => {
    // Prepare: the key rotates at the gateway and in Secrets Manager; functions still cache the old.
    const newKey = 'sk_local_rotated_key_not_secret';
    stack.gateway.setApiKeys([newKey]);
    await stack.secretsManager.send(
      new PutSecretValueCommand({ SecretId: stack.secretIds.gatewayApiKey, SecretString: newKey }),
    );

    // Act
    const placed = await agent.place();
    const paid = await agent.waitForStatus(placed.orderId, 'PAID');

    // Assess
    expect(paid.attempts).toBe(1);
    expect(chargesFor(placed.orderId)).toMatchObject({ payments: 1 });
  });

  it('lets a small order through with the bypass recorded when the risk engine always fails', async () => {
    // Prepare
    stack.risk.setFaults({ internalErrorRate: 1 });

    // Act
    const placed = await agent.place({ amount: 800 });
    const paid = await agent.waitForStatus(placed.orderId, 'PAID');

    // Assess
    expect(paid.status).toBe('PAID');
    expect((await stored(placed.orderId))?.risk).toMatchObject({
      level: 'pass',
      bypassed: true,
      errorCode: 'InternalServerError',
      requestId: expect.any(String),
    });
    expect(stack.risk.requests().byOrder[placed.orderId]).toBe(3);
  });

  it('holds a large order for review when the risk engine always fails', async () => {
    stack.risk.setFaults({ internalErrorRate: 1 });
    const placed = await agent.place({ amount: 1500 });
    const held = await agent.waitForStatus(placed.orderId, 'HELD_FOR_REVIEW');
    expect(held).toMatchObject({ holdReason: 'RISK_UNAVAILABLE' });
    expect(held).not.toHaveProperty('risk');
    expect(await stored(placed.orderId)).toMatchObject({ risk: { bypassed: true } });
    expect(chargesFor(placed.orderId)).toBeUndefined();
  });

  it('fails open on AuthFailure once the key pair is disabled, and uses the pair an operator puts in', async () => {
    // Prepare: the local pair disabled in CAM, a new one issued.
    const replacement = { SecretId: 'AKIDautopayE2eReplacement', SecretKey: 'e2e-replacement-key' };
    stack.risk.setCredentials({ [replacement.SecretId]: replacement.SecretKey });
    const before = stack.risk.requests().authFailures;

    // Act: an order checked with the disabled pair, then the operator stores the new one.
    const refused = await agent.place({ amount: 800 });
    await agent.waitForStatus(refused.orderId, 'PAID');
    await stack.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: stack.secretIds.riskEngineCredentials,
        SecretString: JSON.stringify(replacement),
      }),
    );
    // A forced re-read of the secret happens at most every 5 s per instance.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    const checked = await agent.place({ amount: 800 });
    await agent.waitForStatus(checked.orderId, 'PAID');

    // Assess
    expect((await stored(refused.orderId))?.risk).toMatchObject({
      level: 'pass',
      bypassed: true,
      errorCode: 'AuthFailure.SecretIdNotFound',
      requestId: expect.any(String),
    });
    expect(stack.risk.requests().byOrder[refused.orderId]).toBe(2);
    expect((await stored(checked.orderId))?.risk).toMatchObject({ level: 'pass', bypassed: false });
    expect(stack.risk.requests().authFailures - before).toBe(3);
  }, 30_000);
});
