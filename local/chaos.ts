import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import type { Order } from '#domain/order.ts';
import { type OrderStatus, terminalStatuses, transition } from '#domain/order-state.ts';
import { USER_SCOPES } from '#shared/wiring.ts';
import { signLocalToken } from './auth.ts';
import { seededRandom } from './faults.ts';
import { driveRotation } from './rotation.ts';
import { type LocalStack, startLocalStack } from './stack.ts';

export interface ChaosOptions {
  readonly orders: number;
  /** Trusted agents placing orders at once; a tenth as many more that need confirmation. */
  readonly agents: number;
  /** Orders in flight at once. */
  readonly concurrency: number;
  readonly seed: number;
  /** Consumer invocations killed mid-batch over the run. */
  readonly kills: number;
  /** How long the pipeline may take to settle everything after the last order. */
  readonly settleTimeoutMs: number;
  readonly log: (line: string) => void;
}

export const defaultChaosOptions: ChaosOptions = {
  orders: 2000,
  agents: 40,
  concurrency: 16,
  seed: 2026,
  kills: 5,
  settleTimeoutMs: 10 * 60_000,
  log: (line) => process.stdout.write(`${line}\n`),
};

/** The faults of the run: each one of the issue's defaults, settable. */
export const chaosFaults = {
  gateway: {
    // Timeouts 10 %: half hang without charging, half charge and then never answer.
    hangRate: 0.05,
    chargeThenTimeoutRate: 0.05,
    errorRate: 0.1,
    throttleRate: 0.05,
    pendingRate: 0.3,
    hangMs: 1_500,
    settleAfterMs: 500,
    callbacks: { duplicateRate: 0.2, outOfOrderRate: 0.1, lostRate: 0.1 },
  },
  risk: { internalErrorRate: 0.3 },
} as const;

export interface Check {
  readonly name: string;
  readonly violations: readonly string[];
}

export interface ChaosReport {
  readonly orders: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly checks: readonly Check[];
  readonly seconds: number;
  readonly ok: boolean;
}

interface Placed {
  readonly agentId: string;
  readonly key: string;
  readonly orderId: string;
  readonly amount: number;
}

/**
 * Drives orders through the whole local stack while every simulated dependency misbehaves, then
 * checks what must hold whatever happens: nothing is lost, nobody pays twice, every history is
 * a legal path, and no replay made a second order.
 */
export async function runChaos(overrides: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const options = { ...defaultChaosOptions, ...overrides };
  const random = seededRandom(options.seed);
  let kills = 0;
  const started = Date.now();
  const stack = await startLocalStack({
    logLevel: 'SILENT',
    seed: options.seed,
    scheduleSeconds: 2,
    gatewayFaults: chaosFaults.gateway,
    riskFaults: chaosFaults.risk,
    environment: {
      POWERTOOLS_METRICS_DISABLED: 'true',
      BACKOFF_MAX_SECONDS: '2',
      GATEWAY_TIMEOUT_MS: '1000',
      SETTLEMENT_FIRST_CHECK_SECONDS: '2',
      SETTLEMENT_INTERVAL_SECONDS: '2',
      SETTLEMENT_CHECKS: '4',
      CONFIRMATION_WINDOW_SECONDS: '5',
      PAYMENT_DEADLINE_SECONDS: '30',
      REFUND_DEADLINE_SECONDS: '20',
      RISK_FAIL_OPEN_LIMIT: '3000',
      MAX_ORDER_AMOUNT: '1000000',
    },
    // A killed batch comes back after its visibility timeout: keep it short for the run.
    queues: {
      paymentSubmission: { visibilityTimeoutSeconds: 10, maxReceiveCount: 10 },
      settlementCheck: { visibilityTimeoutSeconds: 10, maxReceiveCount: 10 },
    },
    crashAfterInvoke: () => {
      if (kills >= options.kills || random() > 0.05) return false;
      kills++;
      return true;
    },
  });
  try {
    const { trusted, cautious } = await seedChaosAgents(stack, options.agents);
    const tokens = new Map<string, string>();
    const userTokens = new Map<string, string>();
    for (const agentId of [...trusted, ...cautious]) {
      tokens.set(agentId, await signLocalToken(agentId));
      userTokens.set(agentId, await signLocalToken(agentId, [...USER_SCOPES]));
    }
    const placed: Placed[] = [];
    const replayViolations: string[] = [];
    let next = 0;
    let rotated = false;

    const placeOne = async (): Promise<void> => {
      const index = next++;
      if (index >= options.orders) return;
      if (!rotated && index >= options.orders / 2) {
        rotated = true;
        await rotateBoth(stack);
        options.log(`rotated both secrets after ${index} orders`);
      }
      const waits = random() < 0.1;
      const pool = waits ? cautious : trusted;
      const agentId = pool[Math.floor(random() * pool.length)] as string;
      const key = `chaos-${index}-${randomUUID()}`;
      const amount = 100 + Math.floor(random() * 39) * 100;
      const body = orderBody(amount);
      const order = await post(stack, tokens.get(agentId) ?? '', '/v1/orders', key, body);
      placed.push({ agentId, key, orderId: order.orderId, amount });
      if (random() < 0.1) {
        const replay = await post(stack, tokens.get(agentId) ?? '', '/v1/orders', key, body);
        if (replay.orderId !== order.orderId) {
          replayViolations.push(`${key}: replay made ${replay.orderId} beside ${order.orderId}`);
        }
      }
      if (order.status === 'AWAITING_CONFIRMATION') {
        const choice = random();
        const action = choice < 0.5 ? 'confirm' : choice < 0.75 ? 'cancel' : undefined;
        if (action) {
          // The user decides, with the user's token.
          await post(stack, userTokens.get(agentId) ?? '', `/v1/orders/${order.orderId}/${action}`);
        }
      }
      await placeOne();
    };
    await Promise.all(Array.from({ length: options.concurrency }, placeOne));
    options.log(`placed ${placed.length} orders in ${secondsSince(started)} s; settling...`);

    const orders = await settle(stack, placed, options.settleTimeoutMs);
    const checks = checkInvariants(stack, placed, orders, replayViolations);
    const byStatus: Record<string, number> = {};
    for (const order of orders.values()) {
      const label = order.deadLettered && order.status === 'PENDING_PAYMENT' ? 'DLQ' : order.status;
      byStatus[label] = (byStatus[label] ?? 0) + 1;
    }
    checks.push({
      name: 'consumers were killed mid-batch',
      violations: kills > 0 || options.kills === 0 ? [] : ['no kill happened'],
    });
    const report: ChaosReport = {
      orders: placed.length,
      byStatus,
      checks,
      seconds: secondsSince(started),
      ok: checks.every((check) => check.violations.length === 0),
    };
    printReport(report, kills, options.log);
    return report;
  } finally {
    await stack.stop();
  }
}

async function seedChaosAgents(stack: LocalStack, count: number) {
  const agents = new DynamoDbAgentDirectory(stack.dynamodb, stack.tableName);
  const trusted = Array.from({ length: count }, (_, i) => `chaos-agent-${i}`);
  const cautious = Array.from(
    { length: Math.max(1, Math.ceil(count / 10)) },
    (_, i) => `chaos-cautious-${i}`,
  );
  for (const agentId of trusted) {
    await agents.put({
      agentId,
      trustedActions: ['order_coffee', 'submit_payment'],
      limitCurrency: 'CNY',
      perOrderLimit: 5_000,
      dailyLimit: 100_000_000,
    });
  }
  for (const agentId of cautious) {
    await agents.put({
      agentId,
      trustedActions: ['order_coffee'],
      limitCurrency: 'CNY',
      perOrderLimit: 5_000,
      dailyLimit: 100_000_000,
    });
  }
  return { trusted, cautious };
}

function orderBody(amount: number) {
  return {
    action: 'order_coffee',
    sessionId: 'chaos',
    items: [{ sku: 'latte', size: 'medium', quantity: 1 }],
    amount,
    currency: 'CNY',
    paymentMethod: 'wallet',
  };
}

async function post(
  stack: LocalStack,
  token: string,
  path: string,
  key?: string,
  body?: unknown,
): Promise<{ orderId: string; status: OrderStatus }> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(key ? { 'idempotency-key': key } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const answer = (await response.json()) as { orderId: string; status: OrderStatus };
    // A 5xx is safe to retry with the same key: that is what the key is for.
    if (response.status < 500 || attempt >= 5) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
  }
}

async function rotateBoth(stack: LocalStack): Promise<void> {
  for (const secretId of [stack.secretIds.gatewayApiKey, stack.secretIds.webhookSigningSecret]) {
    await driveRotation((event) => stack.invoke('keyRotation', event), secretId);
  }
}

/** Settled: terminal, held for review, or given up on into a DLQ with its reason recorded. */
function isSettled(order: Order): boolean {
  return (
    terminalStatuses.has(order.status) ||
    order.status === 'HELD_FOR_REVIEW' ||
    (order.status === 'PENDING_PAYMENT' && order.deadLettered === true)
  );
}

async function allOrders(stack: LocalStack): Promise<Map<string, Order>> {
  const orders = new Map<string, Order>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await stack.dynamodb.send(
      new ScanCommand({
        TableName: stack.tableName,
        FilterExpression: 'begins_with(pk, :order)',
        ExpressionAttributeValues: { ':order': 'ORDER#' },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      orders.set(String(item.orderId), item as unknown as Order);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return orders;
}

async function settle(
  stack: LocalStack,
  placed: readonly Placed[],
  timeoutMs: number,
): Promise<Map<string, Order>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const orders = await allOrders(stack);
    const open = placed.filter((p) => {
      const order = orders.get(p.orderId);
      return order === undefined || !isSettled(order);
    });
    if (open.length === 0 || Date.now() > deadline) return orders;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

function checkInvariants(
  stack: LocalStack,
  placed: readonly Placed[],
  orders: ReadonlyMap<string, Order>,
  replayViolations: readonly string[],
): Check[] {
  const ledger = stack.gateway.ledger();
  const unsettled: string[] = [];
  const money: string[] = [];
  const illegal: string[] = [];
  for (const p of placed) {
    const order = orders.get(p.orderId);
    if (order === undefined) {
      unsettled.push(`${p.orderId}: lost`);
      continue;
    }
    if (!isSettled(order)) unsettled.push(`${p.orderId}: still ${order.status}`);
    if (order.status === 'HELD_FOR_REVIEW' && !order.holdReason) {
      unsettled.push(`${p.orderId}: held without a reason`);
    }
    if (order.deadLettered && !order.lastError) {
      unsettled.push(`${p.orderId}: in a DLQ without a reason`);
    }
    const charge = ledger.charges[p.orderId];
    const net = (charge?.captured ?? 0) - (charge?.refunded ?? 0);
    const expected = order.status === 'PAID' ? p.amount : 0;
    if ((charge?.payments ?? 0) > 1 || net !== expected) {
      money.push(
        `${p.orderId}: ${order.status} with ${charge?.payments ?? 0} payment(s), net ${net}`,
      );
    }
    let previous: OrderStatus | null = null;
    for (const [index, entry] of order.history.entries()) {
      const legal =
        index === 0
          ? entry.from === null && entry.cause === 'INTAKE'
          : entry.from === previous &&
            entry.cause !== 'INTAKE' &&
            moves(entry.from, entry.cause, entry.to);
      if (!legal) illegal.push(`${p.orderId}: ${entry.from} -${entry.cause}-> ${entry.to}`);
      previous = entry.to;
    }
  }
  const ours = [...orders.values()].filter((order) => order.agentId.startsWith('chaos-'));
  const extra = ours.length - new Set(placed.map((p) => p.orderId)).size;
  return [
    {
      name: 'every order is terminal, held with a reason, or dead-lettered with one',
      violations: unsettled,
    },
    { name: 'net charges: exactly one for PAID, none otherwise', violations: money },
    { name: 'no history holds an illegal transition', violations: illegal },
    {
      name: 'no client replay created a second order',
      violations: [
        ...replayViolations,
        ...(extra > 0 ? [`${extra} order(s) beyond the keys used`] : []),
      ],
    },
  ];
}

function moves(from: OrderStatus | null, cause: string, to: OrderStatus): boolean {
  try {
    return from !== null && transition(from, cause as Parameters<typeof transition>[1]) === to;
  } catch {
    return false;
  }
}

function secondsSince(start: number): number {
  return Math.round((Date.now() - start) / 100) / 10;
}

function printReport(report: ChaosReport, kills: number, log: (line: string) => void): void {
  log('');
  log(`chaos: ${report.orders} orders in ${report.seconds} s, ${kills} consumer kill(s)`);
  log(
    `final states: ${Object.entries(report.byStatus)
      .sort()
      .map(([status, count]) => `${status} ${count}`)
      .join(', ')}`,
  );
  log('');
  log('| check | result |');
  log('|---|---|');
  for (const check of report.checks) {
    const result = check.violations.length === 0 ? 'ok' : `VIOLATED (${check.violations.length})`;
    log(`| ${check.name} | ${result} |`);
  }
  for (const check of report.checks) {
    for (const violation of check.violations.slice(0, 10)) log(`  ${check.name}: ${violation}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const flag = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? Number(process.argv[at + 1]) : undefined;
  };
  const overrides: Partial<ChaosOptions> = {};
  for (const name of ['orders', 'agents', 'concurrency', 'seed', 'kills'] as const) {
    const value = flag(name);
    if (value !== undefined && Number.isFinite(value)) Object.assign(overrides, { [name]: value });
  }
  const report = await runChaos(overrides);
  process.exit(report.ok ? 0 : 1);
}
