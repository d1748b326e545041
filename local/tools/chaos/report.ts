import type { Order } from '#domain/order.ts';
import type { Ledger } from '../../simulators/gateway/contract.ts';
import { type Check, ledgerByOrder } from './checks.ts';

export interface Summary {
  readonly orders: number;
  readonly seconds: number;
  readonly placingSeconds: number;
  readonly seed: number;
  readonly outcome: string;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly faults: readonly { readonly fault: string; readonly count: number }[];
  readonly answers: Readonly<Record<string, number>>;
  readonly checks: readonly Check[];
  /** How many violations of each check are printed in full. */
  readonly shownPerCheck: number;
}

/**
 * The run as a reader needs it to debug from the output alone: final states, faults injected,
 * each check's result, then the first violations of each check with the order's history and
 * what the gateway's ledger holds for it.
 */
export function printSummary(
  summary: Summary,
  orders: ReadonlyMap<string, Order>,
  ledger: Ledger,
  log: (line: string) => void,
): void {
  log('');
  log(
    `chaos: ${summary.orders} orders, seed ${summary.seed}, ${summary.seconds} s ` +
      `(${summary.placingSeconds} s placing); the wait ended ${summary.outcome}`,
  );
  table(log, ['final state', 'orders'], Object.entries(summary.byStatus));
  table(
    log,
    ['fault injected', 'count'],
    summary.faults.map(({ fault, count }) => [fault, count]),
  );
  log('');
  log(
    `users' answers: ${Object.entries(summary.answers)
      .sort()
      .map(([answer, count]) => `${answer} x${count}`)
      .join(', ')}`,
  );
  table(
    log,
    ['check', 'result'],
    summary.checks.map((check) => [
      check.name,
      check.violations.length === 0 ? 'ok' : `VIOLATED (${check.violations.length})`,
    ]),
  );
  const entryOf = ledgerByOrder(ledger);
  for (const check of summary.checks) {
    if (check.violations.length === 0) continue;
    log('');
    log(`${check.name}: ${check.violations.length} violation(s), the first ones:`);
    for (const violation of check.violations.slice(0, summary.shownPerCheck)) {
      const order = violation.orderId ? orders.get(violation.orderId) : undefined;
      log(`- ${violation.orderId ? `${violation.orderId}: ` : ''}${violation.detail}`);
      if (order) for (const line of story(order, entryOf(order.orderId))) log(`    ${line}`);
    }
  }
}

function table(log: (line: string) => void, header: [string, string], rows: [string, unknown][]) {
  log('');
  log(`| ${header[0]} | ${header[1]} |`);
  log('|---|---|');
  for (const [name, value] of rows) log(`| ${name} | ${value} |`);
}

function story(order: Order, entry: ReturnType<ReturnType<typeof ledgerByOrder>>): string[] {
  const facts = [
    `agent ${order.agentId}`,
    `${order.amount} ${order.currency}`,
    `status ${order.status}`,
    order.lastError && `lastError ${order.lastError}`,
    order.holdReason && `holdReason ${order.holdReason}`,
    order.risk && `risk ${order.risk.level}${order.risk.bypassed ? ' (bypassed)' : ''}`,
    order.gatewayRef && `gatewayRef ${order.gatewayRef}`,
    order.refundId && `refundId ${order.refundId}`,
    order.compensation && 'compensation',
    order.deadLettered && 'dead-lettered',
  ].filter(Boolean);
  const payments = entry.payments.map(
    (payment) =>
      `payment ${payment.id} ${payment.status}${payment.declineCode ? ` (${payment.declineCode})` : ''}, amount ${payment.amount}, refunded ${payment.amountRefunded}, voided ${payment.amountVoided}`,
  );
  const refunds = entry.refunds.map((refund) => `refund ${refund.id} of ${refund.amount}`);
  return [
    facts.join(', '),
    ...order.history.map(
      (step) =>
        `${step.at.slice(11, 23)} ${step.from ?? '(none)'} -${step.cause}-> ${step.to}${step.errorCode ? ` [${step.errorCode}]` : ''}`,
    ),
    `ledger: captured ${entry.captured}, refunded ${entry.refunded}; ${[...payments, ...refunds].join('; ') || 'no payment'}`,
  ];
}
