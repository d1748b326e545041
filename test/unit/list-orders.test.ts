import { beforeEach, describe, expect, it } from 'vitest';
import { makeListOrders } from '#domain/get-order.ts';
import { makePlaceOrder } from '#domain/place-order.ts';
import { agentPrincipal, userPrincipal } from '#domain/principal.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
} from '../fakes/in-memory.ts';
import {
  cautiousAgent,
  demoAgent,
  intakePolicy,
  latteOrder,
  otherAgent,
} from '../fixtures/orders.ts';

describe('listing orders', () => {
  let orders: InMemoryOrders;
  let list: ReturnType<typeof makeListOrders>;
  const ids: Record<string, string> = {};

  beforeEach(async () => {
    orders = new InMemoryOrders();
    const agents = new InMemoryAgents([demoAgent, cautiousAgent, otherAgent]);
    const clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    const place = makePlaceOrder({
      orders,
      agents,
      payments: new RecordingPaymentQueue(),
      clock,
      policy: intakePolicy,
    });
    for (const agentId of ['cautious-agent', 'demo-agent', 'other-agent']) {
      clock.advance(1);
      const { order } = await place({ agentId, idempotencyKey: 'k', body: latteOrder });
      ids[agentId] = order.orderId;
    }
    list = makeListOrders({ orders, agents });
  });

  const listed = async (...args: Parameters<ReturnType<typeof makeListOrders>>) =>
    (await list(...args)).orders.map((order) => order.orderId);

  it("gives a user their agents' orders, newest first, and no one else's", async () => {
    expect(await listed(userPrincipal('demo-user'), {})).toEqual([
      ids['demo-agent'],
      ids['cautious-agent'],
    ]);
    expect(await listed(userPrincipal('other-user'), {})).toEqual([ids['other-agent']]);
  });

  it("gives a user one of their agents' orders, and 404 for another user's agent", async () => {
    expect(await listed(userPrincipal('demo-user'), { agentId: 'cautious-agent' })).toEqual([
      ids['cautious-agent'],
    ]);
    await expect(
      list(userPrincipal('demo-user'), { agentId: 'other-agent' }),
    ).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND', status: 404 });
  });

  it("gives an agent its own orders only, and 404 for another agent's", async () => {
    expect(await listed(agentPrincipal('demo-agent'), {})).toEqual([ids['demo-agent']]);
    await expect(
      list(agentPrincipal('demo-agent'), { agentId: 'cautious-agent' }),
    ).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
  });

  it('filters by status, and refuses a status or a limit it does not know', async () => {
    expect(await listed(userPrincipal('demo-user'), { status: 'AWAITING_CONFIRMATION' })).toEqual([
      ids['cautious-agent'],
    ]);
    for (const query of [{ status: 'SHIPPED' }, { limit: '0' }, { limit: '101' }, { limit: 'x' }]) {
      await expect(list(userPrincipal('demo-user'), query)).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        status: 400,
      });
    }
  });

  it('pages with the cursor the listing gives', async () => {
    const first = await list(userPrincipal('demo-user'), { limit: '1' });
    const second = await list(userPrincipal('demo-user'), { limit: '1', cursor: first.cursor });
    expect(first.orders.map((order) => order.orderId)).toEqual([ids['demo-agent']]);
    expect(second.orders.map((order) => order.orderId)).toEqual([ids['cautious-agent']]);
    expect(second.cursor).toBeUndefined();
  });
});
