import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { orderKey, spendKey } from '#adapters/table-keys.ts';
import { utcDay } from '#domain/agent.ts';
import {
  claimFor,
  defaultGuardPolicy,
  MAX_RATE_BURST,
  MAX_RATE_PER_SECOND,
  ownRecordOf,
} from '#domain/agent-guards.ts';
import { signAgentToken } from '../../runtime/auth.ts';
import { type LocalRuntime, startLocalRuntime } from '../../runtime/local-runtime.ts';
import { postBenchOrder } from '../bench/pipeline.ts';
import { median, percentile, progress } from '../bench/stats.ts';
import { trustedAgent } from './agent.ts';
import { type DynamoCall, DynamoCallLog } from './dynamo-calls.ts';
import { itemBytes } from './item-size.ts';

/**
 * One agent hammering its own agent-day item (SPEND#<agent>#<day>) through the real intake
 * function behind the local HTTP API: every placement updates that one item (spend, token
 * bucket, recent intents), today in one TransactWriteItems with the order; the run counts any
 * write that names the item, so it reads the same if that becomes a single-item write.
 */

/** The bucket intake applies when an agent's profile sets none: lifted, to find the item's own limit. */
const LIFTED_RATE = 1000;

export interface HotAgentCase {
  readonly label: string;
  /** The agent's own bucket; none means the intake default, lifted for this run. */
  readonly rate?: { readonly perSecond: number; readonly burst: number };
  readonly clients: number;
  readonly seconds: number;
  /**
   * Fills the day item's earlier duplicate-window slots with this many KB of recorded intents
   * first, as ~6 minutes of a fast agent would, to see what intake does at DynamoDB's 400 KB.
   */
  readonly prefillKb?: number;
}

export interface HotAgentResult {
  readonly label: string;
  readonly bucket: string;
  readonly clients: number;
  readonly seconds: number;
  readonly requests: number;
  /** 202 PENDING_PAYMENT: placed, counted against the day, queued for payment. */
  readonly paid: number;
  /** 202 in any other status (a duplicate or over the day's limit would wait for the user). */
  readonly waiting: number;
  readonly rateLimited: number;
  readonly unavailable: number;
  readonly otherStatuses: Readonly<Record<string, number>>;
  readonly paidPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Writes that name the agent's day item (a transaction or a single-item write), and how they ended. */
  readonly dayWrites: number;
  readonly conflicts: number;
  readonly refusedByCondition: number;
  /** Transactions that ended any other way, by how they ended. */
  readonly otherFailures: Readonly<Record<string, number>>;
  /** Median write units of a successful placement, among the first and the last tenth. */
  readonly firstWriteUnits: number;
  readonly lastWriteUnits: number;
  readonly dayItemBytes: number;
  readonly intentsInItem: number;
  /** One order item as intake stored it. */
  readonly orderItemBytes: number;
}

export const hotAgentCases: readonly HotAgentCase[] = [
  { label: 'wiring default', rate: { perSecond: 1, burst: 10 }, clients: 8, seconds: 10 },
  {
    label: 'most a user may set',
    rate: { perSecond: MAX_RATE_PER_SECOND, burst: MAX_RATE_BURST },
    clients: 8,
    seconds: 10,
  },
  { label: 'bucket lifted', clients: 1, seconds: 8 },
  { label: 'bucket lifted', clients: 4, seconds: 8 },
  { label: 'bucket lifted', clients: 16, seconds: 8 },
  { label: 'bucket lifted, day item prefilled', clients: 1, seconds: 8, prefillKb: 399.5 },
];

export async function runHotAgent(
  cases: readonly HotAgentCase[] = hotAgentCases,
): Promise<HotAgentResult[]> {
  progress('hot agent: starting the local stack (no queue consumers)');
  const stack = await startLocalRuntime({
    logLevel: 'SILENT',
    pollers: false,
    callbacks: false,
    environment: {
      POWERTOOLS_METRICS_DISABLED: 'true',
      AGENT_RATE_PER_SECOND: String(LIFTED_RATE),
      AGENT_RATE_BURST: String(LIFTED_RATE),
    },
  });
  try {
    const log = new DynamoCallLog();
    const clients = await import('#adapters/aws-clients.ts');
    log.attach(clients.dynamodb);
    const results: HotAgentResult[] = [];
    for (const [index, hotCase] of cases.entries()) {
      const agentId = `scale-hot-${index}-${randomUUID().slice(0, 8)}`;
      log.clear();
      results.push(await runCase(stack, agentId, hotCase, log.calls));
      const last = results.at(-1);
      progress(
        `hot agent: ${hotCase.label}, ${hotCase.clients} clients: ${last?.paid} placed, ` +
          `${last?.rateLimited} answered 429, ${last?.unavailable} answered 503`,
      );
    }
    return results;
  } finally {
    progress('hot agent: stopping the local stack');
    await stack.stop();
  }
}

async function runCase(
  stack: LocalRuntime,
  agentId: string,
  hotCase: HotAgentCase,
  calls: readonly DynamoCall[],
): Promise<HotAgentResult> {
  await new DynamoDbAgentDirectory(stack.dynamodb, stack.tableName).put(
    trustedAgent(agentId, hotCase.rate),
  );
  if (hotCase.prefillKb !== undefined) {
    await prefillDayItem(stack, agentId, hotCase.prefillKb);
  }
  const token = await signAgentToken(agentId);
  const statuses = new Map<string, number>();
  const latencies: number[] = [];
  let placedOrderId: string | undefined;
  const started = performance.now();
  const deadline = started + hotCase.seconds * 1000;
  const client = async () => {
    while (performance.now() < deadline) {
      const key = `scale-${randomUUID()}`;
      const sent = performance.now();
      // Each order its own intent, so the duplicate guard never holds one.
      const response = await postBenchOrder(stack.apiUrl, token, key);
      const body = (await response.json()) as { status?: string; orderId?: string };
      if (response.status === 202) placedOrderId = body.orderId;
      latencies.push(performance.now() - sent);
      const outcome =
        response.status === 202 ? `202 ${body.status ?? '?'}` : String(response.status);
      statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: hotCase.clients }, client));
  const elapsed = (performance.now() - started) / 1000;

  const dayKey = spendKey(agentId, utcDay(new Date())).pk;
  const dayWrites = calls.filter(
    (call) => writeOperations.has(call.operation) && call.keys.includes(dayKey),
  );
  const placed = dayWrites.filter((call) => call.outcome === 'ok');
  const tenth = Math.max(1, Math.floor(placed.length / 10));
  const day = await stack.dynamodb.send(
    new GetItemCommand({
      TableName: stack.tableName,
      Key: { pk: { S: dayKey } },
      ConsistentRead: true,
    }),
  );
  const order = placedOrderId
    ? await stack.dynamodb.send(
        new GetItemCommand({
          TableName: stack.tableName,
          Key: { pk: { S: orderKey(placedOrderId).pk } },
          ConsistentRead: true,
        }),
      )
    : undefined;
  const ring = Object.entries(day.Item ?? {}).filter(([name]) => /^r\d$/.test(name));
  const intents = ring
    .flatMap(([, value]) => value.SS ?? [])
    .filter((element) => !element.startsWith('@') && !element.includes('='));

  const take = (name: string) => statuses.get(name) ?? 0;
  const paid = take('202 PENDING_PAYMENT');
  const waiting = [...statuses]
    .filter(([name]) => name.startsWith('202 ') && name !== '202 PENDING_PAYMENT')
    .reduce((sum, [, count]) => sum + count, 0);
  const known = new Set(['429', '503']);
  return {
    label: hotCase.label,
    bucket: hotCase.rate
      ? `${hotCase.rate.perSecond}/s, burst ${hotCase.rate.burst}`
      : `${LIFTED_RATE}/s, burst ${LIFTED_RATE} (intake default raised)`,
    clients: hotCase.clients,
    seconds: elapsed,
    requests: latencies.length,
    paid,
    waiting,
    rateLimited: take('429'),
    unavailable: take('503'),
    otherStatuses: Object.fromEntries(
      [...statuses].filter(([name]) => !name.startsWith('202 ') && !known.has(name)),
    ),
    paidPerSecond: paid / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    dayWrites: dayWrites.length,
    conflicts: dayWrites.filter((call) => call.outcome.includes('TransactionConflict')).length,
    refusedByCondition: dayWrites.filter((call) => call.outcome.includes('ConditionalCheckFailed'))
      .length,
    otherFailures: countBy(
      dayWrites
        .map((call) => call.outcome)
        .filter(
          (outcome) =>
            outcome !== 'ok' &&
            !outcome.includes('TransactionConflict') &&
            !outcome.includes('ConditionalCheckFailed'),
        ),
    ),
    firstWriteUnits: median(placed.slice(0, tenth).map((call) => call.writeUnits)),
    lastWriteUnits: median(placed.slice(-tenth).map((call) => call.writeUnits)),
    dayItemBytes: day.Item ? itemBytes(day.Item) : 0,
    intentsInItem: intents.length,
    orderItemBytes: order?.Item ? itemBytes(order.Item) : 0,
  };
}

const writeOperations = new Set(['TransactWriteItems', 'UpdateItem', 'PutItem']);

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

const PREFILL_SLOTS = 4;

/** The record intake writes for the `n`th placement in minute `slot`, as a claim builds it. */
function recordOf(agentId: string, slot: number, n: number, hash: string): string {
  const claim = claimFor(
    { ring: {} },
    {
      agentId,
      now: slot * defaultGuardPolicy.intentSlotSeconds * 1000 + (n % 60_000),
      rate: { perSecond: 1, burst: 1 },
      hash,
      firstOrderId: `ord_${randomUUID().replaceAll('-', '')}`,
      checkDuplicate: false,
      placement: randomUUID().slice(0, 4),
    },
    defaultGuardPolicy,
  );
  return ownRecordOf(claim);
}

/**
 * Writes the agent's day item with `kb` KB of recorded intents (a 12-character hash and the
 * record `hash=<order id>.<placement token>` each, built by the claim intake makes) spread over the
 * four slots before the current one, each marked as its slot (`@<slot>`) so intake keeps them as
 * live; the current slot and the one the next minute reuses are left empty.
 */
async function prefillDayItem(stack: LocalRuntime, agentId: string, kb: number): Promise<void> {
  const now = Date.now();
  const slot = Math.floor(now / 60_000);
  const slotBytes = (kb * 1024) / PREFILL_SLOTS;
  const ring = Object.fromEntries(
    Array.from({ length: PREFILL_SLOTS }, (_, back) => {
      const earlier = slot - 1 - back;
      const elements = [`@${earlier}`];
      for (let n = 0, bytes = 0; bytes < slotBytes; n++) {
        const hash = `${earlier}${n}`.padStart(12, 'f').slice(-12);
        const firstOrder = recordOf(agentId, earlier, n, hash);
        elements.push(hash, firstOrder);
        bytes += hash.length + firstOrder.length;
      }
      return [`r${earlier % 6}`, { SS: elements }];
    }),
  );
  await stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: {
        pk: { S: spendKey(agentId, utcDay(new Date(now))).pk },
        agentId: { S: agentId },
        spent: { N: '0' },
        ...ring,
      },
    }),
  );
}
