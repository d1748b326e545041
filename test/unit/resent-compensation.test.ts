import { beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultDeadlinePolicy, moveOrder } from '#domain/order-moves.ts';
import type { TransitionOutcome } from '#domain/ports.ts';
import {
  applyGatewayOutcome,
  defaultSettlementSchedule,
  makeReconcile,
} from '#domain/settlement.ts';
import {
  FixedClock,
  InMemoryOrders,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
  resendNextMove,
  seedOrder,
} from '../fakes/in-memory.ts';
import { spyingSettlementObserver } from '../fakes/observers.ts';
import { FakeGateway } from '../fakes/payments.ts';

/*
 * A success that comes for an order already closed (FAILED, CANCELLED, EXPIRED) moves it to
 * REFUND_PENDING with one conditional UpdateItem, and only when that write answers "applied" is
 * the refund check scheduled and the late success alarmed. When DynamoDB applies the write and
 * its answer is lost (or comes after the client's 1.5 s request timeout), the SDK resends it and
 * the resend is refused. The move's history entry carries a token of the call that made it, so
 * `moveOrder` takes a refusal on the resend whose order shows its own token as its own move,
 * applied: the follow-up that hangs on "applied" runs now, for every caller (a refused refund's
 * alarm, a foreign refund's count, a payment window's close). A refusal at the only send is
 * another writer's, even one that made the very same move in the same millisecond.
 */

const orderId = `ord_${'0'.repeat(31)}9`;

describe('a settlement move that was applied and then resent', () => {
  let orders: InMemoryOrders;
  let checks: RecordingSettlementChecks;
  let gateway: FakeGateway;
  const observer = spyingSettlementObserver();
  const deps = () => ({
    orders,
    clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
    deadlines: defaultDeadlinePolicy,
    settlementChecks: checks,
    schedule: defaultSettlementSchedule,
    observer,
  });

  beforeEach(() => {
    orders = new InMemoryOrders();
    checks = new RecordingSettlementChecks();
    gateway = new FakeGateway();
    vi.clearAllMocks();
  });

  it('schedules the refund of a late success now and alarms it', async () => {
    // Prepare: an order closed unpaid; the next move is applied, its answer lost, the resend
    // refused.
    const order = await seedOrder(deps(), 'FAILED', { orderId, agentId: 'demo-agent' });
    resendNextMove(orders);

    // Act
    const result = await applyGatewayOutcome(deps(), order, {
      kind: 'succeeded',
      paymentId: 'pay_9',
    });

    // Assess
    expect(result).toEqual({ kind: 'applied', status: 'REFUND_PENDING' });
    expect((await orders.get(orderId))?.status).toBe('REFUND_PENDING');
    expect(observer.lateSuccess).toHaveBeenCalledOnce();
    expect(observer.ignored).not.toHaveBeenCalled();
    expect(checks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
  });

  it("alarms a user's refund that the gateway refused, its move back to PAID resent", async () => {
    // Prepare
    await seedOrder(deps(), 'REFUND_PENDING', { orderId, gatewayRef: 'pay_7' });
    gateway.refundScript.push({ kind: 'rejected', reason: 'invalid_state' });
    resendNextMove(orders);
    const reconcile = makeReconcile({
      ...deps(),
      gateway,
      payments: new RecordingPaymentQueue(),
      backoff: { baseSeconds: 1, maxSeconds: 300 },
    });

    // Act
    await reconcile({ orderId, check: 0 }, 1);

    // Assess
    expect((await orders.get(orderId))?.status).toBe('PAID');
    expect(observer.refundRejected).toHaveBeenCalledExactlyOnceWith(
      expect.objectContaining({ status: 'PAID' }),
      'invalid_state',
    );
  });
});

describe('a refused move that shows the same move by another call', () => {
  let orders: InMemoryOrders;
  const moveDeps = () => ({
    orders,
    clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
    deadlines: defaultDeadlinePolicy,
  });

  beforeEach(() => {
    orders = new InMemoryOrders();
  });

  it('is stale for the call whose resend found the other call’s entry, in the same millisecond', async () => {
    // Prepare: the same move from the same version, by two calls at the same instant; the second
    // call's write is refused on a resend.
    const order = await seedOrder(moveDeps(), 'FAILED', { orderId });
    const transition = orders.transition.bind(orders);
    orders.transition = async (move): Promise<TransitionOutcome> => {
      const outcome = await transition(move);
      return outcome.kind === 'stale' ? { ...outcome, resent: true } : outcome;
    };

    // Act
    const first = await moveOrder(moveDeps(), order, 'GATEWAY_SUCCEEDED', { compensation: true });
    const second = await moveOrder(moveDeps(), order, 'GATEWAY_SUCCEEDED', { compensation: true });

    // Assess
    expect(first.kind).toBe('applied');
    expect(second).toMatchObject({ kind: 'stale', current: { status: 'REFUND_PENDING' } });
  });

  it('is stale when refused at its only send, even showing an entry with its own token', async () => {
    // Prepare: a store that answers every refusal as of a write sent once, and a call whose own
    // entry is already on the order (the first send landed, yet the SDK did not resend).
    const order = await seedOrder(moveDeps(), 'FAILED', { orderId });
    const transition = orders.transition.bind(orders);
    orders.transition = async (move): Promise<TransitionOutcome> => {
      await transition(move);
      return transition(move);
    };

    // Act
    const result = await moveOrder(moveDeps(), order, 'GATEWAY_SUCCEEDED', { compensation: true });

    // Assess
    expect(result).toMatchObject({ kind: 'stale', current: { status: 'REFUND_PENDING' } });
  });
});
