import { spendKey } from '#adapters/table-keys.ts';
import { type Order, refundFailedAtGateway } from '#domain/order.ts';
import { type OrderStatus, transition } from '#domain/order-state.ts';
import type { GatewayPayment, GatewayRefund, Ledger } from '../../simulators/gateway/contract.ts';
import { isSettled } from './observe.ts';

/** One thing that should not have happened; `orderId` lets the report show the whole story. */
export interface Violation {
  readonly orderId?: string;
  readonly detail: string;
}

export interface Check {
  readonly name: string;
  readonly violations: readonly Violation[];
}

export interface Placed {
  readonly agentId: string;
  readonly key: string;
  readonly orderId: string;
  readonly amount: number;
}

/** What the gateway's ledger holds about one order. */
export interface LedgerEntry {
  readonly payments: readonly GatewayPayment[];
  readonly refunds: readonly GatewayRefund[];
  readonly captured: number;
  readonly refunded: number;
}

/** The ledger by order: the payments made under its id as the key, and their refunds. */
export function ledgerByOrder(ledger: Ledger): (orderId: string) => LedgerEntry {
  const refundsOf = new Map<string, GatewayRefund[]>();
  for (const refund of ledger.refunds) {
    refundsOf.set(refund.paymentId, [...(refundsOf.get(refund.paymentId) ?? []), refund]);
  }
  const paymentsOf = new Map<string, GatewayPayment[]>();
  for (const payment of ledger.payments) {
    const key = payment.idempotencyKey;
    paymentsOf.set(key, [...(paymentsOf.get(key) ?? []), payment]);
  }
  return (orderId) => {
    const payments = paymentsOf.get(orderId) ?? [];
    const charge = ledger.charges[orderId];
    return {
      payments,
      refunds: payments.flatMap((payment) => refundsOf.get(payment.id) ?? []),
      captured: charge?.captured ?? 0,
      refunded: charge?.refunded ?? 0,
    };
  };
}

export interface Evidence {
  readonly placed: readonly Placed[];
  readonly orders: ReadonlyMap<string, Order>;
  readonly ledger: Ledger;
  /** Each agent-day spend item's key → the spend it holds. */
  readonly spend: ReadonlyMap<string, number>;
  readonly replayViolations: readonly Violation[];
}

/** The invariants that must hold at quiescence, whatever the faults did, each its own check. */
export function checkInvariants(evidence: Evidence): Check[] {
  const { placed, orders } = evidence;
  const entryOf = ledgerByOrder(evidence.ledger);
  const settled: Violation[] = [];
  const money: Violation[] = [];
  const illegal: Violation[] = [];
  const refundIds: Violation[] = [];
  for (const p of placed) {
    const order = orders.get(p.orderId);
    if (order === undefined) {
      settled.push({ detail: `${p.orderId} (${p.key} of ${p.agentId}) is lost` });
      continue;
    }
    const entry = entryOf(p.orderId);
    settled.push(...unsettled(order));
    money.push(...moneyMismatch(order, entry));
    illegal.push(...illegalMoves(order));
    refundIds.push(...unknownRefund(order, entry));
  }
  const ours = [...orders.values()].filter((order) => order.agentId.startsWith('chaos-'));
  const extra = ours.length - new Set(placed.map((p) => p.orderId)).size;
  return [
    { name: 'every order is terminal, or held for review with a reason', violations: settled },
    {
      name: 'captured - refunded = amount when PAID or owing a failed refund, 0 otherwise',
      violations: money,
    },
    { name: 'every history is a legal path', violations: illegal },
    {
      name: 'no client replay created a second order',
      violations: [
        ...evidence.replayViolations,
        ...(extra > 0 ? [{ detail: `${extra} order(s) beyond the keys used` }] : []),
      ],
    },
    {
      name: "each agent-day's spent budget = its auto-paid orders that kept the money",
      violations: budgetMismatches(evidence),
    },
    {
      name: 'every REFUNDED order names a refund the gateway made of it, and that stands',
      violations: refundIds,
    },
  ];
}

function unsettled(order: Order): Violation[] {
  const orderId = order.orderId;
  if (!isSettled(order)) {
    const due = order.dueAt === undefined ? '' : `, due ${order.dueAt}`;
    return [{ orderId, detail: `still ${order.status}${due}` }];
  }
  if (order.status === 'HELD_FOR_REVIEW' && !order.holdReason) {
    return [{ orderId, detail: 'held without a reason' }];
  }
  return [];
}

/**
 * Checked once an order has settled; one that has not is reported as such already. What the
 * gateway holds is what the order says: its amount when PAID, or when it owes back a refund the
 * gateway failed after it succeeded (the money came back); nothing otherwise.
 */
function moneyMismatch(order: Order, entry: LedgerEntry): Violation[] {
  if (!isSettled(order)) return [];
  const net = entry.captured - entry.refunded;
  const holds = order.status === 'PAID' || refundFailedAtGateway(order);
  const expected = holds ? order.amount : 0;
  if (entry.payments.length <= 1 && net === expected) return [];
  return [
    {
      orderId: order.orderId,
      detail: `${order.status} with ${entry.payments.length} payment(s): captured ${entry.captured} - refunded ${entry.refunded} = ${net}, expected ${expected}`,
    },
  ];
}

function illegalMoves(order: Order): Violation[] {
  const violations: Violation[] = [];
  let previous: OrderStatus | null = null;
  for (const [index, entry] of order.history.entries()) {
    const legal =
      index === 0
        ? entry.from === null && entry.cause === 'INTAKE'
        : entry.from === previous &&
          entry.cause !== 'INTAKE' &&
          moves(entry.from, entry.cause, entry.to);
    if (!legal) {
      violations.push({
        orderId: order.orderId,
        detail: `${entry.from} -${entry.cause}-> ${entry.to} (entry ${index + 1})`,
      });
    }
    previous = entry.to;
  }
  return violations;
}

function moves(from: OrderStatus | null, cause: string, to: OrderStatus): boolean {
  try {
    return from !== null && transition(from, cause as Parameters<typeof transition>[1]) === to;
  } catch {
    return false;
  }
}

/**
 * A refund id the order records must be one the gateway made of this order's payment, and, for a
 * REFUNDED order, one that has not failed since.
 */
function unknownRefund(order: Order, entry: LedgerEntry): Violation[] {
  if (order.status !== 'REFUNDED') return [];
  const standing = (refund: GatewayRefund) => refund.status !== 'FAILED';
  if (entry.refunds.some((refund) => refund.id === order.refundId && standing(refund))) return [];
  const made = entry.refunds
    .map((refund) => `${refund.id} (${refund.amount}${standing(refund) ? '' : ', failed'})`)
    .join(', ');
  return [
    {
      orderId: order.orderId,
      detail: `records refund ${order.refundId ?? '(none)'}; the gateway made ${made || 'none'}`,
    },
  ];
}

/**
 * An auto-paid order (one intake queued for payment at once) claims its amount of the agent's
 * daily budget; only those that kept the money, or are still held for review, may hold it at the end.
 */
function budgetMismatches({ placed, orders, spend }: Evidence): Violation[] {
  const kept = new Map<string, number>();
  const released = new Map<string, Order[]>();
  for (const p of placed) {
    const order = orders.get(p.orderId);
    if (order === undefined || order.history[0]?.to !== 'PENDING_PAYMENT') continue;
    // Intake counts an auto-paid order against the UTC day it was placed on.
    const agentDay = spendKey(order.agentId, order.createdAt.slice(0, 10)).pk;
    // A held order has not ended: its claim stands until its user decides.
    if (order.status === 'PAID' || order.status === 'HELD_FOR_REVIEW') {
      kept.set(agentDay, (kept.get(agentDay) ?? 0) + order.amount);
    } else {
      released.set(agentDay, [...(released.get(agentDay) ?? []), order]);
    }
  }
  const violations: Violation[] = [];
  for (const agentDay of new Set([...kept.keys(), ...spend.keys()])) {
    const expected = kept.get(agentDay) ?? 0;
    const spent = spend.get(agentDay) ?? 0;
    if (spent === expected) continue;
    const others = released.get(agentDay) ?? [];
    const sample = others
      .slice(0, 4)
      .map((order) => `${order.orderId} ${order.status} ${order.amount}`)
      .join(', ');
    violations.push({
      ...(others[0] ? { orderId: others[0].orderId } : {}),
      detail: `${agentDay}: spent ${spent}, its PAID and held auto-paid orders hold ${expected}; ${others.length} auto-paid order(s) did not keep the money${sample ? ` (${sample}${others.length > 4 ? ', ...' : ''})` : ''}`,
    });
  }
  return violations;
}
