import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { AgentOwners } from '#domain/notifications.ts';
import { agentKey } from './table-keys.ts';

/** The `ownerId` of an agent item, and nothing else of it. */
export class DynamoDbAgentOwners implements AgentOwners {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async ownerOf(agentId: string): Promise<string | undefined> {
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: agentKey(agentId),
        ProjectionExpression: 'ownerId',
      }),
    );
    const owner = result.Item?.ownerId;
    return typeof owner === 'string' && owner !== '' ? owner : undefined;
  }
}
