import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { spendKey } from '#adapters/table-keys.ts';
import type { DailySpend } from '#domain/agent.ts';
import {
  applyClaim,
  claimFor,
  defaultGuardPolicy,
  emptyGuardState,
  type GuardState,
  ownRecordOf,
} from '#domain/agent-guards.ts';
import { type Order, openOrder } from '#domain/order.ts';
import { defaultDeadlinePolicy } from '#domain/order-moves.ts';
import { defaultSettlementSchedule, lookupsAfterVoid, makeReconcile } from '#domain/settlement.ts';
import { defaultDeadLetterWalk, defaultRefundKeyWindow, makeSweep } from '#domain/sweep.ts';
import { type Emulator, startDynamoDbLocal } from '../../local/runtime/emulators.ts';
import { AwsMeter } from '../../local/tools/bench/aws-meter.ts';
import type { MiddlewareStack } from '../../local/tools/chaos/sdk-middleware.ts';
import {
  FakeDeadLetterQueue,
  FixedClock,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
  seedOrder,
  silentSweepObserver,
} from '../fakes/in-memory.ts';
import { FakeGateway } from '../fakes/payments.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';
import { CallCounter } from '../support/calls.ts';
import { createTestTable } from '../support/table.ts';

const tableName = 'orders-integration';

type BatchAnswer = {
  Responses?: Record<string, Record<string, unknown>[]>;
  UnprocessedKeys?: Record<string, { Keys: Record<string, unknown>[] }>;
};
let emulator: Emulator;
let client: DynamoDBDocumentClient;
let repository: DynamoDbOrderRepository;
const counter = new CallCounter();
let sequence = 0;

function newOrder(overrides: Partial<Order> = {}): Order {
  sequence++;
  return {
    ...openOrder({
      ...latteOrder,
      orderId: `ord_${String(sequence).padStart(32, '0')}`,
      agentId: 'demo-agent',
      idempotencyKey: `key-${sequence}`,
      requestHash: 'hash',
      status: 'PENDING_PAYMENT',
      attempts: 0,
      createdAt: '2026-11-23T09:30:00.000Z',
      items: [...latteOrder.items],
    }),
    ...overrides,
  };
}

function spend(amount: number, agentId = `agent-${sequence}`): DailySpend {
  return { agentId, day: '2026-11-23', amount, dailyLimit: 1000 };
}

/** A claim on the agent-day item of 2026-11-23 as intake would build it on `state`. */
function guardOf(state: GuardState, agentId: string) {
  return claimFor(
    state,
    {
      agentId,
      now: Date.parse('2026-11-23T09:30:00Z'),
      rate: { perSecond: 1000, burst: 1000 },
      hash: `intent-${++sequence}`,
      firstOrderId: `ord_${sequence}`,
      checkDuplicate: false,
    },
    defaultGuardPolicy,
  );
}

/** Claims `amount` of the agent's day as intake does: a wrong guess is retried on what it saw. */
async function claimSpend(agentId: string, amount: number): Promise<'claimed' | 'refused'> {
  let state: GuardState = emptyGuardState;
  for (let attempt = 0; attempt < 30; attempt++) {
    const outcome = await repository.claim(guardOf(state, agentId), spend(amount, agentId));
    if (outcome.kind === 'claimed') return 'claimed';
    if (outcome.kind === 'day-full') return 'refused';
    state = outcome.observed;
    if ((state.spent ?? 0) + amount > 1000) return 'refused';
  }
  throw new Error('the claim never settled');
}

async function dayItem(agentId: string) {
  const read = await client.send(
    new GetCommand({ TableName: tableName, Key: spendKey(agentId, '2026-11-23') }),
  );
  return read.Item;
}

const spentBy = async (agentId: string) => (await dayItem(agentId))?.spent;

beforeAll(async () => {
  emulator = await startDynamoDbLocal();
  client = await createTestTable(emulator.endpoint, tableName);
  counter.attach(client, 'DynamoDB');
  repository = new DynamoDbOrderRepository(client, tableName);
});

afterAll(async () => {
  await emulator?.stop();
});

describe('DynamoDB order repository (DynamoDB Local)', () => {
  it('creates an order with one PutItem and reads it back unchanged', async () => {
    // Prepare
    const order = newOrder({ status: 'AWAITING_CONFIRMATION', confirmBy: '2026-11-23T09:35:00Z' });
    counter.reset();

    // Act
    const outcome = await repository.create(order);

    // Assess
    expect(outcome).toEqual({ kind: 'created' });
    expect(counter.calls).toEqual(['DynamoDB.PutItem']);
    expect(await repository.get(order.orderId)).toEqual(order);
  });

  it('reads many orders in batches of a hundred, each once, and leaves out the ids it does not hold', async () => {
    // Prepare: 101 orders, asked for with one of them twice and an id nobody stored.
    const orders = Array.from({ length: 101 }, () => newOrder());
    for (const order of orders) await repository.create(order);
    const ids = orders.map((order) => order.orderId);
    counter.reset();

    // Act
    const found = await repository.getMany([...ids, ids[0] ?? '', 'ord_unknown']);

    // Assess
    expect(counter.calls).toEqual(['DynamoDB.BatchGetItem', 'DynamoDB.BatchGetItem']);
    expect([...found.keys()].sort()).toEqual([...ids].sort());
    expect(found.get(ids[100] ?? '')).toEqual(orders[100]);
  });

  it('reads again, after a pause, the keys a BatchGetItem left unprocessed', async () => {
    // Prepare: three orders; the first batch read answers one and leaves two unprocessed, as
    // DynamoDB does when it throttles (DynamoDB Local never does: the answer is rewritten by a
    // middleware on the real client).
    const orders = [newOrder(), newOrder(), newOrder()];
    for (const order of orders) await repository.create(order);
    const stack = client.middlewareStack as unknown as MiddlewareStack;
    let throttled = false;
    stack.add(
      (next, context) => async (args) => {
        const answer = (await next(args)) as { output: BatchAnswer };
        if (context.commandName !== 'BatchGetItemCommand' || throttled) return answer;
        throttled = true;
        const [kept, ...left] = answer.output.Responses?.[tableName] ?? [];
        answer.output.Responses = { [tableName]: kept ? [kept] : [] };
        answer.output.UnprocessedKeys = { [tableName]: { Keys: left.map(({ pk }) => ({ pk })) } };
        return answer;
      },
      { step: 'initialize', name: 'throttleBatchGet' },
    );
    counter.reset();

    // Act
    const found = await repository
      .getMany(orders.map((order) => order.orderId))
      .finally(() => stack.remove('throttleBatchGet'));

    // Assess
    expect(counter.calls).toEqual(['DynamoDB.BatchGetItem', 'DynamoDB.BatchGetItem']);
    expect([...found.values()].sort((a, b) => a.orderId.localeCompare(b.orderId))).toEqual(orders);
  });

  it('returns the stored order, untouched, when the id exists already', async () => {
    // Prepare
    const order = newOrder();
    await repository.create(order);

    // Act
    const outcome = await repository.create({ ...order, requestHash: 'another' });

    // Assess
    expect(outcome).toEqual({ kind: 'exists', existing: order, resent: false });
    expect(await repository.get(order.orderId)).toEqual(order);
  });

  it('claims the daily spend with one UpdateItem, apart from the order', async () => {
    // Prepare
    const order = newOrder();
    const agentId = `claim-agent-${sequence}`;
    counter.reset();

    // Act
    const claimed = await claimSpend(agentId, 450);
    const outcome = await repository.create(order);

    // Assess
    expect(claimed).toBe('claimed');
    expect(outcome).toEqual({ kind: 'created' });
    expect(counter.calls).toEqual(['DynamoDB.UpdateItem', 'DynamoDB.PutItem']);
    const stored = await client.send(
      new GetCommand({ TableName: tableName, Key: spendKey(agentId, '2026-11-23') }),
    );
    expect(stored.Item?.spent).toBe(450);
    expect(stored.Item?.expiresAt).toBeGreaterThan(Date.parse('2026-11-24T00:00:00Z') / 1000);
  });

  it('refuses a claim that would pass the daily limit and leaves the spend as it was', async () => {
    // Prepare
    const agentId = 'daily-limit-agent';
    await claimSpend(agentId, 900);

    // Act
    const outcome = await claimSpend(agentId, 101);

    // Assess
    expect(outcome).toBe('refused');
    expect(await spentBy(agentId)).toBe(900);
  });

  it('fills the daily limit exactly', async () => {
    const agentId = 'exact-limit-agent';
    await claimSpend(agentId, 600);
    await expect(claimSpend(agentId, 400)).resolves.toBe('claimed');
  });

  it('gives a claim back once: its spend, its interval of the bucket, its intent record', async () => {
    // Prepare
    const agentId = 'unclaim-agent';
    const guard = guardOf(emptyGuardState, agentId);
    await repository.claim(guard, spend(300, agentId));
    const before = await dayItem(agentId);

    // Act: twice, as an SDK retry of a give-back whose answer was lost would.
    await repository.unclaim(guard, spend(300, agentId));
    await repository.unclaim(guard, spend(300, agentId));

    // Assess
    const after = await dayItem(agentId);
    expect(before?.spent).toBe(300);
    expect(after?.spent).toBe(0);
    expect(after?.tat).toBe(Number(before?.tat) - 1);
    const own = guard.intent.elements.find((element) => element.includes('='));
    expect([...(after?.[`r${guard.intent.ring}`] ?? [])]).not.toContain(own);
  });

  it("gives back one placement's record only, where two placements with one key claimed", async () => {
    // Prepare: two placements of one order (the same key sent twice at once), a second apart.
    const agentId = 'same-key-agent';
    const at = Date.parse('2026-11-23T09:30:00Z');
    const placementAt = (now: number, state: GuardState) =>
      claimFor(
        state,
        {
          agentId,
          now,
          rate: { perSecond: 1000, burst: 1000 },
          hash: 'intent-same-key',
          firstOrderId: `ord_${'c'.repeat(32)}`,
          checkDuplicate: false,
        },
        defaultGuardPolicy,
      );
    const first = placementAt(at, emptyGuardState);
    const second = placementAt(at + 1000, applyClaim(emptyGuardState, first));
    await expect(repository.claim(first, spend(300, agentId))).resolves.toEqual({
      kind: 'claimed',
    });
    await expect(repository.claim(second, spend(300, agentId))).resolves.toEqual({
      kind: 'claimed',
    });

    // Act: the placement that lost the put gives its claim back.
    await repository.unclaim(first, spend(300, agentId));

    // Assess: the other placement's record of the intent stays.
    const after = await dayItem(agentId);
    const slot = [...(after?.[`r${first.intent.ring}`] ?? [])];
    expect(after?.spent).toBe(300);
    expect(slot).not.toContain(ownRecordOf(first));
    expect(slot).toContain(ownRecordOf(second));
  });

  it('refuses a claim that would make the agent-day item pass 400 KB, instead of failing', async () => {
    // Prepare: a day item a few bytes short of DynamoDB's limit.
    const agentId = 'full-day-agent';
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...spendKey(agentId, '2026-11-23'), filler: 'x'.repeat(400 * 1024 - 64) },
      }),
    );

    // Act
    const outcome = await repository.claim(guardOf(emptyGuardState, agentId), spend(1, agentId));

    // Assess
    expect(outcome).toEqual({ kind: 'day-full' });
  });

  it('answers a replayed create with the existing order and writes nothing', async () => {
    // Prepare
    const order = newOrder();
    await repository.create(order);

    // Act
    const outcome = await repository.create({ ...order, createdAt: 'later' });

    // Assess
    expect(outcome).toEqual({ kind: 'exists', existing: order, resent: false });
  });

  it('lets exactly one of many concurrent creates of one order through', async () => {
    // Prepare
    const order = newOrder();

    // Act
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => repository.create(order)));

    // Assess
    expect(outcomes.filter((outcome) => outcome.kind === 'created')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.kind === 'exists')).toHaveLength(7);
  });

  it('never lets concurrent claims of one agent overspend its day', async () => {
    // Prepare: ten claims of 150 against a limit of 1000: at most six fit.
    const agentId = 'concurrent-spend-agent';

    // Act
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => claimSpend(agentId, 150)));

    // Assess
    const claimed = outcomes.filter((outcome) => outcome === 'claimed').length;
    expect(claimed).toBe(6);
    expect(await spentBy(agentId)).toBe(claimed * 150);
  });
});

describe('giving an auto-pay budget back (DynamoDB Local)', () => {
  /** An auto-paid order of 450 that took its budget, and the move that fails it. */
  async function failing(agentId: string) {
    const order = newOrder({ agentId, spendDay: '2026-11-23' });
    await claimSpend(agentId, 450);
    await repository.create(order);
    return {
      order,
      move: {
        orderId: order.orderId,
        from: 'PENDING_PAYMENT',
        to: 'FAILED',
        event: 'GATEWAY_DECLINED',
        at: '2026-11-23T09:31:00.000Z',
        call: 'fail',
        changes: { spendReleased: true, lastError: 'GATEWAY_DECLINED' },
        expectedVersion: order.version,
        release: { agentId, day: '2026-11-23', amount: 450 },
      } as const,
    };
  }

  it('moves the order and lowers the day’s spend in one transaction', async () => {
    // Prepare
    const agentId = 'release-agent';
    const { order, move } = await failing(agentId);
    counter.reset();

    // Act
    const outcome = await repository.transition(move);

    // Assess: the transaction answers no item, so the order is read back.
    expect(counter.calls).toEqual(['DynamoDB.TransactWriteItems', 'DynamoDB.GetItem']);
    expect(outcome.kind === 'applied' && outcome.order).toMatchObject({
      status: 'FAILED',
      version: order.version + 1,
      spendReleased: true,
      lastError: 'GATEWAY_DECLINED',
    });
    expect(await spentBy(agentId)).toBe(0);
  });

  it('gives the budget back once, however the give-back is repeated or raced', async () => {
    // Prepare
    const agentId = 'release-race-agent';
    const { move } = await failing(agentId);

    // Act: four writers race the same move, then one repeats it without a version.
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () => repository.transition(move)),
    );
    const repeated = await repository.transition({
      ...move,
      from: 'FAILED',
      to: 'FAILED',
      expectedVersion: undefined,
    });

    // Assess
    expect(outcomes.filter((outcome) => outcome.kind === 'applied')).toHaveLength(1);
    expect(repeated).toMatchObject({ kind: 'stale', current: { status: 'FAILED' } });
    expect(await spentBy(agentId)).toBe(0);
  });

  it('writes neither the order nor the spend when the order moved since it was read', async () => {
    const agentId = 'release-stale-agent';
    const { order, move } = await failing(agentId);
    await repository.transition({
      ...move,
      to: 'PAID',
      event: 'GATEWAY_SUCCEEDED',
      changes: {},
      release: undefined,
    });

    const outcome = await repository.transition(move);

    expect(outcome).toMatchObject({ kind: 'stale', current: { status: 'PAID' } });
    expect(await spentBy(agentId)).toBe(450);
    expect((await repository.get(order.orderId))?.spendReleased).toBeUndefined();
  });
});

describe('DynamoDB agent directory (DynamoDB Local)', () => {
  it('stores and reads an agent, and answers undefined for an unknown one', async () => {
    const agents = new DynamoDbAgentDirectory(client, tableName);
    await agents.put(demoAgent);
    await expect(agents.get('demo-agent')).resolves.toEqual(demoAgent);
    await expect(agents.get('nobody')).resolves.toBeUndefined();
  });
});

describe('the sparse due index (DynamoDB Local)', () => {
  it('holds an order while it waits, drops it when it is done, and takes it back when annotated', async () => {
    // Prepare
    const order = newOrder({ dueAt: '2026-11-23T09:45:00.000Z' });
    await repository.create(order);
    const dueIds = async () =>
      (await repository.findDue('2026-11-23T10:00:00.000Z', 100)).map((due) => due.orderId);

    // Act & Assess: waiting, it is found once its deadline has passed.
    expect(await dueIds()).toContain(order.orderId);
    expect(
      (await repository.findDue('2026-11-23T09:40:00.000Z', 100)).map((o) => o.orderId),
    ).not.toContain(order.orderId);

    // A terminal move removes the deadline, and with it the index entry.
    await repository.transition({
      orderId: order.orderId,
      from: 'PENDING_PAYMENT',
      to: 'PAID',
      event: 'GATEWAY_SUCCEEDED',
      at: '2026-11-23T09:31:00.000Z',
      call: 'paid',
      changes: { dueAt: undefined },
    });
    expect(await dueIds()).not.toContain(order.orderId);
    const raw = await client.send(
      new GetCommand({ TableName: tableName, Key: { pk: `ORDER#${order.orderId}` } }),
    );
    expect(raw.Item?.dueShard).toBeUndefined();

    // An annotation that sets a deadline puts it back.
    await repository.annotate(order.orderId, 'PAID', { dueAt: '2026-11-23T09:50:00.000Z' });
    expect(await dueIds()).toContain(order.orderId);
  });

  it('annotates an order only while its deadline is the one read, when asked to', async () => {
    // Prepare: the order was read due at 09:45; a move since kept its status and removed it.
    const order = newOrder({ dueAt: '2026-11-23T09:45:00.000Z' });
    await repository.create(order);
    const read = '2026-11-23T09:45:00.000Z';

    // Act
    const unchanged = await repository.annotate(
      order.orderId,
      'PENDING_PAYMENT',
      { redrives: 1 },
      read,
    );
    await repository.annotate(order.orderId, 'PENDING_PAYMENT', { dueAt: undefined });
    const moved = await repository.annotate(
      order.orderId,
      'PENDING_PAYMENT',
      { redrives: 2, dueAt: '2026-11-23T10:00:00.000Z' },
      read,
    );

    // Assess
    expect([unchanged, moved]).toEqual([true, false]);
    const end = await repository.get(order.orderId);
    expect(end?.redrives).toBe(1);
    expect(end?.dueAt).toBeUndefined();
  });

  it('keeps a voided order in it for each lookup after the void, and lets it go after the last', async () => {
    // Prepare: a table of its own, metered; an order waiting for its settlement, its payment
    // pending at the gateway.
    const own = await createTestTable(emulator.endpoint, 'orders-void-lookups');
    const meter = new AwsMeter().attach(own, 'DynamoDB');
    const voidTable = new DynamoDbOrderRepository(own, 'orders-void-lookups');
    const clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    const moves = { orders: voidTable, clock, deadlines: defaultDeadlinePolicy };
    const settlementChecks = new RecordingSettlementChecks();
    const gateway = new FakeGateway();
    const orderId = `ord_${String(++sequence).padStart(32, '0')}`;
    gateway.nextStatus = 'pending';
    await gateway.charge({
      idempotencyKey: orderId,
      amount: 450,
      currency: 'CNY',
      paymentMethod: 'wallet',
    });
    await seedOrder(moves, 'AWAITING_SETTLEMENT', {
      orderId,
      gatewayRef: gateway.charges.get(orderId)?.paymentId,
      settleBy: '2026-11-23T09:51:00.000Z',
    });
    const reconcile = makeReconcile({
      ...moves,
      settlementChecks,
      schedule: defaultSettlementSchedule,
      observer: {
        lateSuccess() {},
        ignored() {},
        refundRejected() {},
        refundFailed() {},
        foreignRefund() {},
        paymentWindowExpired() {},
      },
      gateway,
      payments: new RecordingPaymentQueue(),
      backoff: { baseSeconds: 1, maxSeconds: 300 },
    });
    const sweep = makeSweep({
      ...moves,
      payments: new RecordingPaymentQueue(),
      settlementChecks,
      deadPayments: new FakeDeadLetterQueue(clock),
      deadLetters: { ...defaultDeadLetterWalk, batchSize: 10, maxBatchSize: 10 },
      runEverySeconds: 300,
      finalCheck: defaultSettlementSchedule.checks,
      voidLookups: lookupsAfterVoid(defaultSettlementSchedule),
      observer: silentSweepObserver,
      batchSize: 100,
      redriveLimit: 10,
      refundKeyWindow: defaultRefundKeyWindow,
    });
    const advanceTo = (seconds: number) =>
      clock.advance(
        (Date.parse('2026-11-23T09:30:00Z') + seconds * 1000 - clock.now().getTime()) / 1000,
      );
    const writeUnits = () => {
      const { wcu, indexWcu } = meter.snapshot();
      meter.reset();
      return { table: wcu - indexWcu, index: indexWcu };
    };

    // Act: the void at the last check; then the sweep at each lookup's time, and after the last.
    meter.reset();
    expect(await reconcile({ orderId, check: defaultSettlementSchedule.checks }, 1)).toEqual({
      kind: 'done',
      detail: 'voided',
    });
    const spent = [writeUnits()];
    const found: string[] = [];
    for (const seconds of [3600, 86_400, 7 * 86_400, 8 * 86_400]) {
      advanceTo(seconds);
      const due = await voidTable.findDue(clock.now().toISOString(), 10);
      found.push(...due.map((order) => `${order.status} ${order.voidedAt}`));
      meter.reset();
      await sweep();
      spent.push(writeUnits());
    }

    // Assess: found FAILED at each of the three lookups, then out of the index for good.
    expect(found).toEqual([1, 2, 3].map(() => 'FAILED 2026-11-23T09:30:00.000Z'));
    expect(settlementChecks.scheduled.filter((check) => check.delaySeconds === 0)).toHaveLength(3);
    const raw = await own.send(
      new GetCommand({ TableName: 'orders-void-lookups', Key: { pk: `ORDER#${orderId}` } }),
    );
    expect(raw.Item).toMatchObject({ status: 'FAILED', voidedAt: '2026-11-23T09:30:00.000Z' });
    expect(raw.Item?.dueAt).toBeUndefined();
    expect(raw.Item?.dueShard).toBeUndefined();
    // What it costs, as DynamoDB bills it (1 WRU per KB of the order; the due index entry's
    // removal and put when its key moves): the void's move rewrites the index entry instead of
    // removing it (2 index units, 1 more than a move out of the index), each later lookup but the
    // last moves it (2), the last removes it (1); the run after that writes nothing.
    expect(spent).toEqual([
      { table: 1, index: 2 },
      { table: 1, index: 2 },
      { table: 1, index: 2 },
      { table: 1, index: 1 },
      { table: 0, index: 0 },
    ]);
  });

  it('keeps orders waiting for their user in a lane of their own until a move takes them to the money lane', async () => {
    // Prepare: one order waiting for its user, one pending payment, both overdue at 10:00.
    const waiting = newOrder({
      status: 'AWAITING_CONFIRMATION',
      dueAt: '2026-11-23T09:35:00.000Z',
    });
    const paying = newOrder({ dueAt: '2026-11-23T09:45:00.000Z' });
    await repository.create(waiting);
    await repository.create(paying);
    const ours = new Set([waiting.orderId, paying.orderId]);
    const due = async (lane?: 'money' | 'waiting') =>
      (await repository.findDue('2026-11-23T10:00:00.000Z', 100, lane))
        .map((order) => order.orderId)
        .filter((orderId) => ours.has(orderId));

    // Act & Assess: each lane answers its own; no lane answers both, oldest first.
    expect(await due('waiting')).toEqual([waiting.orderId]);
    expect(await due('money')).toEqual([paying.orderId]);
    expect(await due()).toEqual([waiting.orderId, paying.orderId]);

    // Confirmed, the order moves to the money lane with its new deadline, in the same write.
    await repository.transition({
      orderId: waiting.orderId,
      from: 'AWAITING_CONFIRMATION',
      to: 'PENDING_PAYMENT',
      event: 'CONFIRM',
      at: '2026-11-23T09:32:00.000Z',
      call: 'conf',
      changes: { dueAt: '2026-11-23T09:47:00.000Z' },
    });
    expect(await due('waiting')).toEqual([]);
    expect(await due('money')).toEqual([paying.orderId, waiting.orderId]);
  });
});
