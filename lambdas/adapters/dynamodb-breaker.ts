import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BreakerSnapshot, BreakerState, BreakerStore } from '#domain/payment-ports.ts';
import { breakerKey, breakerWindowKey } from './table-keys.ts';

/** Window counters are only read while their window is current; TTL sweeps them away. */
const WINDOW_RETENTION_SECONDS = 3600;

/** The circuit breaker's shared state: one item per gateway, one counter item per window. */
export class DynamoDbBreakerStore implements BreakerStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** One round trip: the state, and the counts of the window under the epoch last seen. */
  async read(gateway: string, windowId: number, epochHint: number): Promise<BreakerSnapshot> {
    const stateKey = breakerKey(gateway).pk;
    const result = await this.client.send(
      new BatchGetCommand({
        RequestItems: {
          [this.tableName]: {
            Keys: [breakerKey(gateway), breakerWindowKey(gateway, epochHint, windowId)],
            ConsistentRead: true,
          },
        },
      }),
    );
    const items = result.Responses?.[this.tableName] ?? [];
    const state = items.find((item) => item.pk === stateKey) ?? {};
    const counts = items.find((item) => item.pk !== stateKey) ?? {};
    const epoch = Number(state.epoch ?? 0);
    // Counts read under an older epoch belong to a breaker that has opened since: ignore them.
    const current = epoch === epochHint;
    return {
      state: (state.state as BreakerState | undefined) ?? 'closed',
      openedAt: Number(state.openedAt ?? 0),
      probeUntil: Number(state.probeUntil ?? 0),
      epoch,
      windowId,
      windowSuccesses: current ? Number(counts.successes ?? 0) : 0,
      windowFailures: current ? Number(counts.failures ?? 0) : 0,
    };
  }

  async count(
    gateway: string,
    epoch: number,
    windowId: number,
    successes: number,
    failures: number,
  ): Promise<{ successes: number; failures: number }> {
    const result = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: breakerWindowKey(gateway, epoch, windowId),
        UpdateExpression: 'ADD successes :s, failures :f SET expiresAt = :expiresAt',
        ExpressionAttributeValues: {
          ':s': successes,
          ':f': failures,
          ':expiresAt': Math.floor(Date.now() / 1000) + WINDOW_RETENTION_SECONDS,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return {
      successes: Number(result.Attributes?.successes ?? 0),
      failures: Number(result.Attributes?.failures ?? 0),
    };
  }

  open(gateway: string, from: BreakerState, at: number): Promise<boolean> {
    const condition =
      from === 'closed' ? 'attribute_not_exists(#state) OR #state = :from' : '#state = :from';
    return this.conditionalUpdate(gateway, {
      UpdateExpression: 'SET #state = :open, openedAt = :at, probeUntil = :zero ADD epoch :one',
      ConditionExpression: condition,
      ExpressionAttributeValues: {
        ':open': 'open',
        ':at': at,
        ':zero': 0,
        ':one': 1,
        ':from': from,
      },
    });
  }

  acquireProbe(
    gateway: string,
    now: number,
    leaseUntil: number,
    openedAt: number,
  ): Promise<boolean> {
    return this.conditionalUpdate(gateway, {
      UpdateExpression: 'SET #state = :half, probeUntil = :lease',
      ConditionExpression:
        '(#state = :open AND openedAt = :openedAt) OR (#state = :half AND probeUntil < :now)',
      ExpressionAttributeValues: {
        ':half': 'half_open',
        ':open': 'open',
        ':lease': leaseUntil,
        ':openedAt': openedAt,
        ':now': now,
      },
    });
  }

  close(gateway: string): Promise<boolean> {
    return this.conditionalUpdate(gateway, {
      UpdateExpression: 'SET #state = :closed, probeUntil = :zero',
      ConditionExpression: '#state = :half',
      ExpressionAttributeValues: { ':closed': 'closed', ':half': 'half_open', ':zero': 0 },
    });
  }

  private async conditionalUpdate(
    gateway: string,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: breakerKey(gateway),
          ExpressionAttributeNames: { '#state': 'state' },
          ...update,
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
}
