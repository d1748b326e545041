import { beforeEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '#domain/errors.ts';
import { makePlaceOrder, type PlaceOrderDeps } from '#domain/place-order.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
  SwitchableControls,
} from '../fakes/in-memory.ts';
import { demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';

/**
 * The guards intake keeps in the agent-day item: the duplicate intent, the token bucket, and the
 * operators' pause of auto-pay. Two `makePlaceOrder` instances share one table, as two Lambda
 * instances do: what one remembers only helps it guess; the item decides.
 */
describe('the guards against runaway and confused agents', () => {
  let orders: InMemoryOrders;
  let payments: RecordingPaymentQueue;
  let clock: FixedClock;
  let controls: SwitchableControls;
  let instances: [ReturnType<typeof makePlaceOrder>, ReturnType<typeof makePlaceOrder>];

  beforeEach(() => {
    orders = new InMemoryOrders();
    payments = new RecordingPaymentQueue();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    controls = new SwitchableControls();
    const deps: PlaceOrderDeps = {
      orders,
      payments,
      clock,
      controls,
      agents: new InMemoryAgents([
        demoAgent,
        { ...demoAgent, agentId: 'other-agent' },
        { ...demoAgent, agentId: 'slow-agent', ratePerSecond: 0.1, rateBurst: 2 },
      ]),
      policy: intakePolicy,
    };
    instances = [makePlaceOrder(deps), makePlaceOrder(deps)];
  });

  const place = (key: string, body: object = latteOrder, agentId = 'demo-agent', instance = 0) =>
    instances[instance === 1 ? 1 : 0]({ agentId, idempotencyKey: key, body });

  describe('the same intent under a new key', () => {
    it('waits for the user, naming the first order, on whichever instance it lands', async () => {
      const first = await place('k-1', latteOrder, 'demo-agent', 0);
      clock.advance(10);
      const second = await place('k-2', latteOrder, 'demo-agent', 1);

      expect(first.order.status).toBe('PENDING_PAYMENT');
      expect(second.order).toMatchObject({
        status: 'AWAITING_CONFIRMATION',
        confirmationReason: 'POSSIBLE_DUPLICATE',
        duplicateOf: first.order.orderId,
      });
      expect(payments.sent).toHaveLength(1);
      expect(orders.spent.get('demo-agent#2026-11-23')).toBe(450);
    });

    it('keeps naming the first order while the retries go on, each within the window', async () => {
      const first = await place('k-1');
      const answers = [];
      for (let retry = 1; retry <= 5; retry++) {
        clock.advance(200);
        answers.push(
          (await place(`k-1-retry-${retry}`, latteOrder, 'demo-agent', retry % 2)).order,
        );
      }
      expect(answers.map((order) => order.duplicateOf)).toEqual(Array(5).fill(first.order.orderId));
      expect(payments.sent).toHaveLength(1);
    });

    it('is a new intent in another session, or once the window has passed', async () => {
      await place('k-1');
      const otherSession = await place('k-2', { ...latteOrder, sessionId: 's-2' });
      clock.advance(361);
      const later = await place('k-3');

      expect(otherSession.order.status).toBe('PENDING_PAYMENT');
      expect(later.order.status).toBe('PENDING_PAYMENT');
    });

    it('is caught across midnight UTC: 10 s before, its retry 10 s after', async () => {
      clock = new FixedClock(new Date('2026-11-23T23:59:50Z'));
      beforeEachWith(clock);
      const first = await place('k-1', latteOrder, 'demo-agent', 0);
      clock.advance(20);
      const retry = await place('k-2', latteOrder, 'demo-agent', 1);

      expect(first.order.spendDay).toBe('2026-11-23');
      expect(retry.order).toMatchObject({
        confirmationReason: 'POSSIBLE_DUPLICATE',
        duplicateOf: first.order.orderId,
      });
    });

    it('answers a replay of the first key as a replay: no cost, no wait', async () => {
      const first = await place('k-1');
      const writes = orders.writes;
      const replay = await place('k-1', latteOrder, 'demo-agent', 1);

      expect(replay).toEqual({ order: first.order, replayed: true });
      expect(orders.writes).toBe(writes);
    });
  });

  describe("an agent's token bucket", () => {
    it('admits a burst of 10, refuses the 11th with 429 and a wait, and writes nothing for it', async () => {
      for (let n = 1; n <= 10; n++) {
        await place(`b-${n}`, { ...latteOrder, sessionId: `s-${n}` }, 'demo-agent', n % 2);
      }
      const stored = orders.orders.size;
      const writes = orders.writes;

      const refused = place('b-11', { ...latteOrder, sessionId: 's-11' });

      await expect(refused).rejects.toBeInstanceOf(RateLimitedError);
      await expect(refused).rejects.toMatchObject({ code: 'RATE_LIMITED', status: 429 });
      expect({ stored: orders.orders.size, writes: orders.writes }).toEqual({ stored, writes });
    });

    it('refills at 1 a second, and a replay is never refused by it', async () => {
      for (let n = 1; n <= 10; n++) await place(`b-${n}`, { ...latteOrder, sessionId: `s-${n}` });
      await expect(place('b-11', { ...latteOrder, sessionId: 's-11' })).rejects.toMatchObject({
        retryAfterSeconds: 1,
      });

      const replay = await place('b-3', { ...latteOrder, sessionId: 's-3' }, 'demo-agent', 1);
      clock.advance(1);
      const next = await place('b-11', { ...latteOrder, sessionId: 's-11' }, 'demo-agent', 1);

      expect(replay.replayed).toBe(true);
      expect(next.order.status).toBe('PENDING_PAYMENT');
      await expect(place('b-12', { ...latteOrder, sessionId: 's-12' })).rejects.toBeInstanceOf(
        RateLimitedError,
      );
    });

    it('counts orders that wait for the user too, and leaves other agents alone', async () => {
      const waiting = { ...latteOrder, amount: 6000 };
      for (let n = 1; n <= 10; n++) await place(`w-${n}`, { ...waiting, sessionId: `s-${n}` });

      await expect(place('w-11', { ...waiting, sessionId: 's-11' })).rejects.toBeInstanceOf(
        RateLimitedError,
      );
      const other = await place('o-1', latteOrder, 'other-agent');
      expect(other.order.status).toBe('PENDING_PAYMENT');
    });

    it("follows the agent's own rate and burst", async () => {
      await place('s-1', { ...latteOrder, sessionId: 's-1' }, 'slow-agent');
      await place('s-2', { ...latteOrder, sessionId: 's-2' }, 'slow-agent');
      await expect(
        place('s-3', { ...latteOrder, sessionId: 's-3' }, 'slow-agent'),
      ).rejects.toMatchObject({ retryAfterSeconds: 10 });
      clock.advance(10);
      const admitted = await place('s-3', { ...latteOrder, sessionId: 's-3' }, 'slow-agent', 1);
      expect(admitted.replayed).toBe(false);
    });
  });

  describe('the pause of auto-pay', () => {
    it('makes a trusted order wait for its user while it lasts, and only then', async () => {
      controls.current = { autopayPaused: { by: 'ops@example.com', at: '2026-11-23T09:29:00Z' } };
      const paused = await place('p-1');
      controls.current = {};
      const resumed = await place('p-2', { ...latteOrder, sessionId: 's-2' });

      expect(paused.order).toMatchObject({
        status: 'AWAITING_CONFIRMATION',
        confirmationReason: 'AUTOPAY_PAUSED',
      });
      expect(paused.order.spendDay).toBeUndefined();
      expect(resumed.order.status).toBe('PENDING_PAYMENT');
      expect(payments.sent.map((sent) => sent.orderId)).toEqual([resumed.order.orderId]);
    });
  });

  function beforeEachWith(at: FixedClock) {
    const deps: PlaceOrderDeps = {
      orders,
      payments,
      clock: at,
      controls,
      agents: new InMemoryAgents([demoAgent]),
      policy: intakePolicy,
    };
    instances = [makePlaceOrder(deps), makePlaceOrder(deps)];
  }
});
