import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { AgentClient } from '../support/http.ts';

let stack: LocalRuntime;
let agent: AgentClient;

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    environment: { BACKOFF_MAX_SECONDS: '1' },
    queues: { paymentSubmission: { maxReceiveCount: 3 } },
  });
  agent = await AgentClient.for(stack, 'demo-agent');
});

afterAll(async () => {
  await stack?.stop();
});

async function deadLetters(timeoutMs: number): Promise<string[]> {
  const bodies: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const received = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queueUrls.paymentSubmission.dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    for (const message of received.Messages ?? []) {
      bodies.push(message.Body ?? '');
      await stack.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: stack.queueUrls.paymentSubmission.dlqUrl,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
    }
    if (bodies.length > 0) return bodies;
  }
  return bodies;
}

describe('a payment that never gets through', () => {
  it('reaches the DLQ after maxReceiveCount, and the order says why', async () => {
    // Prepare: the gateway answers 503 to everything.
    stack.gateway.setFaults({ errorRate: 1, errorStatuses: [503] });

    // Act
    const placed = await agent.place();
    const dead = await deadLetters(30_000);
    stack.gateway.setFaults({ errorRate: 0 });

    // Assess
    expect(dead.map((body) => JSON.parse(body).orderId)).toEqual([placed.orderId]);
    const order = await agent.get(placed.orderId);
    expect(order).toMatchObject({
      status: 'PENDING_PAYMENT',
      lastError: 'GATEWAY_UNAVAILABLE',
      attempts: 3,
      deadLettered: true,
    });
    expect(stack.gateway.ledger().charges[placed.orderId]?.payments ?? 0).toBe(0);
  });

  it('sends an unreadable message to the DLQ without touching any order', async () => {
    // Act
    await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrls.paymentSubmission.url,
        MessageBody: '{"not":"a payment"}',
      }),
    );
    const dead = await deadLetters(30_000);

    // Assess
    expect(dead).toEqual(['{"not":"a payment"}']);
  });
});
