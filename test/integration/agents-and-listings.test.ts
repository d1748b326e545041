import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAgentStore } from '#adapters/dynamodb-agent-store.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { AGENT_HISTORY_LIMIT, type ManagedAgent } from '#domain/manage-agents.ts';
import { type Order, openOrder } from '#domain/order.ts';
import { type Emulator, startDynamoDbLocal } from '../../local/runtime/emulators.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { CallCounter } from '../support/calls.ts';
import { createTestTable } from '../support/table.ts';

const tableName = 'agents-integration';
let emulator: Emulator;
let client: DynamoDBDocumentClient;
let agents: DynamoDbAgentStore;
let orders: DynamoDbOrderRepository;
const counter = new CallCounter();

beforeAll(async () => {
  emulator = await startDynamoDbLocal();
  client = await createTestTable(emulator.endpoint, tableName);
  counter.attach(client, 'DynamoDB');
  agents = new DynamoDbAgentStore(client, tableName);
  orders = new DynamoDbOrderRepository(client, tableName);
}, 60_000);

afterAll(async () => {
  await emulator?.stop();
});

function managed(agentId: string, ownerId: string, createdAt: string): ManagedAgent {
  return {
    agentId,
    ownerId,
    suspended: false,
    name: agentId,
    trustedActions: ['order_coffee'],
    perOrderLimit: 5000,
    dailyLimit: 20000,
    limitCurrency: 'CNY',
    createdAt,
    updatedAt: createdAt,
    version: 1,
    history: [{ at: createdAt, by: ownerId, action: 'CREATE', changes: {} }],
  };
}

let sequence = 0;
function order(agentId: string, ownerId: string, minute: number): Order {
  sequence++;
  return openOrder({
    ...latteOrder,
    items: [...latteOrder.items],
    orderId: `ord_${String(sequence).padStart(32, 'a')}`,
    agentId,
    ownerId,
    idempotencyKey: `k-${sequence}`,
    requestHash: 'h',
    status: 'AWAITING_CONFIRMATION',
    attempts: 0,
    createdAt: `2026-11-23T09:${String(minute).padStart(2, '0')}:00.000Z`,
  });
}

describe('the agents store (DynamoDB Local)', () => {
  it('creates an agent once per creation id, and a replay finds the first', async () => {
    // Prepare
    const first = managed('agt_one', 'user-a', '2026-11-23T09:00:00.000Z');

    // Act
    const created = await agents.create(first, { requestId: 'req-1', requestHash: 'h1' });
    const again = await agents.create(managed('agt_two', 'user-a', first.createdAt), {
      requestId: 'req-1',
      requestHash: 'h1',
    });

    // Assess
    expect(created).toEqual({ kind: 'created' });
    expect(again).toEqual({ kind: 'exists', existing: { agentId: 'agt_one', requestHash: 'h1' } });
    await expect(agents.getManaged('agt_two')).resolves.toBeUndefined();
    await expect(agents.findCreation('req-1')).resolves.toEqual({
      agentId: 'agt_one',
      requestHash: 'h1',
    });
    await expect(agents.get('agt_one')).resolves.toEqual({
      agentId: 'agt_one',
      ownerId: 'user-a',
      suspended: false,
      trustedActions: ['order_coffee'],
      perOrderLimit: 5000,
      dailyLimit: 20000,
      limitCurrency: 'CNY',
    });
  });

  it('applies a change only to the version it read, with its history entry, in one write', async () => {
    // Prepare
    await agents.create(managed('agt_change', 'user-a', '2026-11-23T09:01:00.000Z'), {
      requestId: 'req-2',
      requestHash: 'h',
    });
    const entry = { at: 'now', by: 'user-a', action: 'SUSPEND' as const, changes: {} };
    counter.reset();

    // Act
    const suspended = await agents.update('agt_change', 1, { suspended: true }, entry, 'now');
    const writes = counter.count('DynamoDB.UpdateItem');
    const stale = await agents.update('agt_change', 1, { suspended: false }, entry, 'later');

    // Assess
    expect(suspended).toMatchObject({ suspended: true, version: 2, updatedAt: 'now' });
    expect(suspended?.history.map((change) => change.action)).toEqual(['CREATE', 'SUSPEND']);
    expect(writes).toBe(1);
    expect(stale).toBeUndefined();
    expect((await agents.get('agt_change'))?.suspended).toBe(true);
  });

  it('keeps only the last changes of a long history', async () => {
    // Prepare
    await agents.create(managed('agt_long', 'user-a', '2026-11-23T09:02:00.000Z'), {
      requestId: 'req-3',
      requestHash: 'h',
    });

    // Act
    for (let version = 1; version <= AGENT_HISTORY_LIMIT + 2; version++) {
      const at = `t${version}`;
      await agents.update(
        'agt_long',
        version,
        { dailyLimit: version },
        { at, by: 'user-a', action: 'UPDATE', changes: { dailyLimit: version } },
        at,
      );
    }

    // Assess
    const history = (await agents.getManaged('agt_long'))?.history ?? [];
    expect(history).toHaveLength(AGENT_HISTORY_LIMIT);
    expect(history.at(-1)?.at).toBe(`t${AGENT_HISTORY_LIMIT + 2}`);
  });

  it("lists one user's agents newest first, by the owner index, with a cursor", async () => {
    // Prepare
    for (const [index, minute] of [10, 11, 12].entries()) {
      await agents.create(
        managed(`agt_list_${index}`, 'user-list', `2026-11-23T09:${minute}:00Z`),
        {
          requestId: `req-list-${index}`,
          requestHash: 'h',
        },
      );
    }
    await agents.create(managed('agt_other', 'user-other', '2026-11-23T09:13:00Z'), {
      requestId: 'req-other',
      requestHash: 'h',
    });
    counter.reset();

    // Act
    const first = await agents.listByOwner('user-list', 2);
    const second = await agents.listByOwner('user-list', 2, first.cursor);

    // Assess
    expect(first.items.map((agent) => agent.agentId)).toEqual(['agt_list_2', 'agt_list_1']);
    expect(second.items.map((agent) => agent.agentId)).toEqual(['agt_list_0']);
    expect(counter.count('DynamoDB.Scan')).toBe(0);
    await expect(agents.listByOwner('user-other', 2, first.cursor)).rejects.toMatchObject({
      code: 'INVALID_CURSOR',
    });
  });
});

describe('the order listings (DynamoDB Local)', () => {
  it("lists an agent's and an owner's orders newest first from one keys-only index", async () => {
    // Prepare
    const a1 = order('lister-a', 'owner-1', 1);
    const b1 = order('lister-b', 'owner-1', 2);
    const a2 = order('lister-a', 'owner-1', 3);
    const stranger = order('lister-c', 'owner-2', 4);
    for (const each of [a1, b1, a2, stranger]) await orders.create(each);
    await orders.transition({
      orderId: a2.orderId,
      from: 'AWAITING_CONFIRMATION',
      to: 'CANCELLED',
      event: 'CANCEL',
      at: '2026-11-23T09:05:00.000Z',
      call: 'a2c1',
    });
    counter.reset();

    // Act
    const byOwner = await orders.list({ by: 'owner', ownerId: 'owner-1', limit: 2 });
    const rest = await orders.list({
      by: 'owner',
      ownerId: 'owner-1',
      limit: 2,
      cursor: byOwner.cursor,
    });
    const byAgent = await orders.list({
      by: 'agent',
      agentId: 'lister-a',
      ownerId: 'owner-1',
      limit: 10,
    });
    const cancelled = await orders.list({
      by: 'agent',
      agentId: 'lister-a',
      ownerId: 'owner-1',
      limit: 10,
      status: 'CANCELLED',
    });

    // Assess
    const ids = (page: { orders: readonly Order[] }) => page.orders.map((each) => each.orderId);
    expect(ids(byOwner)).toEqual([a2.orderId, b1.orderId]);
    expect(ids(rest)).toEqual([a1.orderId]);
    expect(ids(byAgent)).toEqual([a2.orderId, a1.orderId]);
    // The orders as they are now, not as the index saw them.
    expect(byAgent.orders[0]?.status).toBe('CANCELLED');
    expect(byAgent.orders[0]).not.toHaveProperty('gsiOwner');
    expect(ids(cancelled)).toEqual([a2.orderId]);
    expect(counter.count('DynamoDB.Scan')).toBe(0);
    expect(counter.count('DynamoDB.Query')).toBe(4);
    expect(counter.count('DynamoDB.BatchGetItem')).toBe(4);
  });

  it("fills an agent's page past its siblings' orders, one page after another", async () => {
    // Prepare: newest first, the owner's partition holds c2, d1, c1.
    const c1 = order('pager-c', 'owner-3', 1);
    const d1 = order('pager-d', 'owner-3', 2);
    const c2 = order('pager-c', 'owner-3', 3);
    for (const each of [c1, d1, c2]) await orders.create(each);
    const listing = { by: 'agent', agentId: 'pager-c', ownerId: 'owner-3', limit: 1 } as const;

    // Act
    const first = await orders.list(listing);
    const second = await orders.list({ ...listing, cursor: first.cursor });

    // Assess
    expect(first.orders.map((each) => each.orderId)).toEqual([c2.orderId]);
    expect(second.orders.map((each) => each.orderId)).toEqual([c1.orderId]);
  });
});
