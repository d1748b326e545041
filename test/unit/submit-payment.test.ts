import { beforeEach, describe, expect, it } from 'vitest';
import { CircuitBreaker, defaultBreakerPolicy } from '#domain/circuit-breaker.ts';
import { type Order, openOrder } from '#domain/order.ts';
import { defaultDeadlinePolicy, type MoveDeps, moveOrder } from '#domain/order-moves.ts';
import type { RiskAnswer } from '#domain/payment-ports.ts';
import { defaultRiskPolicy } from '#domain/risk-policy.ts';
import { defaultSettlementSchedule } from '#domain/settlement.ts';
import { makeSubmitPayment, type PaymentObserver } from '#domain/submit-payment.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingSettlementChecks,
} from '../fakes/in-memory.ts';
import { FakeGateway, FakeRiskEngine, InMemoryBreakerStore } from '../fakes/payments.ts';
import { demoAgent, latteOrder } from '../fixtures/orders.ts';

const firstDelivery = { receiveCount: 1, maxReceiveCount: 8, remainingMs: () => 30_000 };
const redelivery = { ...firstDelivery, receiveCount: 2 };

describe('payment submission', () => {
  let orders: InMemoryOrders;
  let gateway: FakeGateway;
  let risk: FakeRiskEngine;
  let breakerStore: InMemoryBreakerStore;
  let checks: RecordingSettlementChecks;
  let clock: FixedClock;
  let bypasses: number;
  let refusals: number;
  let riskAnswers: RiskAnswer[];
  let gatewayCalls: Array<[string, string, number]>;
  let submit: ReturnType<typeof makeSubmitPayment>;
  let order: Order;
  let moveDeps: MoveDeps;

  beforeEach(async () => {
    orders = new InMemoryOrders();
    gateway = new FakeGateway();
    risk = new FakeRiskEngine();
    breakerStore = new InMemoryBreakerStore();
    checks = new RecordingSettlementChecks();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    bypasses = 0;
    refusals = 0;
    riskAnswers = [];
    gatewayCalls = [];
    const observer: PaymentObserver = {
      gatewayCall: (operation, outcome, ms) => {
        gatewayCalls.push([operation, outcome, ms]);
      },
      riskAnswered: (_order, answer) => {
        riskAnswers.push(answer);
      },
      riskBypassed: (_order, verdict) => {
        bypasses++;
        if (verdict.refused) refusals++;
      },
      lateSuccess: () => {},
      ignored: () => {},
      refundRejected: () => {},
      paymentWindowExpired: () => {},
      foreignRefund: () => {},
      refundFailed: () => {},
    };
    submit = makeSubmitPayment({
      orders,
      agents: new InMemoryAgents([demoAgent]),
      gateway,
      risk,
      breaker: new CircuitBreaker(breakerStore, 'fake', clock, defaultBreakerPolicy),
      settlementChecks: checks,
      clock,
      observer,
      sleep: async () => {},
      policy: {
        risk: { ...defaultRiskPolicy, failOpenLimit: 1000 },
        backoff: { baseSeconds: 1, maxSeconds: 300 },
        settlement: defaultSettlementSchedule,
        deadlines: defaultDeadlinePolicy,
      },
    });
    order = openOrder({
      ...latteOrder,
      items: [...latteOrder.items],
      orderId: 'ord_1',
      agentId: 'demo-agent',
      idempotencyKey: 'k',
      requestHash: 'h',
      status: 'PENDING_PAYMENT',
      attempts: 0,
      createdAt: '2026-11-23T09:29:00.000Z',
    });
    await orders.create(order);
    orders.writes = 0;
    moveDeps = { orders, clock, deadlines: defaultDeadlinePolicy };
  });

  const request = { orderId: 'ord_1', agentId: 'demo-agent' };

  it('times the gateway call by the injected clock', async () => {
    // Prepare
    const answer = gateway.holdNextAnswer();
    const submitted = submit(request, firstDelivery);
    await answer.charged;

    // Act
    clock.advance(1.25);
    answer.release();
    await submitted;

    // Assess
    expect(gatewayCalls).toEqual([['charge', 'succeeded', 1250]]);
  });

  it('pays a PENDING_PAYMENT order with one charge and one write', async () => {
    // Act
    const result = await submit(request, firstDelivery);

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
    const paid = await orders.get('ord_1');
    expect(paid).toMatchObject({ status: 'PAID', gatewayRef: 'pay_1', attempts: 1 });
    expect(paid?.history.map((entry) => entry.to)).toEqual(['PENDING_PAYMENT', 'PAID']);
    expect(gateway.calls).toEqual(['charge:ord_1']);
    expect(orders.writes).toBe(1);
    expect(breakerStore.writes).toBe(0);
  });

  it('acknowledges and skips an order that is no longer PENDING_PAYMENT', async () => {
    await submit(request, firstDelivery);
    gateway.calls.length = 0;

    const again = await submit(request, redelivery);

    expect(again).toEqual({ kind: 'done', detail: 'already PAID' });
    expect(gateway.calls).toEqual([]);
  });

  it('acknowledges a message for an order that does not exist', async () => {
    const result = await submit({ orderId: 'ord_missing', agentId: 'x' }, firstDelivery);
    expect(result).toEqual({ kind: 'done', detail: 'no such order' });
  });

  it('waits for an order intake queued but has not stored yet, then gives it up', async () => {
    // Prepare: intake queues the payment just before it stores the order.
    const missing = { orderId: 'ord_missing', agentId: 'x', placedAt: '2026-11-23T09:29:30.000Z' };

    // Act
    const early = await submit(missing, firstDelivery);
    clock.advance(31);
    const late = await submit(missing, { ...firstDelivery, receiveCount: 2 });

    // Assess: nothing was written or charged either way.
    expect(early).toMatchObject({ kind: 'retry', reason: 'ORDER_NOT_STORED_YET' });
    expect(late).toEqual({ kind: 'done', detail: 'no such order' });
    expect(orders.writes).toBe(0);
    expect(gateway.calls).toEqual([]);
  });

  it('puts a paid-at-once order in the due index when its payment does not go through', async () => {
    // Act
    gateway.chargeScript.push({ kind: 'unavailable', detail: 'HTTP 503' });
    await submit(request, firstDelivery);

    // Assess: the sweep will find it if its messages stop coming.
    expect((await orders.get('ord_1'))?.dueAt).toBe('2026-11-23T09:45:00.000Z');
  });

  it('never charges twice after a charge whose answer was lost: it asks the gateway first', async () => {
    // Prepare: the first attempt charges, then its answer never arrives.
    gateway.chargeScript.push('charge-then-unknown');
    const first = await submit(request, firstDelivery);
    expect(first).toMatchObject({ kind: 'retry', reason: 'GATEWAY_OUTCOME_UNKNOWN' });
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'PENDING_PAYMENT',
      outcomeUnknown: true,
      lastError: 'GATEWAY_OUTCOME_UNKNOWN',
      attempts: 1,
    });

    // Act
    const second = await submit(request, redelivery);

    // Assess
    expect(second).toEqual({ kind: 'done', detail: 'PAID' });
    expect(gateway.calls).toEqual(['charge:ord_1', 'lookup:ord_1']);
    expect(gateway.chargeCount()).toBe(1);
    const paid = await orders.get('ord_1');
    expect(paid).toMatchObject({ status: 'PAID', attempts: 2 });
    expect(paid?.outcomeUnknown).toBeUndefined();
    expect(paid?.lastError).toBeUndefined();
  });

  it('keeps the risk verdict that let a charge out, instead of holding the order on a retry', async () => {
    // Prepare: the first attempt passed the risk check and its charge's answer was lost; the
    // engine would now say "review", and the slow charge has not landed yet.
    gateway.chargeScript.push({ kind: 'unknown', detail: 'timed out' });
    await submit(request, firstDelivery);
    risk.fallback = { kind: 'assessed', level: 'review', requestId: 'r-2' };

    // Act
    const second = await submit(request, redelivery);

    // Assess
    expect(second).toEqual({ kind: 'done', detail: 'PAID' });
    expect(risk.calls).toBe(1);
    expect(gateway.chargeCount()).toBe(1);
  });

  it('submits on a redelivery only when the gateway has no payment for the order', async () => {
    const result = await submit(request, redelivery);
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
    expect(gateway.calls).toEqual(['lookup:ord_1', 'charge:ord_1']);
  });

  it('moves a pending payment to AWAITING_SETTLEMENT and schedules its first check', async () => {
    gateway.nextStatus = 'pending';
    const result = await submit(request, firstDelivery);
    expect(result).toEqual({ kind: 'done', detail: 'AWAITING_SETTLEMENT' });
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'AWAITING_SETTLEMENT',
      gatewayRef: 'pay_1',
      settleBy: '2026-11-23T09:51:00.000Z',
    });
    expect(checks.scheduled).toEqual([{ orderId: 'ord_1', check: 1, delaySeconds: 60 }]);
  });

  it('fails a declined payment with its decline code', async () => {
    gateway.nextStatus = 'declined';
    await submit(request, firstDelivery);
    const failed = await orders.get('ord_1');
    expect(failed).toMatchObject({ status: 'FAILED', declineCode: 'card_declined' });
    expect(failed?.history.at(-1)).toMatchObject({ to: 'FAILED', errorCode: 'GATEWAY_DECLINED' });
  });

  it.each([
    [{ kind: 'unavailable', detail: 'http 503' } as const, 'GATEWAY_UNAVAILABLE'],
    [{ kind: 'unknown', detail: 'timed out' } as const, 'GATEWAY_OUTCOME_UNKNOWN'],
  ])(
    'keeps the order PENDING_PAYMENT after %o and returns the message for later',
    async (outcome, code) => {
      gateway.chargeScript.push(outcome);
      const result = await submit(request, firstDelivery);
      expect(result).toMatchObject({ kind: 'retry', reason: code });
      expect(await orders.get('ord_1')).toMatchObject({
        status: 'PENDING_PAYMENT',
        lastError: code,
      });
    },
  );

  it('honours Retry-After when the gateway throttles', async () => {
    gateway.chargeScript.push({ kind: 'throttled', retryAfterSeconds: 42 });
    const result = await submit(request, firstDelivery);
    expect(result).toEqual({ kind: 'retry', delaySeconds: 42, reason: 'GATEWAY_THROTTLED' });
  });

  it('backs off exponentially with each delivery, within the cap', async () => {
    const delays: number[] = [];
    for (const receiveCount of [1, 2, 3, 4, 12]) {
      gateway.chargeScript.push({ kind: 'unavailable', detail: 'reset' });
      const result = await submit(request, { ...firstDelivery, receiveCount });
      if (result.kind === 'retry') delays.push(result.delaySeconds);
    }
    expect(delays[0]).toBe(1);
    expect(delays[1]).toBeGreaterThanOrEqual(1);
    expect(delays[1]).toBeLessThanOrEqual(2);
    expect(delays[2]).toBeGreaterThanOrEqual(2);
    expect(delays[2]).toBeLessThanOrEqual(4);
    expect(delays[3]).toBeGreaterThanOrEqual(4);
    expect(delays[3]).toBeLessThanOrEqual(8);
    expect(delays[4]).toBeGreaterThanOrEqual(150);
    expect(delays[4]).toBeLessThanOrEqual(300);
  });

  it('refreshes the API key once after a 401 and retries at once', async () => {
    gateway.chargeScript.push({ kind: 'unauthorized' });
    const result = await submit(request, firstDelivery);
    expect(result).toEqual({ kind: 'done', detail: 'PAID' });
    expect(gateway.refreshes).toBe(1);
    expect(gateway.calls).toEqual(['charge:ord_1', 'charge:ord_1']);
  });

  it('marks the order dead-lettered on the last delivery, saying why', async () => {
    gateway.chargeScript.push({ kind: 'unavailable', detail: 'http 502' });
    await submit(request, { ...firstDelivery, receiveCount: 8 });
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'PENDING_PAYMENT',
      deadLettered: true,
      lastError: 'GATEWAY_UNAVAILABLE',
    });
  });

  it('fails an order the risk engine rejects, without calling the gateway', async () => {
    risk.script.push({ kind: 'assessed', level: 'reject', requestId: 'r-1' });
    await submit(request, firstDelivery);
    const failed = await orders.get('ord_1');
    expect(failed).toMatchObject({ status: 'FAILED', risk: { level: 'reject', bypassed: false } });
    expect(failed?.history.at(-1)?.errorCode).toBe('RISK_REJECTED');
    expect(gateway.calls).toEqual([]);
    // A duplicate delivery may have charged: the order is looked up once more, a little later.
    expect(checks.scheduled).toEqual([{ orderId: 'ord_1', check: 0, delaySeconds: 300 }]);
  });

  describe('a redelivery for an order a racing delivery moved on', () => {
    /** Another delivery charged (and died); a third one wrote `event` meanwhile. */
    async function movedOnAfterACharge(event: 'HELD_FOR_REVIEW' | 'RISK_REJECTED') {
      await gateway.charge({ ...latteOrder, idempotencyKey: 'ord_1' });
      gateway.calls.length = 0;
      await moveOrder(moveDeps, order, event);
    }

    it.each([
      ['held it for review', 'HELD_FOR_REVIEW', 'PAID'],
      ['failed it on a risk reject', 'RISK_REJECTED', 'REFUND_PENDING'],
    ] as const)(
      'asks the gateway when a racing delivery %s, and applies what it took: %s',
      async (_case, event, expected) => {
        // Prepare
        await movedOnAfterACharge(event);

        // Act
        const result = await submit(request, redelivery);

        // Assess: nothing is charged again.
        expect(result).toEqual({ kind: 'done', detail: expected });
        expect(gateway.calls).toEqual(['lookup:ord_1']);
        expect(gateway.chargeCount()).toBe(1);
      },
    );

    it('acknowledges it when the gateway has no payment for the order', async () => {
      await moveOrder(moveDeps, order, 'HELD_FOR_REVIEW');

      const result = await submit(request, redelivery);

      expect(result).toEqual({
        kind: 'done',
        detail: 'already HELD_FOR_REVIEW, no payment at the gateway',
      });
      expect(gateway.calls).toEqual(['lookup:ord_1']);
    });

    it('returns it for later when the gateway cannot be asked', async () => {
      await moveOrder(moveDeps, order, 'HELD_FOR_REVIEW');
      gateway.lookupScript.push({ kind: 'unavailable', detail: 'http 503' });

      const result = await submit(request, redelivery);

      expect(result).toMatchObject({ kind: 'retry', reason: 'GATEWAY_UNAVAILABLE' });
      expect((await orders.get('ord_1'))?.status).toBe('HELD_FOR_REVIEW');
    });

    it('asks nothing for a first delivery of an order held before any charge', async () => {
      await moveOrder(moveDeps, order, 'HELD_FOR_REVIEW');

      const result = await submit(request, firstDelivery);

      expect(result).toEqual({ kind: 'done', detail: 'already HELD_FOR_REVIEW' });
      expect(gateway.calls).toEqual([]);
    });
  });

  it('charges nothing past the payment window, and has the reconciler close the order', async () => {
    // Prepare
    orders.orders.set('ord_1', { ...order, payBy: '2026-11-23T09:30:00.000Z' });

    // Act
    const result = await submit(request, redelivery);

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'payment window passed' });
    expect(gateway.calls).toEqual([]);
    expect(risk.calls).toBe(0);
    expect(checks.scheduled).toEqual([{ orderId: 'ord_1', check: 0, delaySeconds: 0 }]);
    expect((await orders.get('ord_1'))?.status).toBe('PENDING_PAYMENT');
  });

  it('holds an order the risk engine wants reviewed', async () => {
    risk.script.push({ kind: 'assessed', level: 'review', requestId: 'r-1' });
    await submit(request, firstDelivery);
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'HELD_FOR_REVIEW',
      holdReason: 'RISK_REVIEW',
    });
  });

  it('fails open for a small order when the risk engine keeps failing, and records the bypass', async () => {
    risk.fallback = {
      kind: 'error',
      code: 'InternalServerError',
      requestId: 'r-9',
      retryable: true,
    };
    await submit(request, firstDelivery);
    expect(risk.calls).toBe(3);
    expect(bypasses).toBe(1);
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'PAID',
      risk: { level: 'pass', bypassed: true, requestId: 'r-9', errorCode: 'InternalServerError' },
    });
  });

  it('tells the observer every risk answer with its RequestId, failed ones included', async () => {
    // Prepare
    risk.script.push({
      kind: 'error',
      code: 'RequestLimitExceeded',
      requestId: 'r-1',
      retryable: true,
    });
    risk.script.push({ kind: 'assessed', level: 'pass', requestId: 'r-2' });

    // Act
    await submit(request, firstDelivery);

    // Assess
    expect(riskAnswers.map((answer) => answer.requestId)).toEqual(['r-1', 'r-2']);
    expect(bypasses).toBe(0);
  });

  it('on AuthFailure asks once, fails open for a small order, and reports it as refused', async () => {
    // Prepare
    risk.fallback = {
      kind: 'error',
      code: 'AuthFailure.SignatureFailure',
      requestId: 'r-auth',
      retryable: false,
    };

    // Act
    await submit(request, firstDelivery);

    // Assess
    expect(risk.calls).toBe(1);
    expect(bypasses).toBe(1);
    expect(refusals).toBe(1);
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'PAID',
      risk: {
        level: 'pass',
        bypassed: true,
        requestId: 'r-auth',
        errorCode: 'AuthFailure.SignatureFailure',
      },
    });
  });

  it('on AuthFailure holds an order above the fail-open limit, uncharged', async () => {
    // Prepare
    risk.fallback = {
      kind: 'error',
      code: 'AuthFailure.SecretIdNotFound',
      requestId: 'r-auth',
      retryable: false,
    };
    orders.orders.set('ord_1', { ...order, amount: 1001 });

    // Act
    await submit(request, firstDelivery);

    // Assess
    expect(refusals).toBe(1);
    expect(gateway.calls).toEqual([]);
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'HELD_FOR_REVIEW',
      holdReason: 'RISK_UNAVAILABLE',
      risk: { bypassed: true, errorCode: 'AuthFailure.SecretIdNotFound' },
    });
  });

  it('holds an order above the fail-open limit when the risk engine keeps failing', async () => {
    risk.fallback = {
      kind: 'error',
      code: 'InternalServerError',
      requestId: 'r-9',
      retryable: true,
    };
    orders.orders.set('ord_1', { ...order, amount: 1001 });
    await submit(request, firstDelivery);
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'HELD_FOR_REVIEW',
      holdReason: 'RISK_UNAVAILABLE',
      risk: { bypassed: true },
    });
    expect(gateway.calls).toEqual([]);
  });

  it('says why on the order when the last delivery meets an open breaker', async () => {
    breakerStore.state = 'open';
    breakerStore.openedAt = clock.now().getTime();
    const result = await submit(request, { ...firstDelivery, receiveCount: 8 });
    expect(result).toMatchObject({ kind: 'retry', reason: 'CIRCUIT_OPEN' });
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'PENDING_PAYMENT',
      deadLettered: true,
      lastError: 'CIRCUIT_OPEN',
    });
  });

  it('returns the message without calling the gateway or writing while the breaker is open', async () => {
    // Prepare
    breakerStore.state = 'open';
    breakerStore.openedAt = clock.now().getTime();

    // Act
    const result = await submit(request, firstDelivery);

    // Assess
    expect(result).toMatchObject({ kind: 'retry', reason: 'CIRCUIT_OPEN' });
    expect(result.kind === 'retry' && result.delaySeconds).toBeGreaterThanOrEqual(30);
    expect(gateway.calls).toEqual([]);
    expect(orders.writes).toBe(0);
    expect((await orders.get('ord_1'))?.status).toBe('PENDING_PAYMENT');
  });

  it('holds an order whose card needs the user to authenticate, with that reason, and charges nothing more', async () => {
    // Prepare
    gateway.chargeScript.push({
      kind: 'action-required',
      intentId: 'pi_1',
      reason: 'authentication_required',
    });

    // Act
    const result = await submit(request, firstDelivery);

    // Assess
    expect(result).toEqual({ kind: 'done', detail: 'HELD_FOR_REVIEW' });
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'HELD_FOR_REVIEW',
      holdReason: 'AUTHENTICATION_REQUIRED',
      attempts: 1,
    });
    expect(gatewayCalls.map(([operation, outcome]) => `${operation}:${outcome}`)).toEqual([
      'charge:action-required',
    ]);
  });

  it('retries a request the gateway refused as misconfigured, counts it, and never fails the order', async () => {
    // Prepare
    gateway.chargeScript.push({ kind: 'misconfigured', detail: 'invalid_request_error' });

    // Act
    const result = await submit(request, firstDelivery);

    // Assess
    expect(result).toMatchObject({ kind: 'retry', reason: 'GATEWAY_MISCONFIGURED' });
    expect(await orders.get('ord_1')).toMatchObject({
      status: 'PENDING_PAYMENT',
      lastError: 'GATEWAY_MISCONFIGURED',
      attempts: 1,
    });
    expect(gatewayCalls.map(([operation, outcome]) => `${operation}:${outcome}`)).toEqual([
      'charge:misconfigured',
    ]);
  });
});
