import {
  type CallbackObserver,
  type GatewayEvent,
  makeHandleGatewayEvent,
} from '#domain/callbacks.ts';
import { CircuitBreaker, defaultBreakerPolicy } from '#domain/circuit-breaker.ts';
import { makeLifecycle } from '#domain/lifecycle.ts';
import type { Order } from '#domain/order.ts';
import { type DeadlinePolicy, defaultDeadlinePolicy } from '#domain/order-moves.ts';
import { makePlaceOrder } from '#domain/place-order.ts';
import type { PaymentRequest } from '#domain/ports.ts';
import { defaultRiskPolicy } from '#domain/risk-policy.ts';
import { defaultSettlementSchedule, lookupsAfterVoid, makeReconcile } from '#domain/settlement.ts';
import { type Delivery, makeSubmitPayment, type PaymentObserver } from '#domain/submit-payment.ts';
import {
  defaultDeadLetterWalk,
  defaultRefundKeyWindow,
  makeSweep,
  type RefundKeyWindow,
  type SweepDeps,
  type SweepObserver,
} from '#domain/sweep.ts';
import { cautiousAgent, demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';
import {
  FakeDeadLetterQueue,
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
  silentSweepObserver,
} from './in-memory.ts';
import { FakeGateway, FakeRiskEngine, InMemoryBreakerStore } from './payments.ts';

/** What the observers of the pipeline were told, by kind. */
export interface Told {
  lateSuccess: number;
  refundRejected: number;
  paymentWindowExpired: number;
  foreignRefund: number;
  refundFailed: number;
}

/** How often the pipeline's sweep is meant to run, as in AWS. */
export const sweepEverySeconds = 300;

export const firstDelivery: Delivery = {
  receiveCount: 1,
  maxReceiveCount: 8,
  remainingMs: () => 30_000,
};

/**
 * Every use case of the pipeline over one set of fakes, as the functions wire them: intake,
 * payment submission, the user's moves, gateway callbacks and the reconciler, on one clock.
 */
export function fakePipeline(
  options: {
    readonly failOpenLimit?: number;
    readonly deadlines?: DeadlinePolicy;
    readonly sweepObserver?: SweepObserver;
    readonly refundKeyWindow?: RefundKeyWindow;
  } = {},
) {
  const orders = new InMemoryOrders();
  const gateway = new FakeGateway();
  const risk = new FakeRiskEngine();
  const checks = new RecordingSettlementChecks();
  const payments = new RecordingPaymentQueue();
  const clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
  const deadPayments = new FakeDeadLetterQueue(clock);
  const deadlines = options.deadlines ?? defaultDeadlinePolicy;
  const told: Told = {
    lateSuccess: 0,
    refundRejected: 0,
    paymentWindowExpired: 0,
    foreignRefund: 0,
    refundFailed: 0,
  };
  const observer: PaymentObserver = {
    gatewayCall: () => {},
    riskAnswered: () => {},
    riskBypassed: () => {},
    ignored: () => {},
    lateSuccess: () => {
      told.lateSuccess++;
    },
    refundRejected: () => {
      told.refundRejected++;
    },
    paymentWindowExpired: () => {
      told.paymentWindowExpired++;
    },
    foreignRefund: () => {
      told.foreignRefund++;
    },
    refundFailed: () => {
      told.refundFailed++;
    },
  };
  const callbacks: CallbackObserver = {
    unknownOrder: () => {},
    amountMismatch: () => {},
    foreignRefund: () => {
      told.foreignRefund++;
    },
  };
  const schedule = defaultSettlementSchedule;
  const backoff = { baseSeconds: 1, maxSeconds: 300 };
  const settle = { orders, clock, deadlines, settlementChecks: checks, schedule, observer };
  const reconcile = makeReconcile({ ...settle, gateway, payments, backoff });
  let handled = 0;
  const agents = new InMemoryAgents([demoAgent, cautiousAgent]);
  const submit = makeSubmitPayment({
    orders,
    agents,
    gateway,
    risk,
    breaker: new CircuitBreaker(new InMemoryBreakerStore(), 'fake', clock, defaultBreakerPolicy),
    settlementChecks: checks,
    clock,
    observer,
    sleep: async () => {},
    policy: {
      risk: { ...defaultRiskPolicy, failOpenLimit: options.failOpenLimit ?? 1000 },
      backoff,
      settlement: schedule,
      deadlines,
    },
  });

  const sweepDeps: SweepDeps = {
    orders,
    clock,
    deadlines,
    payments,
    settlementChecks: checks,
    deadPayments,
    deadLetters: defaultDeadLetterWalk,
    runEverySeconds: sweepEverySeconds,
    finalCheck: schedule.checks,
    voidLookups: lookupsAfterVoid(schedule),
    batchSize: 100,
    redriveLimit: 10,
    refundKeyWindow: options.refundKeyWindow ?? defaultRefundKeyWindow,
    observer: options.sweepObserver ?? silentSweepObserver,
  };

  return {
    orders,
    agents,
    gateway,
    risk,
    checks,
    payments,
    clock,
    told,
    placeOrder: makePlaceOrder({
      orders,
      agents,
      payments,
      clock,
      deadlines,
      policy: intakePolicy,
    }),
    submit,
    deadPayments,

    /**
     * One delivery of a payment message, as SQS makes it: a delivery that fails (the function
     * throws, or returns the message) on the queue's last receive moves it to the dead-letter
     * queue, where it stays.
     */
    async deliver(request: PaymentRequest, delivery: Delivery) {
      const lastReceive = delivery.receiveCount >= delivery.maxReceiveCount;
      try {
        const result = await submit(request, delivery);
        if (result.kind === 'retry' && lastReceive) deadPayments.messages.push(request);
        return result;
      } catch (error) {
        if (lastReceive) deadPayments.messages.push(request);
        throw error;
      }
    },
    lifecycle: makeLifecycle({
      orders,
      agents,
      clock,
      deadlines,
      payments,
      settlementChecks: checks,
    }),
    sweep: makeSweep(sweepDeps),
    /** The sweep as a fresh instance builds it: nothing kept from earlier runs. */
    freshSweep: () => makeSweep(sweepDeps),
    handleEvent: makeHandleGatewayEvent({ ...settle, callbacks }),
    reconcile,

    /** The gateway's signed `payment.succeeded` for the order's charge. */
    succeeded(order: Order): GatewayEvent {
      const payment = gateway.charges.get(order.orderId);
      return {
        id: `evt_${order.orderId}`,
        type: 'payment.succeeded',
        created: Math.floor(clock.now().getTime() / 1000),
        data: {
          paymentId: payment?.paymentId ?? 'pay_unknown',
          idempotencyKey: order.orderId,
          amount: order.amount,
          currency: order.currency,
        },
      };
    },

    /** The gateway's signed `refund.succeeded` for a whole refund of the order's payment. */
    refundSucceeded(order: Order, refundId: string, id = 'evt_s1'): GatewayEvent {
      return {
        id,
        type: 'refund.succeeded',
        created: Math.floor(clock.now().getTime() / 1000),
        data: {
          paymentId: gateway.charges.get(order.orderId)?.paymentId ?? 'pay_unknown',
          idempotencyKey: order.orderId,
          amount: order.amount,
          currency: order.currency,
          refundId,
        },
      };
    },

    /** The gateway's signed `refund.failed` for a refund of the order's payment (a closed card). */
    refundFailed(order: Order, refundId: string, id = 'evt_f1'): GatewayEvent {
      const told = this.refundSucceeded(order, refundId, id);
      return {
        ...told,
        type: 'refund.failed',
        data: { ...told.data, failureReason: 'expired_or_canceled_card' },
      };
    },

    /**
     * Delivers every settlement check scheduled so far, and those they schedule, each when its
     * delay has passed; a check the reconciler returns for later comes back after its delay.
     */
    async runChecks(): Promise<void> {
      for (let round = 0; round < 50 && handled < checks.scheduled.length; round++) {
        const next = checks.scheduled[handled++];
        if (next === undefined) break;
        clock.advance(next.delaySeconds);
        const result = await reconcile({ orderId: next.orderId, check: next.check }, 1);
        if (result.kind === 'retry') {
          await checks.schedule({ ...next, agentId: demoAgent.agentId }, result.delaySeconds);
        }
      }
    },

    /**
     * Delivers each settlement check scheduled from the `from`th on, once, until the reconciler
     * is done with it or its eighth receive sends it to the dead-letter queue; returns where the
     * next call starts.
     */
    async deliverChecksUntilDead(from: number): Promise<number> {
      for (const check of checks.scheduled.slice(from)) {
        for (let receive = 1; receive <= firstDelivery.maxReceiveCount; receive++) {
          const result = await reconcile({ orderId: check.orderId, check: check.check }, receive);
          if (result.kind === 'done') break;
        }
      }
      return checks.scheduled.length;
    },

    /** Net money the gateway holds for the order: captured minus refunded. */
    netCaptured(order: Order): number {
      const payment = gateway.charges.get(order.orderId);
      const captured = payment?.kind === 'succeeded' ? order.amount : 0;
      const refunded = [...gateway.refunds.values()]
        .filter((refund) => refund.paymentId === payment?.paymentId)
        .reduce((sum, refund) => sum + refund.amount, 0);
      return captured - refunded;
    },
  };
}

export type FakePipeline = ReturnType<typeof fakePipeline>;

/** A latte paid at once by demo-agent, whose user then asked its refund: REFUND_PENDING, unsent. */
export async function refundAskedOrder(p: FakePipeline): Promise<Order> {
  const agentId = demoAgent.agentId;
  const { order } = await p.placeOrder({ agentId, idempotencyKey: 'k-1', body: latteOrder });
  await p.submit({ orderId: order.orderId, agentId }, firstDelivery);
  const asked = await p.lifecycle.refund(demoAgent.ownerId, order.orderId, 'refund-1', {});
  return asked.order;
}
