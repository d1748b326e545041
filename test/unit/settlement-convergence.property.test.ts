import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultBackoffPolicy } from '#domain/backoff.ts';
import {
  type CallbackObserver,
  type GatewayEvent,
  gatewayEventSchema,
  makeHandleGatewayEvent,
} from '#domain/callbacks.ts';
import { type Order, openOrder } from '#domain/order.ts';
import { defaultDeadlinePolicy, moveOrder, secondsAfter } from '#domain/order-moves.ts';
import {
  canTransition,
  type OrderStatus,
  terminalStatuses,
  transition,
} from '#domain/order-state.ts';
import type { PaymentGateway, RefundOutcome, RefundRequest } from '#domain/payment-ports.ts';
import type { OrderRepository, SettlementCheckQueue } from '#domain/ports.ts';
import {
  applyGatewayOutcome,
  defaultSettlementSchedule,
  lookupsAfterVoid,
  makeReconcile,
  type ReconcileDeps,
  type SettlementObserver,
} from '#domain/settlement.ts';
import {
  FixedClock,
  InMemoryOrders,
  RecordingPaymentQueue,
  RecordingSettlementChecks,
} from '../fakes/in-memory.ts';
import { FakeGateway } from '../fakes/payments.ts';
import { latteOrder } from '../fixtures/orders.ts';

/*
 * The property: for any interleaving, duplication, delay or loss of the gateway's events
 * for an order, the order converges to the state that the gateway's ledger implies once
 * reconciliation has run, with no illegal transition in its history.
 *
 * The model. The FakeGateway's ledger is the truth. Every event the gateway emits (payment.pending
 * when the charge is made, payment.succeeded / payment.failed when it settles, refund.succeeded
 * when it refunds) is put on the "network" 0..3 times (loss and duplication); the network then
 * delivers any in-flight copy at any later step (reordering and delay), and whatever is still in
 * flight at the end is delivered only after convergence (late duplicates) or never. The gateway
 * settles at one drawn point between steps and only then emits the settlement event; if the
 * reconciler voided the payment first, the settlement cannot happen and nothing is emitted (this
 * gateway emits no event for a void). Reconciler runs (increasing check numbers, the clock moving
 * on) are interleaved at arbitrary points. Steps come in groups whose members run concurrently,
 * with fc.scheduler choosing the order of every repository, gateway and queue call.
 */

const orderId = `ord_${'0123456789abcdef'.repeat(2)}`;
const start = new Date('2026-11-23T09:30:00Z');
const schedule = defaultSettlementSchedule;

type StartStatus = 'AWAITING_SETTLEMENT' | 'PENDING_PAYMENT' | 'EXPIRED' | 'CANCELLED' | 'FAILED';
type Truth = 'SUCCESS' | 'FAILED' | 'PENDING';
type Step =
  | { readonly kind: 'deliver'; readonly pick: number }
  | { readonly kind: 'reconcile'; readonly advance: number };

/** Orders our side has closed before the gateway's answer: a later success must be refunded. */
const closedStarts: ReadonlySet<OrderStatus> = new Set(['EXPIRED', 'CANCELLED', 'FAILED']);

/** A gateway that emits events for what happens in its ledger, each copied by the network. */
class EmittingGateway extends FakeGateway {
  /** Event copies emitted and not yet delivered. */
  readonly inFlight: GatewayEvent[] = [];
  private emitted = 0;

  constructor(
    private readonly clock: FixedClock,
    private readonly copies: readonly number[],
  ) {
    super();
  }

  emit(
    type: GatewayEvent['type'],
    paymentId: string,
    amount: number,
    extra: { declineCode?: string; refundId?: string } = {},
  ): void {
    const event = gatewayEventSchema.parse({
      id: `evt_${this.emitted + 1}`,
      type,
      created: Math.floor(this.clock.now().getTime() / 1000),
      data: {
        paymentId,
        idempotencyKey: orderId,
        amount,
        currency: latteOrder.currency,
        ...extra,
      },
    });
    const copies = this.copies[this.emitted] ?? 1;
    this.emitted++;
    for (let copy = 0; copy < copies; copy++) this.inFlight.push(event);
  }

  override settle(idempotencyKey: string, kind: 'succeeded' | 'declined'): void {
    const before = this.charges.get(idempotencyKey);
    super.settle(idempotencyKey, kind);
    const after = this.charges.get(idempotencyKey);
    if (before?.kind !== 'pending' || after === undefined || after.kind === 'pending') return;
    this.emit(
      after.kind === 'succeeded' ? 'payment.succeeded' : 'payment.failed',
      before.paymentId,
      latteOrder.amount,
      after.kind === 'declined' ? { declineCode: after.declineCode } : {},
    );
  }

  override async refund(request: RefundRequest): Promise<RefundOutcome> {
    const first = !this.refunds.has(request.idempotencyKey);
    const outcome = await super.refund(request);
    if (first && outcome.kind === 'refunded') {
      this.emit('refund.succeeded', request.paymentId, request.amount, {
        refundId: outcome.refundId,
      });
    }
    return outcome;
  }
}

/** The same call, started only when the scheduler says so: each I/O is one atomic step. */
function gate<A extends unknown[], R>(
  s: fc.Scheduler,
  label: string,
  call: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    await s.schedule(Promise.resolve(), label);
    return call(...args);
  };
}

interface World {
  readonly orders: InMemoryOrders;
  readonly gateway: EmittingGateway;
  readonly checks: RecordingSettlementChecks;
  readonly clock: FixedClock;
  readonly counts: {
    lateSuccess: number;
    unknownOrder: number;
    amountMismatch: number;
    foreignRefund: number;
  };
  readonly deps: ReconcileDeps & { readonly callbacks: CallbackObserver };
}

function world(copies: readonly number[]): World {
  const clock = new FixedClock(start);
  const orders = new InMemoryOrders();
  const gateway = new EmittingGateway(clock, copies);
  const checks = new RecordingSettlementChecks();
  const counts = { lateSuccess: 0, unknownOrder: 0, amountMismatch: 0, foreignRefund: 0 };
  const observer: SettlementObserver = {
    lateSuccess: () => {
      counts.lateSuccess++;
    },
    ignored: () => {},
    refundRejected: () => {},
    paymentWindowExpired: () => {},
    foreignRefund: () => {},
    refundFailed: () => {},
  };
  const callbacks: CallbackObserver = {
    unknownOrder: () => {
      counts.unknownOrder++;
    },
    amountMismatch: () => {
      counts.amountMismatch++;
    },
    foreignRefund: () => {
      counts.foreignRefund++;
    },
  };
  const deps = {
    orders,
    clock,
    deadlines: defaultDeadlinePolicy,
    settlementChecks: checks,
    schedule,
    observer,
    gateway,
    payments: new RecordingPaymentQueue(),
    backoff: defaultBackoffPolicy,
    callbacks,
  };
  return { orders, gateway, checks, clock, counts, deps };
}

/** The same dependencies, every repository, gateway and queue call gated by the scheduler. */
function scheduled(s: fc.Scheduler, w: World): World['deps'] {
  const { orders, gateway, checks } = w;
  const gatedOrders: OrderRepository = {
    create: gate(s, 'orders.create', (order) => orders.create(order)),
    claim: gate(s, 'orders.claim', (guard, spend) => orders.claim(guard, spend)),
    unclaim: gate(s, 'orders.unclaim', (guard, spend) => orders.unclaim(guard, spend)),
    get: gate(s, 'orders.get', (id) => orders.get(id)),
    getMany: gate(s, 'orders.getMany', (ids) => orders.getMany(ids)),
    transition: gate(s, 'orders.transition', (move) => orders.transition(move)),
    findDue: gate(s, 'orders.findDue', (before, limit, lane) =>
      orders.findDue(before, limit, lane),
    ),
    annotate: gate(s, 'orders.annotate', (id, status, changes, whileDueAt) =>
      orders.annotate(id, status, changes, whileDueAt),
    ),
  };
  const gatedGateway: PaymentGateway = {
    name: gateway.name,
    charge: gate(s, 'gateway.charge', (request) => gateway.charge(request)),
    findByIdempotencyKey: gate(s, 'gateway.lookup', (key) => gateway.findByIdempotencyKey(key)),
    void: gate(s, 'gateway.void', (paymentId) => gateway.void(paymentId)),
    refund: gate(s, 'gateway.refund', (request) => gateway.refund(request)),
    refreshCredentials: gate(s, 'gateway.refresh', () => gateway.refreshCredentials()),
  };
  const gatedChecks: SettlementCheckQueue = {
    schedule: gate(s, 'checks.schedule', (request, delay) => checks.schedule(request, delay)),
  };
  return { ...w.deps, orders: gatedOrders, gateway: gatedGateway, settlementChecks: gatedChecks };
}

/** Puts the order in its drawn start state, with a PENDING charge at the gateway under its id. */
async function setUp(w: World, startStatus: StartStatus): Promise<void> {
  const { deps, gateway, orders } = w;
  const viaConfirmation = startStatus === 'EXPIRED' || startStatus === 'CANCELLED';
  await orders.create(
    openOrder({
      ...latteOrder,
      items: [...latteOrder.items],
      orderId,
      agentId: 'demo-agent',
      idempotencyKey: 'k',
      requestHash: 'h',
      status: viaConfirmation ? 'AWAITING_CONFIRMATION' : 'PENDING_PAYMENT',
      attempts: 1,
      createdAt: '2026-11-23T09:29:00.000Z',
      ...(viaConfirmation ? { confirmBy: '2026-11-23T09:34:00.000Z' } : {}),
    }),
  );
  // The charge the gateway holds for this order, and the payment.pending it emitted for it.
  gateway.nextStatus = 'pending';
  const charged = await gateway.charge({
    idempotencyKey: orderId,
    amount: latteOrder.amount,
    currency: latteOrder.currency,
    paymentMethod: latteOrder.paymentMethod,
  });
  if (charged.kind !== 'pending') throw new Error(`unexpected charge ${charged.kind}`);
  gateway.emit('payment.pending', charged.paymentId, latteOrder.amount);

  const order = (await orders.get(orderId)) as Order;
  switch (startStatus) {
    case 'AWAITING_SETTLEMENT':
      await applyGatewayOutcome(deps, order, { kind: 'pending', paymentId: charged.paymentId });
      break;
    case 'PENDING_PAYMENT':
      // The submission's answer was lost: the order does not know the charge is pending.
      break;
    case 'EXPIRED':
      await moveOrder(deps, order, 'CONFIRMATION_WINDOW_PASSED');
      break;
    case 'CANCELLED':
      await moveOrder(deps, order, 'CANCEL');
      break;
    case 'FAILED':
      await moveOrder(deps, order, 'RISK_REJECTED', { lastError: 'RISK_REJECTED' });
      break;
  }
  const ready = (await orders.get(orderId)) as Order;
  if (ready.status !== startStatus) throw new Error(`set-up reached ${ready.status}`);
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat() }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('reconcile' as const),
      advance: fc.integer({ min: 0, max: 420 }),
    }),
    weight: 2,
  },
);

const scenarioArb = fc.record({
  startStatus: fc.constantFrom<StartStatus>(
    'AWAITING_SETTLEMENT',
    'PENDING_PAYMENT',
    'EXPIRED',
    'CANCELLED',
    'FAILED',
  ),
  truth: fc.constantFrom<Truth>('SUCCESS', 'FAILED', 'PENDING'),
  /** How many copies of each emitted event the network carries, in the order they are emitted. */
  copies: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
  /** Steps in groups; the steps of one group run concurrently. */
  groups: fc.array(fc.array(stepArb, { minLength: 1, maxLength: 3 }), { maxLength: 8 }),
  /** Before which group the gateway settles (past the last: just before convergence). */
  settleBefore: fc.nat(),
});

describe('settlement convergence (property)', () => {
  it('converges to what the gateway ledger implies, through legal transitions only', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.scheduler(), async (scenario, s) => {
        const { startStatus, truth, copies, groups } = scenario;
        const w = world(copies);
        const { orders, gateway, checks, clock, counts } = w;
        await setUp(w, startStatus);
        const setUpHistory = ((await orders.get(orderId)) as Order).history.length;

        const direct = {
          handle: makeHandleGatewayEvent(w.deps),
          reconcile: makeReconcile(w.deps),
        };
        const gatedDeps = scheduled(s, w);
        const concurrent = {
          handle: makeHandleGatewayEvent(gatedDeps),
          reconcile: makeReconcile(gatedDeps),
        };

        let lastCheck = 0;
        let settled = false;
        const settleBefore = scenario.settleBefore % (groups.length + 1);
        const gatewaySettles = () => {
          if (truth === 'PENDING') return;
          const before = gateway.charges.get(orderId)?.kind;
          gateway.settle(orderId, truth === 'SUCCESS' ? 'succeeded' : 'declined');
          settled = before === 'pending' && gateway.charges.get(orderId)?.kind !== 'pending';
        };

        // 1. The network and the reconciler, in the drawn order, groups running concurrently.
        for (const [index, group] of groups.entries()) {
          if (index === settleBefore) gatewaySettles();
          const tasks: Array<Promise<unknown>> = [];
          for (const step of group) {
            if (step.kind === 'deliver') {
              if (gateway.inFlight.length === 0) continue;
              const [event] = gateway.inFlight.splice(step.pick % gateway.inFlight.length, 1);
              if (event !== undefined) tasks.push(concurrent.handle(event));
            } else {
              clock.advance(step.advance);
              lastCheck++;
              tasks.push(concurrent.reconcile({ orderId, check: lastCheck }, 1));
            }
          }
          await s.waitFor(Promise.all(tasks));
        }
        if (settleBefore === groups.length) gatewaySettles();

        // 2. Reconciliation runs to completion: the checks up to the last, then check 0 (refunds,
        // closed orders money may have reached) until the order is terminal and stays put.
        for (let round = 0; round < 20; round++) {
          const before = (await orders.get(orderId)) as Order;
          const waiting =
            before.status === 'AWAITING_SETTLEMENT' || before.status === 'PENDING_PAYMENT';
          clock.advance(waiting ? schedule.intervalSeconds : 1);
          const check = waiting ? Math.min(++lastCheck, schedule.checks) : 0;
          await direct.reconcile({ orderId, check }, 1);
          const after = (await orders.get(orderId)) as Order;
          if (after.version === before.version && terminalStatuses.has(after.status)) break;
        }
        const converged = (await orders.get(orderId)) as Order;

        // 3. Whatever was still in flight arrives late, then the reconciler looks once more.
        const late = gateway.inFlight.splice(0);
        for (const event of late) await direct.handle(event);
        await direct.reconcile({ orderId, check: 0 }, 1);
        const final = (await orders.get(orderId)) as Order;

        // The ledger, and how it follows from the drawn truth.
        const ledger = gateway.charges.get(orderId);
        if (ledger === undefined) throw new Error('the charge vanished');
        const paymentId = ledger.paymentId as string;
        const wasVoided = gateway.voided.has(paymentId);
        if (truth === 'SUCCESS' && settled) expect(ledger.kind).toBe('succeeded');
        if (truth === 'FAILED' && settled) {
          expect(ledger).toMatchObject({ kind: 'declined', declineCode: 'settlement_failed' });
        }
        if (!settled) {
          // The gateway never settled it, or the void came first and it no longer could.
          expect(ledger.kind === 'pending' || wasVoided).toBe(true);
        }
        if (wasVoided) expect(ledger).toMatchObject({ kind: 'declined', declineCode: 'voided' });

        // (1) The final status is the one the ledger implies.
        expect(terminalStatuses.has(converged.status)).toBe(true);
        expect(final.status).toBe(converged.status);
        const refunds = [...gateway.refunds.values()];
        if (closedStarts.has(startStatus)) {
          if (ledger.kind === 'succeeded') {
            expect(final.status).toBe('REFUNDED');
            expect(final.compensation).toBe(true);
            expect(refunds).toEqual([{ paymentId, amount: latteOrder.amount }]);
            expect(counts.lateSuccess).toBe(1);
          } else {
            // Declined, or voided by the reconciler before it could take the money (a payment
            // left open for a closed order is never ignored): our side stays closed, untouched.
            expect(ledger.kind).toBe('declined');
            expect(final.status).toBe(startStatus);
            expect(final.history).toHaveLength(setUpHistory);
            expect(counts.lateSuccess).toBe(0);
          }
        } else {
          expect(counts.lateSuccess).toBe(0);
          expect(ledger.kind).not.toBe('pending');
          if (ledger.kind === 'succeeded') {
            expect(final.status).toBe('PAID');
            expect(final.gatewayRef).toBe(paymentId);
          } else if (wasVoided) {
            expect(final.status).toBe('FAILED');
            expect(final.history.at(-1)).toMatchObject({
              from: 'AWAITING_SETTLEMENT',
              to: 'FAILED',
              cause: 'SETTLEMENT_DEADLINE_PASSED',
              errorCode: 'SETTLEMENT_TIMEOUT',
            });
            expect(final.lastError).toBe('SETTLEMENT_TIMEOUT');
          } else {
            expect(final.status).toBe('FAILED');
            expect(final.history.at(-1)).toMatchObject({
              to: 'FAILED',
              cause: 'GATEWAY_DECLINED',
            });
            expect(final.declineCode).toBe('settlement_failed');
          }
        }
        if (final.status !== 'REFUNDED') expect(refunds).toEqual([]);
        // A payment autopay voided leaves its closed order waiting in the due index for the
        // lookups that follow a void, the next an hour after it; any other order waits for nothing.
        if (wasVoided) {
          expect(final.voidedAt).toBeDefined();
          const [firstLookup = 0] = lookupsAfterVoid(schedule);
          expect(final.dueAt).toBe(secondsAfter(new Date(final.voidedAt ?? ''), firstLookup));
        } else {
          expect(final.dueAt).toBeUndefined();
        }
        expect(counts.unknownOrder).toBe(0);
        expect(counts.amountMismatch).toBe(0);
        // Every refund the gateway announces is the order's own, and recognised as such.
        expect(counts.foreignRefund).toBe(0);

        // (2) Every entry of the history is a legal move of the state machine, in one chain.
        const [intake, ...moves] = final.history;
        expect(intake).toMatchObject({ from: null, cause: 'INTAKE' });
        let previous = intake?.to;
        for (const entry of moves) {
          expect(entry.from).toBe(previous);
          if (entry.from === null || entry.cause === 'INTAKE') throw new Error('second intake');
          expect(canTransition(entry.from, entry.cause)).toBe(true);
          expect(transition(entry.from, entry.cause)).toBe(entry.to);
          previous = entry.to;
        }
        // Every wait the history entered had a check scheduled to end it.
        if (final.history.some((entry) => entry.to === 'AWAITING_SETTLEMENT')) {
          expect(checks.scheduled.some((c) => c.check === 1)).toBe(true);
        }
        if (final.history.some((entry) => entry.to === 'REFUND_PENDING')) {
          expect(checks.scheduled.some((c) => c.check === 0)).toBe(true);
        }

        // (3) Money: captured minus refunded is the order's amount if it is PAID, else nothing.
        const captured = ledger.kind === 'succeeded' ? latteOrder.amount : 0;
        const refunded = refunds.reduce((sum, refund) => sum + refund.amount, 0);
        expect(captured - refunded).toBe(final.status === 'PAID' ? latteOrder.amount : 0);
      }),
      { numRuns: 300, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) },
    );
  });
});
