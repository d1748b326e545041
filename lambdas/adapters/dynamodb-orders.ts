import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DailySpend } from '#domain/agent.ts';
import type { Order } from '#domain/order.ts';
import type { CreateOrderOutcome, OrderRepository } from '#domain/ports.ts';
import { orderKey, spendKey } from './keys.ts';

/** Concurrent orders of one agent contend on its daily spend item; a few retries absorb it. */
const TRANSACTION_CONFLICT_RETRIES = 3;
/** Daily spend items outlive their day long enough for support to look at them. */
const SPEND_RETENTION_SECONDS = 8 * 24 * 3600;

export class DynamoDbOrderRepository implements OrderRepository {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(order: Order, spend?: DailySpend): Promise<CreateOrderOutcome> {
    if (spend === undefined) {
      return this.putOrder(order);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [{ Put: this.orderPut(order) }, { Update: this.spendUpdate(spend) }],
          }),
        );
        return { kind: 'created' };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) {
          throw error;
        }
        const [orderReason, spendReason] = error.CancellationReasons ?? [];
        if (orderReason?.Code === 'ConditionalCheckFailed' && orderReason.Item) {
          return { kind: 'exists', existing: toOrder(unmarshall(orderReason.Item)) };
        }
        if (spendReason?.Code === 'ConditionalCheckFailed') {
          return { kind: 'over-daily-limit' };
        }
        const conflict = error.CancellationReasons?.some((r) => r.Code === 'TransactionConflict');
        if (!conflict || attempt >= TRANSACTION_CONFLICT_RETRIES) {
          throw error;
        }
        await sleep(jitteredBackoffMs(attempt));
      }
    }
  }

  async get(orderId: string): Promise<Order | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    return result.Item ? toOrder(result.Item) : undefined;
  }

  private async putOrder(order: Order): Promise<CreateOrderOutcome> {
    try {
      await this.client.send(new PutCommand(this.orderPut(order)));
      return { kind: 'created' };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException && error.Item) {
        return { kind: 'exists', existing: toOrder(unmarshall(error.Item)) };
      }
      throw error;
    }
  }

  private orderPut(order: Order) {
    return {
      TableName: this.tableName,
      Item: { ...orderKey(order.orderId), ...order },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  private spendUpdate(spend: DailySpend) {
    const dayEnd = Date.parse(`${spend.day}T00:00:00Z`) / 1000 + 24 * 3600;
    return {
      TableName: this.tableName,
      Key: spendKey(spend.agentId, spend.day),
      UpdateExpression:
        'ADD spent :amount SET agentId = :agentId, expiresAt = if_not_exists(expiresAt, :expiresAt)',
      // Room for this order means the total before it is at most the limit minus its amount.
      ConditionExpression: 'attribute_not_exists(spent) OR spent <= :headroom',
      ExpressionAttributeValues: {
        ':amount': spend.amount,
        ':agentId': spend.agentId,
        ':expiresAt': dayEnd + SPEND_RETENTION_SECONDS,
        ':headroom': spend.dailyLimit - spend.amount,
      },
    };
  }
}

function toOrder(item: Record<string, unknown>): Order {
  const { pk: _pk, ...order } = item;
  return order as unknown as Order;
}

function jitteredBackoffMs(attempt: number): number {
  return Math.random() * 25 * 2 ** attempt;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
