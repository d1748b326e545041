import { describe, expect, it } from 'vitest';
import type { OrderRequestResult } from '#domain/order.ts';
import { makePlaceOrder } from '#domain/place-order.ts';
import type { ClaimOutcome } from '#domain/ports.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
  spendKeyOf,
} from '../fakes/in-memory.ts';
import { demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';

/*
 * Two placements with the same Idempotency-Key run at once: the agent's HTTP client gave up on the
 * first call and sent it again while the first was still running (the first request's writes are
 * slow, which is also when the SDK resends them). Both build the same order id, so a claim's
 * record in the agent-day item names the placement too (`<intent hash>=<order id>.<token>`, the
 * token from its createdAt). Were it only `<intent hash>=<order id>`, shared by both:
 *
 * 1. when the second placement's claim is refused on a resend (`resent`, the SDK retrying it after
 *    a throttle or a lost answer), intake would take the first placement's record for its own
 *    earlier send and store the order without a claim; whichever placement then lost the put would
 *    give its claim back, taking the paid order's amount off the day's spend, once per race: an
 *    agent whose calls are slow enough could be paid far past the daily limit its user allowed.
 * 2. without any resend, the losing placement's give-back would delete the one shared record, and
 *    the same coffee ordered again under a new key within 300 s would be paid at once instead of
 *    waiting for the user as POSSIBLE_DUPLICATE: the user charged twice.
 */

const day = '2026-11-23';

/** Two intake instances (two Lambda environments) over one table, on one clock. */
function twoInstances() {
  const orders = new InMemoryOrders();
  const payments = new RecordingPaymentQueue();
  const clock = new FixedClock(new Date(`${day}T09:30:00Z`));
  const instance = () =>
    makePlaceOrder({
      orders,
      agents: new InMemoryAgents([demoAgent]),
      payments,
      clock,
      policy: intakePolicy,
    });
  const spent = () => orders.spent.get(spendKeyOf({ agentId: demoAgent.agentId, day })) ?? 0;
  return { orders, payments, clock, first: instance(), second: instance(), spent };
}

/** The claims of `claim`, each refusal answered as a resend when `resent`. */
function resendingRefusals(
  claim: InMemoryOrders['claim'],
  resent: boolean,
): InMemoryOrders['claim'] {
  return async (guard, spend): Promise<ClaimOutcome> => {
    const outcome = await claim(guard, spend);
    return outcome.kind === 'guard-refused' && resent ? { ...outcome, resent: true } : outcome;
  };
}

/**
 * The first placement of `key` runs up to its put; the second runs whole meanwhile, `gapMs`
 * later; then the first's put goes on. `secondResent` makes the second's refused claim a resend.
 * In the same millisecond both build the very same order, createdAt included: the first's put,
 * refused at its only send, is still not its own, and it gives its claim back.
 */
async function racingPlacements(
  t: ReturnType<typeof twoInstances>,
  secondResent: boolean,
  gapMs: number,
) {
  const body = { ...latteOrder, sessionId: 's-race' };
  const command = { agentId: demoAgent.agentId, idempotencyKey: 'k-race', body };
  const create = t.orders.create.bind(t.orders);
  const claim = t.orders.claim.bind(t.orders);
  let secondRun: Promise<unknown> | undefined;
  t.orders.create = async (order) => {
    if (secondRun === undefined) {
      t.clock.advance(gapMs / 1000);
      t.orders.claim = resendingRefusals(claim, secondResent);
      secondRun = t.second(command);
      await secondRun;
      t.orders.claim = claim;
    }
    return create(order);
  };
  const first = await t.first(command);
  await secondRun;
  return first;
}

/*
 * In the same millisecond the two build the same order and the same createdAt, so a record's token
 * also holds random characters drawn per placement. Were it the millisecond only, the two would
 * share one record, and when the first then failed before storing the order (here: its
 * SendMessage throttled) and gave its claim back, both harms above would follow: its give-back
 * deleting the record the second, paid order stands on (the same intent under a new key paid at
 * once: the user charged twice), and, had the second's refused claim been a resend, the second
 * storing the order on the first's record, whose give-back then took the paid order's amount off
 * the day's spend (the agent paid past its daily limit).
 */

/**
 * The first placement reaches its SendMessage; the second runs whole meanwhile, in the same
 * millisecond (its refused claims answered as resends when `secondResent`); then the first's
 * SendMessage fails and it gives its claim back.
 */
async function sameMillisecondPlacements(
  t: ReturnType<typeof twoInstances>,
  secondResent: boolean,
): Promise<OrderRequestResult | undefined> {
  const body = { ...latteOrder, sessionId: 's-race' };
  const command = { agentId: demoAgent.agentId, idempotencyKey: 'k-race', body };
  const enqueue = t.payments.enqueue.bind(t.payments);
  const claim = t.orders.claim.bind(t.orders);
  let secondRun: Promise<OrderRequestResult> | undefined;
  t.payments.enqueue = async (request) => {
    if (secondRun === undefined) {
      t.orders.claim = resendingRefusals(claim, secondResent);
      secondRun = t.second(command);
      await secondRun.finally(() => {
        t.orders.claim = claim;
      });
      throw new Error('queue throttled');
    }
    return enqueue(request);
  };
  await expect(t.first(command)).rejects.toThrow();
  t.payments.enqueue = enqueue;
  return secondRun;
}

const races = [
  {
    when: 'a second apart',
    run: (t: ReturnType<typeof twoInstances>, resent: boolean) => racingPlacements(t, resent, 1000),
  },
  {
    when: 'in the same millisecond, both reaching their put',
    run: (t: ReturnType<typeof twoInstances>, resent: boolean) => racingPlacements(t, resent, 0),
  },
  { when: 'in the same millisecond, the first failing to queue', run: sameMillisecondPlacements },
];

describe.each(races)('two placements with the same key at once, $when', ({ run }) => {
  it("keep the paid order on the day's spend when the second claim is refused on a resend", async () => {
    // Prepare
    const t = twoInstances();

    // Act
    const placed = await run(t, true);

    // Assess: one order paid at once, 4.50 on the day's spend.
    expect(placed?.order.status).toBe('PENDING_PAYMENT');
    expect(t.orders.orders.size).toBe(1);
    expect(t.spent()).toBe(latteOrder.amount);
  });

  it('still hold the same intent under a new key within 300 s for the user', async () => {
    // Prepare: the race, with no resend; the agent orders the same coffee again 30 s later
    // under a new key.
    const t = twoInstances();
    const placed = await run(t, false);
    t.clock.advance(30);

    // Act
    const again = await t.first({
      agentId: demoAgent.agentId,
      idempotencyKey: 'k-new',
      body: { ...latteOrder, sessionId: 's-race' },
    });

    // Assess
    expect(placed?.order.status).toBe('PENDING_PAYMENT');
    expect(again.order.status).toBe('AWAITING_CONFIRMATION');
    expect(again.order.confirmationReason).toBe('POSSIBLE_DUPLICATE');
  });
});
