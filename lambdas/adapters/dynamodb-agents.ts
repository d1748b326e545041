import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { AgentProfile } from '#domain/agent.ts';
import { MAX_RATE_BURST, MAX_RATE_PER_SECOND } from '#domain/agent-guards.ts';
import type { AgentDirectory } from '#domain/ports.ts';
import { agentKey } from './table-keys.ts';

const agentItem = z.object({
  agentId: z.string(),
  trustedActions: z.array(z.string()),
  limitCurrency: z.string().regex(/^[A-Z]{3}$/),
  perOrderLimit: z.number().int().nonnegative(),
  dailyLimit: z.number().int().nonnegative(),
  ratePerSecond: z.number().positive().max(MAX_RATE_PER_SECOND).optional(),
  rateBurst: z.number().int().positive().max(MAX_RATE_BURST).optional(),
});

export class DynamoDbAgentDirectory implements AgentDirectory {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(agentId: string): Promise<AgentProfile | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: agentKey(agentId) }),
    );
    // A record an operator got wrong must not widen what an agent may do: fail loudly.
    return result.Item ? agentItem.parse(result.Item) : undefined;
  }

  /** Stores an agent's trust settings (operators and the local seed use this). */
  async put(agent: AgentProfile): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...agentKey(agent.agentId), ...agent } }),
    );
  }
}
