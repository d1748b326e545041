import { beforeEach, describe, expect, it } from 'vitest';
import { makeGetOrder } from '#domain/get-order.ts';
import { makePlaceOrder, orderIdFor, type PlaceOrderDeps } from '#domain/place-order.ts';
import { agentPrincipal, userPrincipal } from '#domain/principal.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
} from '../fakes/in-memory.ts';
import { cautiousAgent, demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';

describe('placing an order', () => {
  let orders: InMemoryOrders;
  let payments: RecordingPaymentQueue;
  let clock: FixedClock;
  let placeOrder: ReturnType<typeof makePlaceOrder>;

  beforeEach(() => {
    orders = new InMemoryOrders();
    payments = new RecordingPaymentQueue();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    const deps: PlaceOrderDeps = {
      orders,
      payments,
      clock,
      agents: new InMemoryAgents([
        demoAgent,
        cautiousAgent,
        { ...demoAgent, agentId: 'usd-agent', limitCurrency: 'USD' },
      ]),
      policy: intakePolicy,
    };
    placeOrder = makePlaceOrder(deps);
  });

  const place = (agentId: string, key: string, body: unknown = latteOrder) =>
    placeOrder({ agentId, idempotencyKey: key, body });

  it('stores a trusted order within limits as PENDING_PAYMENT and queues it once', async () => {
    // Act
    const { order, replayed } = await place('demo-agent', 'key-1');

    // Assess
    expect(replayed).toBe(false);
    expect(order).toMatchObject({
      orderId: orderIdFor('demo-agent', 'key-1'),
      status: 'PENDING_PAYMENT',
      amount: 450,
      currency: 'CNY',
      attempts: 0,
      version: 1,
      // The agent-day it took budget from, and a day to pay it in.
      spendDay: '2026-11-23',
      payBy: '2026-11-24T09:30:00.000Z',
    });
    // Not in the due index: it joins only if its payment struggles.
    expect(order.dueAt).toBeUndefined();
    expect(order.history).toEqual([
      { from: null, to: 'PENDING_PAYMENT', at: '2026-11-23T09:30:00.000Z', cause: 'INTAKE' },
    ]);
    expect(payments.sent).toEqual([
      { orderId: order.orderId, agentId: 'demo-agent', placedAt: '2026-11-23T09:30:00.000Z' },
    ]);
    expect(orders.writes).toBe(2);
  });

  it('answers a replay with the stored order and writes nothing', async () => {
    // Prepare
    const first = await place('demo-agent', 'key-1');
    const writesBefore = orders.writes;

    // Act
    const second = await place('demo-agent', 'key-1');

    // Assess
    expect(second.replayed).toBe(true);
    expect(second.order).toEqual(first.order);
    expect(orders.writes).toBe(writesBefore);
    expect(orders.orders.size).toBe(1);
  });

  it('refuses the same key with another body and changes nothing', async () => {
    // Prepare
    const first = await place('demo-agent', 'key-1');

    // Act
    const attempt = place('demo-agent', 'key-1', { ...latteOrder, amount: 451 });

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
    expect(await orders.get(first.order.orderId)).toEqual(first.order);
    expect(payments.sent).toHaveLength(1);
  });

  it('keys orders by agent: two agents may use the same key', async () => {
    // Act
    const a = await place('demo-agent', 'shared-key');
    const b = await place('cautious-agent', 'shared-key');

    // Assess
    expect(a.order.orderId).not.toBe(b.order.orderId);
  });

  it('holds an order of an agent not trusted to pay until its user confirms', async () => {
    // Act
    const { order } = await place('cautious-agent', 'key-1');

    // Assess
    expect(order).toMatchObject({
      status: 'AWAITING_CONFIRMATION',
      confirmationReason: 'ACTION_NOT_TRUSTED',
      confirmBy: '2026-11-23T09:35:00.000Z',
    });
    // It takes no auto-pay budget, and its payment window opens only once it is confirmed.
    expect(order.spendDay).toBeUndefined();
    expect(order.payBy).toBeUndefined();
    expect(payments.sent).toEqual([]);
    // The order and its agent-day item (token bucket, intent), in one transaction.
    expect(orders.writes).toBe(2);
  });

  it('refuses the order of an agent no user registered, and stores nothing', async () => {
    await expect(place('nobody', 'key-1')).rejects.toMatchObject({
      code: 'AGENT_NOT_REGISTERED',
      status: 403,
    });
    expect(orders.writes).toBe(0);
  });

  it("puts the agent's owner on the order, for the owner's index and checks", async () => {
    const { order } = await place('demo-agent', 'key-1');
    expect(order.ownerId).toBe('demo-user');
  });

  it('holds an order for an action the agent is not trusted with', async () => {
    const { order } = await place('demo-agent', 'key-1', { ...latteOrder, action: 'book_flight' });
    expect(order).toMatchObject({
      status: 'AWAITING_CONFIRMATION',
      confirmationReason: 'ACTION_NOT_TRUSTED',
    });
  });

  it('holds an order over the per-order limit', async () => {
    const { order } = await place('demo-agent', 'key-1', { ...latteOrder, amount: 5001 });
    expect(order.confirmationReason).toBe('OVER_ORDER_LIMIT');
    expect(payments.sent).toEqual([]);
  });

  it('holds an order in a currency the limits are not set in', async () => {
    const { order } = await place('usd-agent', 'key-1');
    expect(order.confirmationReason).toBe('LIMIT_CURRENCY_MISMATCH');
  });

  it('enforces the daily limit over the running total, without counting the refused order', async () => {
    // Prepare: four orders of 50.00 use the whole 200.00 day.
    for (const key of ['d1', 'd2', 'd3', 'd4']) {
      const { order } = await place('demo-agent', key, {
        ...latteOrder,
        sessionId: key,
        amount: 5000,
      });
      expect(order.status).toBe('PENDING_PAYMENT');
    }

    // Act
    const { order } = await place('demo-agent', 'd5', { ...latteOrder, amount: 1 });

    // Assess
    expect(order).toMatchObject({
      status: 'AWAITING_CONFIRMATION',
      confirmationReason: 'OVER_DAILY_LIMIT',
    });
    expect(orders.spent.get('demo-agent#2026-11-23')).toBe(20000);
    expect(payments.sent).toHaveLength(4);
  });

  it('starts a new daily budget on the next UTC day', async () => {
    // Prepare
    for (const key of ['d1', 'd2', 'd3', 'd4']) {
      await place('demo-agent', key, { ...latteOrder, sessionId: key, amount: 5000 });
    }
    clock.advance(24 * 3600);

    // Act
    const { order } = await place('demo-agent', 'd5');

    // Assess
    expect(order.status).toBe('PENDING_PAYMENT');
  });

  it('stores nothing when the payment cannot be queued, and pays once on the retry', async () => {
    // Prepare
    payments.failNext = 1;

    // Act
    const first = place('demo-agent', 'key-1');
    await expect(first).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
    const storedAfterFailure = orders.orders.size;
    const retry = await place('demo-agent', 'key-1');

    // Assess: the retry is no duplicate of itself, and the day's spend counts the order once.
    expect(storedAfterFailure).toBe(0);
    expect(retry.replayed).toBe(false);
    expect(retry.order.status).toBe('PENDING_PAYMENT');
    expect(payments.sent.map((sent) => sent.orderId)).toEqual([retry.order.orderId]);
    expect(orders.orders.size).toBe(1);
    expect([...orders.spent.values()]).toEqual([450]);
  });

  it('gives the claim back when a racing request with the same key stored the order first', async () => {
    // Prepare: the racing request stores the order between this one's claim and its put.
    const create = orders.create.bind(orders);
    let raced = false;
    orders.create = async (order) => {
      if (!raced) {
        raced = true;
        await create({ ...order, createdAt: '2026-11-23T09:29:59.990Z' });
      }
      return create(order);
    };

    // Act
    const { order, replayed } = await place('demo-agent', 'key-1');

    // Assess: answered as a replay; the spend counts it once (the racer's claim is not modelled).
    expect(replayed).toBe(true);
    expect(order.status).toBe('PENDING_PAYMENT');
    expect([...orders.spent.values()]).toEqual([0]);
  });

  it('stores nothing once its payment may have stopped waiting for it, and gives the claim back', async () => {
    // Prepare: the claim takes longer than the 20 s an order has to be stored.
    const claim = orders.claim.bind(orders);
    orders.claim = async (guard, spend) => {
      clock.advance(21);
      return claim(guard, spend);
    };

    // Act
    const attempt = place('demo-agent', 'key-1');

    // Assess
    await expect(attempt).rejects.toMatchObject({ status: 503 });
    expect(orders.orders.size).toBe(0);
    expect([...orders.spent.values()]).toEqual([0]);
  });

  it('keeps the claim when its put landed but the answer was lost, and answers the order', async () => {
    // Prepare
    const create = orders.create.bind(orders);
    orders.create = async (order) => {
      await create(order);
      throw new Error('socket hang up');
    };

    // Act
    const { order, replayed } = await place('demo-agent', 'key-1');

    // Assess
    expect(replayed).toBe(false);
    expect(order.status).toBe('PENDING_PAYMENT');
    expect([...orders.spent.values()]).toEqual([450]);
  });

  it('gives the claim back when its put failed and nothing was stored', async () => {
    // Prepare
    orders.create = async () => {
      throw new Error('throttled');
    };

    // Act
    const attempt = place('demo-agent', 'key-1');

    // Assess
    await expect(attempt).rejects.toThrow('throttled');
    expect([...orders.spent.values()]).toEqual([0]);
  });

  it('keeps the claim when it cannot tell whether its put landed', async () => {
    // Prepare: the put fails, and so does the read that would tell.
    orders.create = async () => {
      throw new Error('throttled');
    };
    const get = orders.get.bind(orders);
    let reads = 0;
    orders.get = async (orderId) => {
      reads++;
      if (reads > 1) throw new Error('throttled');
      return get(orderId);
    };

    // Act
    const attempt = place('demo-agent', 'key-1');

    // Assess: the day counts the order (one too many, never one too few).
    await expect(attempt).rejects.toThrow('throttled');
    expect([...orders.spent.values()]).toEqual([450]);
  });

  it('does not queue a replay of an order waiting for confirmation', async () => {
    await place('cautious-agent', 'key-1');
    await place('cautious-agent', 'key-1');
    expect(payments.sent).toEqual([]);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too long', 'k'.repeat(256)],
    ['with a space', 'my key'],
    ['with a non-ASCII character', 'clé'],
  ])('refuses an Idempotency-Key that is %s', async (_, key) => {
    const attempt = placeOrder({ agentId: 'demo-agent', idempotencyKey: key, body: latteOrder });
    await expect(attempt).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REQUIRED', status: 400 });
    expect(orders.writes).toBe(0);
  });

  it('accepts a 255-character Idempotency-Key', async () => {
    const { order } = await place('demo-agent', 'k'.repeat(255));
    expect(order.status).toBe('PENDING_PAYMENT');
  });
});

describe('reading an order', () => {
  it("answers another agent's or another user's order as not found", async () => {
    // Prepare
    const orders = new InMemoryOrders();
    const placeOrder = makePlaceOrder({
      orders,
      payments: new RecordingPaymentQueue(),
      clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
      agents: new InMemoryAgents([demoAgent]),
      policy: intakePolicy,
    });
    const { order } = await placeOrder({
      agentId: 'demo-agent',
      idempotencyKey: 'k',
      body: latteOrder,
    });
    const getOrder = makeGetOrder({ orders, agents: new InMemoryAgents([demoAgent]) });

    // Act & Assess
    await expect(getOrder(agentPrincipal('demo-agent'), order.orderId)).resolves.toEqual(order);
    await expect(getOrder(userPrincipal('demo-user'), order.orderId)).resolves.toEqual(order);
    for (const stranger of [agentPrincipal('other-agent'), userPrincipal('other-user')]) {
      await expect(getOrder(stranger, order.orderId)).rejects.toMatchObject({
        code: 'ORDER_NOT_FOUND',
        status: 404,
      });
    }
    await expect(getOrder(agentPrincipal('demo-agent'), 'ord_unknown')).rejects.toMatchObject({
      code: 'ORDER_NOT_FOUND',
    });
  });
});
