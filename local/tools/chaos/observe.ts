import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { breakerKey, itemPrefixes } from '#adapters/table-keys.ts';
import { type Order, refundFailedAtGateway } from '#domain/order.ts';
import { terminalStatuses } from '#domain/order-state.ts';
import { queueNames } from '#shared/wiring.ts';
import type { LocalRuntime } from '../../runtime/local-runtime.ts';
import type { Users } from './users.ts';

/**
 * Where an order may rest once nothing more happens to it by itself: a terminal order out of the
 * due index (a closed one whose lookups after a void are not all done has more to come), held for
 * review, or owing a refund the gateway failed after it succeeded (held for a person).
 */
export function isSettled(order: Pick<Order, 'status' | 'dueAt' | 'lastError'>): boolean {
  return (
    (terminalStatuses.has(order.status) && order.dueAt === undefined) ||
    order.status === 'HELD_FOR_REVIEW' ||
    refundFailedAtGateway(order)
  );
}

async function scan(
  stack: LocalRuntime,
  filter: string,
  values: Record<string, string>,
  attributes?: readonly string[],
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await stack.dynamodb.send(
      new ScanCommand({
        TableName: stack.tableName,
        FilterExpression: filter,
        ExpressionAttributeValues: values,
        ...(attributes
          ? {
              ProjectionExpression: attributes.map((_, index) => `#a${index}`).join(', '),
              ExpressionAttributeNames: Object.fromEntries(
                attributes.map((name, index) => [`#a${index}`, name]),
              ),
            }
          : {}),
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** What watching needs of an order: reading whole orders every look would load DynamoDB Local. */
export type OrderGlance = Pick<
  Order,
  'orderId' | 'agentId' | 'status' | 'version' | 'dueAt' | 'lastError' | 'deadLettered'
>;

const glanced: readonly (keyof OrderGlance)[] = [
  'orderId',
  'agentId',
  'status',
  'version',
  'dueAt',
  'lastError',
  'deadLettered',
];

export async function scanOrders(stack: LocalRuntime): Promise<Map<string, Order>> {
  const items = await scan(stack, 'begins_with(pk, :order)', { ':order': 'ORDER#' });
  return new Map(items.map((item) => [String(item.orderId), item as unknown as Order]));
}

async function glanceAtOrders(stack: LocalRuntime): Promise<Map<string, OrderGlance>> {
  const items = await scan(stack, 'begins_with(pk, :order)', { ':order': 'ORDER#' }, glanced);
  return new Map(items.map((item) => [String(item.orderId), item as unknown as OrderGlance]));
}

/** Each agent-day spend item's key → what it says the agent spent that day. */
export async function scanSpend(stack: LocalRuntime): Promise<Map<string, number>> {
  const items = await scan(stack, 'begins_with(pk, :spend)', { ':spend': itemPrefixes.spend });
  return new Map(items.map((item) => [String(item.pk), Number(item.spent ?? 0)]));
}

/** Messages in the main queues: visible, in flight (returned for later included) and delayed. */
export async function queuedMessages(stack: LocalRuntime): Promise<number> {
  const counts = await Promise.all(
    queueNames.map(async (queue) => {
      const { Attributes = {} } = await stack.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: stack.queueUrls[queue].url,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      return Object.values(Attributes).reduce((sum, value) => sum + Number(value), 0);
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/**
 * The gateway's circuit breaker as the payment consumers share it, when it has tripped: while it
 * is open they return every payment message unsent, so the queue grows with the gateway idle.
 */
async function breakerNote(stack: LocalRuntime): Promise<string> {
  const { Item } = await stack.dynamodb.send(
    new GetCommand({
      TableName: stack.tableName,
      Key: breakerKey(stack.environment.GATEWAY_NAME ?? 'simulator'),
    }),
  );
  const opened = Number(Item?.epoch ?? 0);
  return opened === 0 ? '' : ` (breaker ${String(Item?.state)}, opened ${opened}x)`;
}

export interface WatchOptions {
  /** The order ids placed so far; read again on every look. */
  readonly placed: () => readonly string[];
  /** True while orders are still being placed: no quiescence before that ends. */
  readonly placing: () => boolean;
  /** From the end of placing. */
  readonly timeoutMs: number;
  /** Unsettled orders with no transition for this long are stuck: stop waiting for them. */
  readonly stallMs: number;
  readonly pollMs: number;
  /** Told how the wait goes every `progressMs`. */
  readonly log: (line: string) => void;
  readonly progressMs: number;
  /** An order settled in its state that still waits for something the queues do not show. */
  readonly awaits?: (order: OrderGlance) => boolean;
}

export interface Watched {
  /** Read whole once the wait is over. */
  readonly orders: Map<string, Order>;
  /** quiet: everything settled and nothing left to happen; otherwise why the wait ended. */
  readonly outcome: 'quiet' | 'stalled' | 'timed out';
}

/**
 * Looks at every order again and again, letting the users act on what they see, until the run
 * is quiet: every order settled, the queues empty (delayed and in-flight messages included),
 * the gateway with nothing left to send and the users with nothing left to ask, twice in a row.
 * A late duplicate or callback could still move an order otherwise, after it was checked.
 */
export async function watchUntilQuiet(
  stack: LocalRuntime,
  users: Users,
  options: WatchOptions,
): Promise<Watched> {
  let deadline: number | undefined;
  let progress = -1;
  let progressAt = Date.now();
  let quietLooks = 0;
  let toldAt = Date.now();
  for (;;) {
    const orders = await glanceAtOrders(stack);
    const acted = users.look(orders.values());
    const versions = [...orders.values()].reduce((sum, order) => sum + order.version, 0);
    if (versions !== progress) {
      progress = versions;
      progressAt = Date.now();
    }
    if (!options.placing()) {
      deadline ??= Date.now() + options.timeoutMs;
      const open = new Map<string, number>();
      for (const orderId of options.placed()) {
        const order = orders.get(orderId);
        if (order !== undefined && isSettled(order) && !options.awaits?.(order)) continue;
        const status = order?.status ?? 'not found';
        open.set(status, (open.get(status) ?? 0) + 1);
      }
      const settled = open.size === 0;
      const queued = await queuedMessages(stack);
      const idle =
        settled &&
        acted === 0 &&
        users.inFlight() === 0 &&
        stack.gateway.inFlight() === 0 &&
        queued === 0;
      if (Date.now() - toldAt >= options.progressMs) {
        toldAt = Date.now();
        const waiting = [...open].map(([status, count]) => `${status} ${count}`).join(', ');
        options.log(
          `  not settled: ${waiting || 'none'}; ${queued} message(s) queued, gateway busy with ${stack.gateway.inFlight()}${await breakerNote(stack)}, ${users.inFlight()} user request(s) out`,
        );
      }
      quietLooks = idle ? quietLooks + 1 : 0;
      const outcome =
        quietLooks >= 2
          ? 'quiet'
          : !settled && Date.now() - progressAt > options.stallMs
            ? 'stalled'
            : Date.now() > deadline
              ? 'timed out'
              : undefined;
      if (outcome) return { orders: await scanOrders(stack), outcome };
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
}
