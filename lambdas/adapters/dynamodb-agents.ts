import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import '#domain/zod-messages.ts';
import * as z from 'zod/mini';
import type { AgentProfile } from '#domain/agent.ts';
import { MAX_RATE_BURST, MAX_RATE_PER_SECOND } from '#domain/agent-guards.ts';
import type { ManagedAgent } from '#domain/manage-agents.ts';
import type { AgentDirectory } from '#domain/ports.ts';
import { agentKey, indexAttributes, ownerAgentsPartition } from './table-keys.ts';

/**
 * An agent's profile as intake and payment submission read it. The agents function's store
 * (dynamodb-agent-store.ts) extends it, so the functions that only read stay small.
 */
export const agentItem = z.object({
  agentId: z.string(),
  ownerId: z.string().check(z.minLength(1)),
  suspended: z._default(z.boolean(), false),
  trustedActions: z.array(z.string()),
  limitCurrency: z.string().check(z.regex(/^[A-Z]{3}$/)),
  perOrderLimit: z.number().check(z.int(), z.nonnegative()),
  dailyLimit: z.number().check(z.int(), z.nonnegative()),
  ratePerSecond: z.optional(z.number().check(z.positive(), z.lte(MAX_RATE_PER_SECOND))),
  rateBurst: z.optional(z.number().check(z.int(), z.positive(), z.lte(MAX_RATE_BURST))),
});

export class DynamoDbAgentDirectory implements AgentDirectory {
  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
  ) {}

  /** The profile intake and payment submission read: a strongly consistent read, no cache. */
  async get(agentId: string): Promise<AgentProfile | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: agentKey(agentId), ConsistentRead: true }),
    );
    // A record an operator got wrong must not widen what an agent may do: fail loudly.
    return result.Item ? withoutUndefined(agentItem.parse(result.Item)) : undefined;
  }

  /** Stores an agent's profile as it is (operators, the local seed and the tools use this). */
  async put(agent: AgentProfile | ManagedAgent): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: this.agentItem(agent) }),
    );
  }

  protected agentItem(agent: AgentProfile | ManagedAgent) {
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

export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
