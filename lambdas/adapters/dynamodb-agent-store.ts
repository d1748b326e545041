import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod/mini';
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
import { agentItem, DynamoDbAgentDirectory, withoutUndefined } from './dynamodb-agents.ts';
import {
  agentKey,
  agentRequestKey,
  indexAttributes,
  OWNER_INDEX,
  ownerAgentsPartition,
} from './table-keys.ts';

const managedItem = z.extend(agentItem, {
  name: z._default(z.string(), ''),
  createdAt: z._default(z.string(), ''),
  updatedAt: z._default(z.string(), ''),
  version: z._default(z.number().check(z.int()), 1),
  history: z._default(z.array(z.looseObject({})), []),
});

/** The agents function's store: the user's agents, created once, changed at the version read. */
export class DynamoDbAgentStore extends DynamoDbAgentDirectory implements AgentStore {
  async getManaged(agentId: string): Promise<ManagedAgent | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: agentKey(agentId), ConsistentRead: true }),
    );
    return result.Item ? toManaged(result.Item) : undefined;
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
}

function toManaged(item: Record<string, unknown>): ManagedAgent {
  return withoutUndefined(managedItem.parse(item)) as unknown as ManagedAgent;
}
