import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
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
import * as z from 'zod';
import type { AgentProfile } from '#domain/agent.ts';
import { MAX_RATE_BURST, MAX_RATE_PER_SECOND } from '#domain/agent-guards.ts';
import {
  AGENT_HISTORY_LIMIT,
  type AgentChange,
  type AgentCreationRecord,
  type AgentSettings,
  type AgentStore,
  type CreateAgentOutcome,
  type ManagedAgent,
  type Page,
} from '#domain/manage-agents.ts';
import { getItemsByKey } from './batch-get.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import {
  agentKey,
  agentRequestKey,
  indexAttributes,
  OWNER_INDEX,
  ownerAgentsPartition,
} from './table-keys.ts';

const agentItem = z.object({
  agentId: z.string(),
  ownerId: z.string().min(1),
  suspended: z.boolean().default(false),
  trustedActions: z.array(z.string()),
  limitCurrency: z.string().regex(/^[A-Z]{3}$/),
  perOrderLimit: z.number().int().nonnegative(),
  dailyLimit: z.number().int().nonnegative(),
  ratePerSecond: z.number().positive().max(MAX_RATE_PER_SECOND).optional(),
  rateBurst: z.number().int().positive().max(MAX_RATE_BURST).optional(),
});

const managedItem = agentItem.extend({
  name: z.string().default(''),
  createdAt: z.string().default(''),
  updatedAt: z.string().default(''),
  version: z.number().int().default(1),
  history: z.array(z.looseObject({})).default([]),
});

export class DynamoDbAgentDirectory implements AgentStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** The profile intake and payment submission read: a strongly consistent read, no cache. */
  async get(agentId: string): Promise<AgentProfile | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: agentKey(agentId), ConsistentRead: true }),
    );
    // A record an operator got wrong must not widen what an agent may do: fail loudly.
    return result.Item ? withoutUndefined(agentItem.parse(result.Item)) : undefined;
  }

  async getManaged(agentId: string): Promise<ManagedAgent | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: agentKey(agentId), ConsistentRead: true }),
    );
    return result.Item ? toManaged(result.Item) : undefined;
  }

  /** Stores an agent's profile as it is (operators, the local seed and the tools use this). */
  async put(agent: AgentProfile | ManagedAgent): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: this.agentItem(agent) }),
    );
  }

  async create(
    agent: ManagedAgent,
    creation: { readonly requestId: string; readonly requestHash: string },
  ): Promise<CreateAgentOutcome> {
    const record: AgentCreationRecord = {
      agentId: agent.agentId,
      requestHash: creation.requestHash,
    };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...agentRequestKey(creation.requestId), ...record },
                ConditionExpression: 'attribute_not_exists(pk)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: this.agentItem(agent),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return { kind: 'created' };
    } catch (error) {
      const [requestReason] =
        error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      if (requestReason?.Code === 'ConditionalCheckFailed' && requestReason.Item) {
        const { agentId, requestHash } = unmarshall(requestReason.Item);
        return { kind: 'exists', existing: { agentId, requestHash } };
      }
      throw error;
    }
  }

  async findCreation(requestId: string): Promise<AgentCreationRecord | undefined> {
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: agentRequestKey(requestId),
        ConsistentRead: true,
      }),
    );
    return result.Item
      ? { agentId: String(result.Item.agentId), requestHash: String(result.Item.requestHash) }
      : undefined;
  }

  async listByOwner(ownerId: string, limit: number, cursor?: string): Promise<Page<ManagedAgent>> {
    const partition = ownerAgentsPartition(ownerId);
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: OWNER_INDEX,
        KeyConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': indexAttributes.owner },
        ExpressionAttributeValues: { ':owner': partition },
        ScanIndexForward: false,
        Limit: limit,
        ...(cursor
          ? { ExclusiveStartKey: decodeCursor(cursor, indexAttributes.owner, partition) }
          : {}),
      }),
    );
    // A keys-only index: the agents themselves come from the table, as they are now.
    const ids = (result.Items ?? []).map((item) => String(item.pk));
    const items = await getItemsByKey(this.client, this.tableName, ids);
    return {
      items: ids
        .map((id) => items.get(id))
        .filter((item) => item !== undefined)
        .map(toManaged),
      ...(result.LastEvaluatedKey ? { cursor: encodeCursor(result.LastEvaluatedKey) } : {}),
    };
  }

  async update(
    agentId: string,
    version: number,
    fields: Partial<AgentSettings> & { readonly suspended?: boolean },
    change: AgentChange,
    at: string,
  ): Promise<ManagedAgent | undefined> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([field, value]) => {
        names[`#f_${field}`] = field;
        values[`:f_${field}`] = value;
        return `#f_${field} = :f_${field}`;
      });
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: agentKey(agentId),
          UpdateExpression: [
            'SET version = version + :one, updatedAt = :at',
            'history = list_append(history, :change)',
            ...sets,
          ].join(', '),
          ConditionExpression: 'version = :version',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ':one': 1,
            ':at': at,
            ':change': [change],
            ':version': version,
            ...values,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const agent = toManaged(result.Attributes ?? {});
      if (agent.history.length > AGENT_HISTORY_LIMIT) {
        await this.trimHistory(agent);
      }
      return agent;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Drops the oldest changes beyond the bound; conditional, so a racing change is never lost. */
  private async trimHistory(agent: ManagedAgent): Promise<void> {
    const excess = agent.history.length - AGENT_HISTORY_LIMIT;
    const removes = Array.from({ length: excess }, (_, index) => `history[${index}]`);
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: agentKey(agent.agentId),
          UpdateExpression: `REMOVE ${removes.join(', ')}`,
          ConditionExpression: 'version = :version',
          ExpressionAttributeValues: { ':version': agent.version },
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  private agentItem(agent: AgentProfile | ManagedAgent) {
    const managed: Partial<ManagedAgent> = agent;
    // A profile written by an operator or the seed has no bookkeeping of its own yet.
    const createdAt = managed.createdAt ?? new Date(0).toISOString();
    return {
      ...agentKey(agent.agentId),
      name: '',
      version: 1,
      history: [],
      ...agent,
      createdAt,
      updatedAt: managed.updatedAt ?? createdAt,
      [indexAttributes.owner]: ownerAgentsPartition(agent.ownerId),
    };
  }
}

function toManaged(item: Record<string, unknown>): ManagedAgent {
  return withoutUndefined(managedItem.parse(item)) as unknown as ManagedAgent;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
