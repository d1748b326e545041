import {
  type AttributeValue,
  ConditionalCheckFailedException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AgentDay, DailySpend, SpendClaim } from '#domain/agent.ts';
import {
  type GuardClaim,
  type GuardState,
  type IntentCheck,
  intervalOf,
  ownRecordOf,
} from '#domain/agent-guards.ts';
import { TransientDependencyError } from '#domain/errors.ts';
import type { HistoryEntry, Order, PaymentFields } from '#domain/order.ts';
import { dueLaneOf } from '#domain/order-moves.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import type {
  ClaimOutcome,
  CreateOrderOutcome,
  DueLane,
  OrderIndex,
  OrderListing,
  OrderPage,
  OrderRepository,
  OrderTransition,
  TransitionOutcome,
} from '#domain/ports.ts';
import { getItemsByKey } from './batch-get.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import {
  indexAttributes,
  OWNER_INDEX,
  orderKey,
  ownerOrdersPartition,
  spendKey,
} from './table-keys.ts';

export const DUE_SHARDS = 4;
export const DUE_INDEX = 'due';
/**
 * Each lane of the due index is a set of shards of its own, so the sweep reads the money lane
 * apart from the waiting one. An order's lane changes only with a state that also sets a new
 * `dueAt`: the index's key changes with that write anyway (one delete and one put in the index),
 * so the lane costs no write unit. The money lane keeps the prefix every shard had before lanes.
 */
const laneShardPrefix: Record<DueLane, string> = { money: 'DUE', waiting: 'WAIT' };

/** Concurrent orders of one agent contend on its daily spend item; a few retries absorb it. */
const TRANSACTION_CONFLICT_RETRIES = 3;
/**
 * Every placement of one agent writes its agent-day item: a burst of them contends on it, and
 * more than the spend alone did.
 */
const GUARDED_CONFLICT_RETRIES = 6;
/** Daily spend items outlive their day long enough for support to look at them. */
const SPEND_RETENTION_SECONDS = 8 * 24 * 3600;
/** BatchGetItem reads at most 100 keys a request. */
const BATCH_GET_MAX_KEYS = 100;
/** How many index pages one listing page may read to fill itself with an agent's orders. */
const LISTING_QUERIES_PER_PAGE = 4;

export class DynamoDbOrderRepository implements OrderRepository, OrderIndex {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(order: Order): Promise<CreateOrderOutcome> {
    return this.putOrder(order);
  }

  /**
   * The claim on the agent-day item (spend, token bucket, recent intents) as one conditional
   * update, apart from the order: a transaction would bill both items twice. Just after midnight
   * a check of the previous day's item joins it in a transaction, for the intents still in the
   * window: the first five minutes of a day pay for that.
   */
  async claim(guard: GuardClaim, spend?: DailySpend): Promise<ClaimOutcome> {
    const update = this.guardUpdate(guard, spend);
    const previous = guard.previousDay && intentChecks(guard.previousDay.checks, guard.intent.hash);
    const check =
      guard.previousDay !== undefined && previous?.ConditionExpression !== undefined
        ? {
            TableName: this.tableName,
            Key: spendKey(guard.agentId, guard.previousDay.day),
            ConditionExpression: previous.ConditionExpression,
            ExpressionAttributeNames: previous.ExpressionAttributeNames,
            ExpressionAttributeValues: previous.ExpressionAttributeValues,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
          }
        : undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        if (check === undefined) {
          await this.client.send(new UpdateCommand(update));
        } else {
          await this.client.send(
            new TransactWriteCommand({
              TransactItems: [{ Update: update }, { ConditionCheck: check }],
            }),
          );
        }
        return { kind: 'claimed' };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          return {
            kind: 'guard-refused',
            observed: guardStateOf(error.Item),
            resent: sentMoreThanOnce(error),
          };
        }
        if (isItemTooLarge(error)) {
          return { kind: 'day-full' };
        }
        // A plain update that meets a claim's transaction just after midnight is refused with
        // TransactionConflictException, which the SDK does not retry: nothing was written.
        const plainConflict = error instanceof TransactionConflictException;
        if (!(error instanceof TransactionCanceledException) && !plainConflict) {
          throw error;
        }
        const [dayReason, previousReason] = plainConflict ? [] : (error.CancellationReasons ?? []);
        if (dayReason?.Code === 'ValidationError') {
          return { kind: 'day-full' };
        }
        const dayFailed = dayReason?.Code === 'ConditionalCheckFailed';
        const previousFailed = previousReason?.Code === 'ConditionalCheckFailed';
        if (dayFailed || previousFailed) {
          return {
            kind: 'guard-refused',
            observed: guardStateOf(dayFailed ? dayReason.Item : undefined),
            ...(previousFailed ? { previousDay: guardStateOf(previousReason.Item) } : {}),
            resent: sentMoreThanOnce(error),
          };
        }
        if (!plainConflict && !isConflict(error)) {
          throw error;
        }
        if (attempt >= GUARDED_CONFLICT_RETRIES) {
          // Nothing was written: the client's retry with the same key is safe (a 503).
          throw new TransientDependencyError('agent-day', { cause: error });
        }
        await sleep(jitteredBackoffMs(attempt));
      }
    }
  }

  /**
   * Takes the claim's spend and its interval of the bucket back, and its record of the intent
   * under its own order id. The record is also the condition: a second give-back of the same
   * claim (the SDK retrying one whose answer was lost) changes nothing.
   */
  async unclaim(guard: GuardClaim, spend?: DailySpend): Promise<void> {
    const change = this.spendChange(guard, -(spend?.amount ?? 0));
    const ring = `#r${guard.intent.ring}`;
    try {
      await this.client.send(
        new UpdateCommand({
          ...change,
          UpdateExpression: `${change.UpdateExpression}, tat = tat - :interval DELETE ${ring} :own`,
          ConditionExpression: `contains(${ring}, :ownElement)`,
          ExpressionAttributeNames: { [ring]: `r${guard.intent.ring}` },
          ExpressionAttributeValues: {
            ...change.ExpressionAttributeValues,
            ':interval': intervalOf(guard.bucket),
            ':own': new Set([ownRecordOf(guard)]),
            ':ownElement': ownRecordOf(guard),
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw error;
    }
  }

  /** The claim as one conditional update: each condition is what the claim assumed. */
  private guardUpdate(guard: GuardClaim, spend: DailySpend | undefined) {
    const change = this.spendChange(guard, spend?.amount ?? 0);
    const { bucket, intent } = guard;
    const ring = `#r${intent.ring}`;
    const checks = intentChecks(intent.checks, intent.hash);
    const sets = ['agentId = :agentId', 'expiresAt = if_not_exists(expiresAt, :expiresAt)'];
    const adds = ['spent :amount'];
    const conditions: string[] = [];
    const values: Record<string, unknown> = {
      ...change.ExpressionAttributeValues,
      ...checks.ExpressionAttributeValues,
      ':now': bucket.now,
      ':elements': new Set(intent.elements),
      ':marker': intent.marker,
    };
    if (bucket.kind === 'full') {
      sets.push('tat = :next');
      conditions.push('(attribute_not_exists(tat) OR tat <= :now)');
      values[':next'] = bucket.next;
    } else {
      sets.push('tat = tat + :interval');
      conditions.push('(tat > :now AND tat <= :limit)');
      values[':interval'] = bucket.intervalMs;
      values[':limit'] = bucket.limit;
    }
    if (intent.fresh) {
      sets.push(`${ring} = :elements`);
      conditions.push(`(attribute_not_exists(${ring}) OR NOT contains(${ring}, :marker))`);
    } else {
      adds.push(`${ring} :elements`);
      conditions.push(`contains(${ring}, :marker)`);
    }
    if (checks.ConditionExpression !== undefined) conditions.push(checks.ConditionExpression);
    if (spend !== undefined) {
      conditions.push('(attribute_not_exists(spent) OR spent <= :headroom)');
      values[':headroom'] = spend.dailyLimit - spend.amount;
    }
    return {
      TableName: this.tableName,
      Key: change.Key,
      UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: { [ring]: `r${intent.ring}`, ...checks.ExpressionAttributeNames },
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  async get(orderId: string): Promise<Order | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    return result.Item ? toOrder(result.Item) : undefined;
  }

  /** Strongly consistent BatchGetItems of up to 100 keys each, its unprocessed keys retried. */
  async getMany(orderIds: readonly string[]): Promise<Map<string, Order>> {
    const pks = [...new Set(orderIds)].map((orderId) => orderKey(orderId).pk);
    const found = new Map<string, Order>();
    for (let start = 0; start < pks.length; start += BATCH_GET_MAX_KEYS) {
      const chunk = pks.slice(start, start + BATCH_GET_MAX_KEYS);
      for (const item of (await getItemsByKey(this.client, this.tableName, chunk)).values()) {
        const order = toOrder(item);
        found.set(order.orderId, order);
      }
    }
    return found;
  }

  async transition(move: OrderTransition): Promise<TransitionOutcome> {
    if (move.release !== undefined) {
      return this.transitionReleasing(move, move.release);
    }
    try {
      const result = await this.client.send(
        new UpdateCommand({ ...this.orderUpdate(move), ReturnValues: 'ALL_NEW' }),
      );
      return { kind: 'applied', order: toOrder(result.Attributes ?? {}) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return {
          kind: 'stale',
          current: error.Item ? toOrder(unmarshall(error.Item)) : undefined,
          resent: sentMoreThanOnce(error),
        };
      }
      throw error;
    }
  }

  /**
   * The move and the give-back of the order's auto-pay budget in one transaction, conditioned on
   * the order not having given it back before: whatever retries, the day's spend drops once.
   * Only orders that end without the money take this path, so the happy path never pays for it.
   */
  private async transitionReleasing(
    move: OrderTransition,
    release: SpendClaim,
  ): Promise<TransitionOutcome> {
    const update = this.orderUpdate(move);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  ...update,
                  ConditionExpression: `${update.ConditionExpression} AND attribute_not_exists(spendReleased)`,
                },
              },
              { Update: this.spendChange(release, -release.amount) },
            ],
          }),
        );
        // A transaction answers no item: read back what it wrote.
        const order = await this.get(move.orderId);
        if (order === undefined) throw new Error(`Order ${move.orderId} vanished after its move`);
        return { kind: 'applied', order };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) {
          throw error;
        }
        const [orderReason] = error.CancellationReasons ?? [];
        if (orderReason?.Code === 'ConditionalCheckFailed') {
          const item = orderReason.Item;
          return {
            kind: 'stale',
            current: item ? toOrder(unmarshall(item)) : undefined,
            resent: sentMoreThanOnce(error),
          };
        }
        if (!isConflict(error) || attempt >= TRANSACTION_CONFLICT_RETRIES) {
          throw error;
        }
        await sleep(jitteredBackoffMs(attempt));
      }
    }
  }

  /** The conditional update of one move: its status, history entry, version and changes. */
  private orderUpdate(move: OrderTransition) {
    const entry: HistoryEntry = {
      from: move.from,
      to: move.to,
      at: move.at,
      cause: move.event,
      ...(move.errorCode ? { errorCode: move.errorCode } : {}),
      call: move.call,
    };
    const fields = changeExpression(move.orderId, move.to, move.changes ?? {});
    return {
      TableName: this.tableName,
      Key: orderKey(move.orderId),
      UpdateExpression:
        `SET #status = :to, version = version + :one, updatedAt = :at, ` +
        `history = list_append(history, :entry)${fields.set}${fields.remove}`,
      ConditionExpression:
        move.expectedVersion === undefined
          ? '#status = :from'
          : '#status = :from AND version = :expectedVersion',
      ExpressionAttributeNames: { '#status': 'status', ...fields.names },
      ExpressionAttributeValues: {
        ':to': move.to,
        ':from': move.from,
        ...(move.expectedVersion === undefined ? {} : { ':expectedVersion': move.expectedVersion }),
        ':one': 1,
        ':at': move.at,
        ':entry': [entry],
        ...fields.values,
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  async findDue(before: string, limit: number, lane?: DueLane): Promise<Order[]> {
    const lanes: readonly DueLane[] = lane === undefined ? ['money', 'waiting'] : [lane];
    const shards = lanes.flatMap((each) =>
      Array.from({ length: DUE_SHARDS }, (_, shard) => `${laneShardPrefix[each]}#${shard}`),
    );
    const pages = await Promise.all(
      shards.map((shard) =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: DUE_INDEX,
            KeyConditionExpression: 'dueShard = :shard AND dueAt <= :before',
            ExpressionAttributeValues: { ':shard': shard, ':before': before },
            Limit: limit,
          }),
        ),
      ),
    );
    return pages
      .flatMap((page) => (page.Items ?? []).map(toOrder))
      .sort((a, b) => (a.dueAt ?? '').localeCompare(b.dueAt ?? ''))
      .slice(0, limit);
  }

  /**
   * Newest first, from the agent's or the owner's index (keys only, so no later write of the
   * order touches them), then the orders themselves in one batch read. A status filter applies
   * to each page after the read, so a page may hold fewer than `limit` orders.
   */
  /**
   * One index serves both listings: a user's orders are one partition of `byOwner`, and an
   * agent's are its owner's, filtered after the read (an index of their own would cost every
   * order another write unit). A page short of matches reads on, at most a few queries, and its
   * cursor is the last order it holds.
   */
  async list(listing: OrderListing): Promise<OrderPage> {
    const attribute = indexAttributes.owner;
    const partition = ownerOrdersPartition(listing.ownerId);
    const matches = (order: Order) =>
      (listing.by === 'owner' || order.agentId === listing.agentId) &&
      (listing.status === undefined || order.status === listing.status);
    const found: { readonly order: Order; readonly key: Record<string, unknown> }[] = [];
    let start = listing.cursor ? decodeCursor(listing.cursor, attribute, partition) : undefined;
    for (let query = 0; query < LISTING_QUERIES_PER_PAGE && found.length < listing.limit; query++) {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: OWNER_INDEX,
          KeyConditionExpression: '#partition = :partition',
          ExpressionAttributeNames: { '#partition': attribute },
          ExpressionAttributeValues: { ':partition': partition },
          ScanIndexForward: false,
          Limit: listing.limit,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      const keys = page.Items ?? [];
      const items = await getItemsByKey(
        this.client,
        this.tableName,
        keys.map((key) => String(key.pk)),
      );
      for (const key of keys) {
        const item = items.get(String(key.pk));
        const order = item && toOrder(item);
        if (order && matches(order)) found.push({ order, key });
      }
      start = page.LastEvaluatedKey;
      if (start === undefined) break;
    }
    const kept = found.slice(0, listing.limit);
    const last = kept.at(-1);
    const cursor =
      found.length > listing.limit && last !== undefined
        ? { pk: last.key.pk, [attribute]: last.key[attribute], createdAt: last.key.createdAt }
        : start;
    return {
      orders: kept.map((each) => each.order),
      ...(cursor ? { cursor: encodeCursor(cursor) } : {}),
    };
  }

  async annotate(
    orderId: string,
    status: OrderStatus,
    changes: Partial<PaymentFields>,
    whileDueAt?: string,
  ): Promise<boolean> {
    const fields = changeExpression(orderId, status, changes);
    const due = whileDueAt === undefined ? undefined : { name: '#readDueAt', value: whileDueAt };
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: `SET updatedAt = :now${fields.set}${fields.remove}`,
          ConditionExpression: due
            ? '#status = :status AND #readDueAt = :readDueAt'
            : '#status = :status',
          ExpressionAttributeNames: {
            '#status': 'status',
            ...(due ? { [due.name]: 'dueAt' } : {}),
            ...fields.names,
          },
          ExpressionAttributeValues: {
            ':status': status,
            ':now': new Date().toISOString(),
            ...(due ? { ':readDueAt': due.value } : {}),
            ...fields.values,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return false;
      }
      throw error;
    }
  }

  private async putOrder(order: Order): Promise<CreateOrderOutcome> {
    try {
      await this.client.send(new PutCommand(this.orderPut(order)));
      return { kind: 'created' };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException && error.Item) {
        return {
          kind: 'exists',
          existing: toOrder(unmarshall(error.Item)),
          resent: sentMoreThanOnce(error),
        };
      }
      throw error;
    }
  }

  private orderPut(order: Order) {
    return {
      TableName: this.tableName,
      Item: {
        ...orderKey(order.orderId),
        ...order,
        ...(order.dueAt ? { dueShard: dueShardOf(order.orderId, order.status) } : {}),
        // The listing index's key, written with the order: no extra write request.
        ...(order.ownerId ? { [indexAttributes.owner]: ownerOrdersPartition(order.ownerId) } : {}),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  /**
   * Adds `amount` (negative to give it back) to an agent-day's spend. A day's item that expired
   * already is recreated by a give-back, and expires again.
   */
  private spendChange(day: AgentDay, amount: number) {
    const dayEnd = Date.parse(`${day.day}T00:00:00Z`) / 1000 + 24 * 3600;
    return {
      TableName: this.tableName,
      Key: spendKey(day.agentId, day.day),
      UpdateExpression:
        'ADD spent :amount SET agentId = :agentId, expiresAt = if_not_exists(expiresAt, :expiresAt)',
      ExpressionAttributeValues: {
        ':amount': amount,
        ':agentId': day.agentId,
        ':expiresAt': dayEnd + SPEND_RETENTION_SECONDS,
      } as Record<string, unknown>,
    };
  }
}

/** No ring slot of `checks` holds the intent: each is `NOT (has the hash AND is that slot)`. */
function intentChecks(checks: readonly IntentCheck[], hash: string) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const terms = checks.map((check, index) => {
    names[`#r${check.ring}`] = `r${check.ring}`;
    values[`:m${index}`] = check.marker;
    return `NOT (contains(#r${check.ring}, :hash) AND contains(#r${check.ring}, :m${index}))`;
  });
  if (terms.length > 0) values[':hash'] = hash;
  return {
    ...(terms.length > 0 ? { ConditionExpression: terms.join(' AND ') } : {}),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** The guards' part of an agent-day item as a refused write found it. */
function guardStateOf(item: Record<string, AttributeValue> | undefined): GuardState {
  if (item === undefined) return { ring: {} };
  const plain = unmarshall(item);
  const ring: Record<number, string[]> = {};
  for (const [name, value] of Object.entries(plain)) {
    const index = /^r(\d+)$/.exec(name)?.[1];
    if (index !== undefined && value instanceof Set) ring[Number(index)] = [...value] as string[];
  }
  return {
    ring,
    ...(typeof plain.tat === 'number' ? { tat: plain.tat } : {}),
    ...(typeof plain.spent === 'number' ? { spent: plain.spent } : {}),
  };
}

/** DynamoDB's answer to a write that would make an item pass 400 KB. */
function isItemTooLarge(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === 'ValidationException' &&
    /item size/i.test(error.message)
  );
}

/**
 * Whether the SDK sent the write more than once before this answer (its retry middleware counts
 * the attempts on the error): an earlier send may have been applied with its answer lost.
 */
function sentMoreThanOnce(error: { readonly $metadata?: { readonly attempts?: number } }): boolean {
  return (error.$metadata?.attempts ?? 1) > 1;
}

function isConflict(error: TransactionCanceledException): boolean {
  return (
    error.CancellationReasons?.some((reason) => reason.Code === 'TransactionConflict') ?? false
  );
}

/**
 * SET for the fields given a value, REMOVE for the ones given `undefined`. A deadline also sets
 * or removes the order's shard of the sparse due index (in the lane of `status`, the order's
 * status after the write), so only waiting orders are in it.
 */
function changeExpression(orderId: string, status: OrderStatus, given: Partial<PaymentFields>) {
  const changes: Record<string, unknown> = { ...given };
  if ('dueAt' in given) {
    changes.dueShard = given.dueAt === undefined ? undefined : dueShardOf(orderId, status);
  }
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const removes: string[] = [];
  for (const [field, value] of Object.entries(changes)) {
    names[`#f_${field}`] = field;
    if (value === undefined) {
      removes.push(`#f_${field}`);
    } else {
      values[`:f_${field}`] = value;
      sets.push(`#f_${field} = :f_${field}`);
    }
  }
  return {
    names,
    values,
    set: sets.length > 0 ? `, ${sets.join(', ')}` : '',
    remove: removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : '',
  };
}

/** Spreads each lane of the due index over a few partitions, so no single one runs hot. */
export function dueShardOf(orderId: string, status: OrderStatus): string {
  let hash = 0;
  for (const char of orderId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `${laneShardPrefix[dueLaneOf(status)]}#${hash % DUE_SHARDS}`;
}

export function toOrder(item: Record<string, unknown>): Order {
  const { pk: _pk, dueShard: _dueShard, [indexAttributes.owner]: _ownerIndex, ...order } = item;
  return order as unknown as Order;
}

function jitteredBackoffMs(attempt: number): number {
  return Math.random() * 25 * 2 ** attempt;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
