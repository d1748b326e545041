import { randomUUID } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { signAgentToken, signUserToken } from '../../local/runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime/local-runtime.ts';
import { CallCounter } from '../support/calls.ts';
import { apiFetch } from '../support/contract.ts';
import { AgentClient } from '../support/http.ts';
import { neverAnswer, WebhookReceiver } from '../support/webhook-receiver.ts';

let stack: LocalRuntime;
let receiver: WebhookReceiver;

beforeAll(async () => {
  stack = await startLocalRuntime({
    logLevel: 'ERROR',
    seed: 12,
    // Retries of a failing endpoint within a second, and a dead one given up on quickly.
    environment: {
      NOTIFICATION_BACKOFF_BASE_SECONDS: '1',
      NOTIFICATION_BACKOFF_MAX_SECONDS: '1',
      WEBHOOK_DELIVERY_TIMEOUT_MS: '1000',
      WEBHOOK_ENDPOINTS_PER_USER: '4',
    },
  });
  receiver = await WebhookReceiver.start();
});

afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
});

/** The user's app: until users are principals of their own, the agent's token with user scopes. */
interface Answer {
  readonly id?: string;
  readonly url?: string;
  readonly events?: string[];
  readonly createdAt?: string;
  readonly secret?: string;
  readonly error?: { code: string };
}

class UserApp {
  private constructor(private readonly token: string) {}

  static async of(userId: string): Promise<UserApp> {
    return new UserApp(await signUserToken(userId));
  }

  async register(url: string, events: readonly string[], key = randomUUID()) {
    const response = await apiFetch(`${stack.apiUrl}/v1/webhook-endpoints`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.token}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify({ url, events }),
    });
    return { status: response.status, body: (await response.json()) as Answer };
  }

  async list() {
    const response = await apiFetch(`${stack.apiUrl}/v1/webhook-endpoints`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    return (await response.json()) as { data: Array<Record<string, unknown>> };
  }

  async remove(id: string): Promise<number> {
    const response = await apiFetch(`${stack.apiUrl}/v1/webhook-endpoints/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${this.token}` },
    });
    return response.status;
  }

  async confirm(orderId: string): Promise<number> {
    const response = await apiFetch(`${stack.apiUrl}/v1/orders/${orderId}/confirm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}` },
    });
    return response.status;
  }
}

describe('webhook events on the local stack', () => {
  it('costs the notification functions three GetItem and one SendMessageBatch per event delivered', async () => {
    // Prepare: first of the file, so that no retry of another test's event is counted; an agent
    // of its own, so that no other endpoint shares its user.
    await new DynamoDbAgentDirectory(stack.dynamodb, stack.tableName).put({
      agentId: 'cost-agent',
      ownerId: 'cost-user',
      suspended: false,
      trustedActions: ['order_coffee', 'submit_payment'],
      limitCurrency: 'CNY',
      perOrderLimit: 5000,
      dailyLimit: 20000,
    });
    const user = await UserApp.of('cost-user');
    const agent = await AgentClient.for(stack, 'cost-agent');
    const path = '/cost';
    await user.register(`${receiver.baseUrl}${path}`, ['order.paid']);
    const { notificationClients } = await import('#adapters/notification-clients.ts');
    const counter = new CallCounter()
      .attach(notificationClients.dynamodb, 'DynamoDB')
      .attach(notificationClients.sqs, 'SQS');

    // Act
    const placed = await agent.place();
    await receiver.waitFor(path, (got) => got.length === 1);

    // Assess: the fan-out reads the agent's owner and the owner's endpoints, and queues the
    // event; the delivery reads the endpoint. The poller's receive and delete are Lambda's.
    expect(counter.calls.sort()).toEqual([
      'DynamoDB.GetItem',
      'DynamoDB.GetItem',
      'DynamoDB.GetItem',
      'SQS.SendMessageBatch',
    ]);
    expect(receiver.received.at(-1)?.event.data.order?.orderId).toBe(placed.orderId);
  });

  it('tells the user an order waits, and then that it is paid, each signed with the endpoint secret', async () => {
    // Prepare
    const user = await UserApp.of('demo-user');
    const agent = await AgentClient.for(stack, 'cautious-agent');
    const path = '/cautious';
    const registered = await user.register(`${receiver.baseUrl}${path}`, [
      'order.awaiting_confirmation',
      'order.paid',
    ]);
    expect(registered.status).toBe(201);
    const secret = String(registered.body.secret);

    // Act
    const placed = await agent.place();
    const waiting = await receiver.waitFor(path, (got) =>
      got.some((one) => one.event.data.order?.orderId === placed.orderId),
    );
    expect(await user.confirm(placed.orderId)).toBe(202);
    await agent.waitForStatus(placed.orderId, 'PAID', 15_000);
    const all = await receiver.waitFor(path, (got) =>
      got.some((one) => one.event.type === 'order.paid'),
    );

    // Assess
    expect(waiting[0]?.event).toMatchObject({
      type: 'order.awaiting_confirmation',
      sequence: 1,
      data: { reason: 'ACTION_NOT_TRUSTED', order: { status: 'AWAITING_CONFIRMATION' } },
    });
    expect(typeof waiting[0]?.event.data.confirmBy).toBe('string');
    const signed = receiver.verified(path, secret).map((one) => one.event.type);
    expect(signed).toEqual(['order.awaiting_confirmation', 'order.paid']);
    expect(receiver.verified(path, 'whsec_some_other_secret')).toEqual([]);
    const paid = all.find((one) => one.event.type === 'order.paid');
    expect(paid?.event.sequence).toBeGreaterThan(1);
    expect(paid?.event.id).toMatch(/^evt_[0-9a-f]{32}$/);
  });

  it('sends an event again, with the same id, after the endpoint answered 500', async () => {
    // Prepare
    const user = await UserApp.of('demo-user');
    const agent = await AgentClient.for(stack, 'demo-agent');
    const path = '/flaky';
    receiver.answer(path, [500]);
    const registered = await user.register(`${receiver.baseUrl}${path}`, ['order.paid']);

    // Act
    const placed = await agent.place();
    const got = await receiver.waitFor(path, (received) => received.length >= 2);

    // Assess
    expect(got.map((one) => one.answeredStatus)).toEqual([500, 200]);
    expect(new Set(got.map((one) => one.event.id)).size).toBe(1);
    expect(got[0]?.event.data.order?.orderId).toBe(placed.orderId);
    expect(receiver.verified(path, String(registered.body.secret))).toHaveLength(2);
    expect(await user.remove(String(registered.body.id))).toBe(204);
  });

  it('pays the orders of a user whose endpoint hangs, without waiting for it', async () => {
    // Prepare: an endpoint that takes every connection and never answers.
    const user = await UserApp.of('demo-user');
    const agent = await AgentClient.for(stack, 'demo-agent');
    const path = '/hangs';
    receiver.answer(
      path,
      Array.from({ length: 50 }, () => neverAnswer),
    );
    const hanging = await user.register(`${receiver.baseUrl}${path}`, [
      'order.paid',
      'order.failed',
    ]);

    // Act
    const started = Date.now();
    const first = await agent.place();
    await agent.waitForStatus(first.orderId, 'PAID', 10_000);
    await receiver.waitFor(path, (got) => got.length >= 1);
    const second = await agent.place();
    await agent.waitForStatus(second.orderId, 'PAID', 10_000);
    const took = Date.now() - started;

    // Assess: the second order is paid while the first one's event still hangs on the endpoint.
    expect(took).toBeLessThan(8_000);
    expect(receiver.received.filter((one) => one.path === path).length).toBeGreaterThanOrEqual(1);
    expect(await user.remove(String(hanging.body.id))).toBe(204);
  });

  it("tells the owner once when an agent's suspended flag goes from false to true", async () => {
    // Prepare: the agent item as the suspend route leaves it; this stack has no such route.
    const agents = new DynamoDbAgentDirectory(stack.dynamodb, stack.tableName);
    await agents.put({
      agentId: 'suspended-agent',
      ownerId: 'suspended-agent-owner',
      suspended: false,
      trustedActions: ['order_coffee'],
      limitCurrency: 'CNY',
      perOrderLimit: 5000,
      dailyLimit: 20000,
    });
    const user = await UserApp.of('suspended-agent-owner');
    const path = '/suspended';
    const registered = await user.register(`${receiver.baseUrl}${path}`, ['agent.suspended']);
    const setSuspended = (suspended: boolean) =>
      stack.dynamodb.send(
        new UpdateCommand({
          TableName: stack.tableName,
          Key: { pk: 'AGENT#suspended-agent' },
          UpdateExpression: 'SET suspended = :suspended',
          ExpressionAttributeValues: { ':suspended': suspended },
        }),
      );

    // Act
    await setSuspended(false);
    await setSuspended(true);
    await setSuspended(true);
    const got = await receiver.waitFor(path, (received) => received.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    // Assess
    expect(receiver.received.filter((one) => one.path === path)).toHaveLength(1);
    expect(got[0]?.event).toMatchObject({
      type: 'agent.suspended',
      data: { agent: { agentId: 'suspended-agent', suspended: true } },
    });
    expect(receiver.verified(path, String(registered.body.secret))).toHaveLength(1);
  });

  it('registers, replays, lists without secrets and deletes endpoints', async () => {
    // Prepare
    const user = await UserApp.of('other-user-app');
    const key = randomUUID();

    // Act
    const first = await user.register('https://example.com/hook', ['order.failed'], key);
    const again = await user.register('https://example.com/hook', ['order.failed'], key);
    const reused = await user.register('https://example.com/other', ['order.failed'], key);
    const listed = await user.list();

    // Assess
    expect(first.status).toBe(201);
    expect(again).toMatchObject({ status: 200, body: { id: first.body.id } });
    expect(again.body.secret).toBe(first.body.secret);
    expect(reused.status).toBe(422);
    expect(listed.data).toEqual([
      {
        id: first.body.id,
        url: 'https://example.com/hook',
        events: ['order.failed'],
        createdAt: first.body.createdAt,
      },
    ]);
    expect(JSON.stringify(listed)).not.toContain(String(first.body.secret));
    expect(await user.remove(String(first.body.id))).toBe(204);
    expect(await user.remove(String(first.body.id))).toBe(404);
    expect((await user.list()).data).toEqual([]);
  });

  it('refuses bad endpoints with stable codes, and more than the cap', async () => {
    // Prepare
    const user = await UserApp.of('capped-user-app');

    // Act
    const plainHttp = await user.register('http://example.com/hook', ['order.paid']);
    const unknownEvent = await user.register('https://example.com/hook', ['order.shipped']);
    const noEvents = await user.register('https://example.com/hook', []);
    const created = [];
    for (let i = 0; i < 5; i += 1) {
      created.push(await user.register(`https://example.com/hook/${i}`, ['order.paid']));
    }

    // Assess
    expect(plainHttp.body.error?.code).toBe('INVALID_WEBHOOK_URL');
    expect(unknownEvent.body.error?.code).toBe('INVALID_WEBHOOK_EVENTS');
    expect(noEvents.body.error?.code).toBe('INVALID_WEBHOOK_EVENTS');
    expect(created.map((answer) => answer.status)).toEqual([201, 201, 201, 201, 409]);
    expect(created[4]?.body.error?.code).toBe('WEBHOOK_ENDPOINT_LIMIT_REACHED');
  });

  it('lets no agent token manage endpoints', async () => {
    // Act
    const response = await apiFetch(`${stack.apiUrl}/v1/webhook-endpoints`, {
      headers: { authorization: `Bearer ${await signAgentToken('demo-agent')}` },
    });

    // Assess
    expect(response.status).toBe(403);
  });
});
