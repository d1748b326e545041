import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import '#domain/zod-messages.ts';
import * as z from 'zod/mini';
import type { EndpointDirectory, EndpointTarget } from '#domain/notifications.ts';
import { notificationEventTypes } from '#domain/notifications.ts';
import type {
  CreateOutcome,
  WebhookEndpoint,
  WebhookEndpointStore,
} from '#domain/webhook-endpoints.ts';
import { webhooksKey } from './table-keys.ts';

const storedEndpoint = z.object({
  endpointId: z.string(),
  userId: z.string(),
  url: z.string(),
  events: z.array(z.enum(notificationEventTypes)),
  createdAt: z.string(),
  requestHash: z.string(),
});
const webhooksItem = z.object({ endpoints: z.record(z.string(), storedEndpoint) });

/**
 * A user's webhook endpoints, in one item `WEBHOOKS#<userId>` holding a map by endpoint id: the
 * list is one GetItem, and the cap is a condition on the same write that adds an endpoint.
 */
export class DynamoDbWebhookEndpoints implements WebhookEndpointStore, EndpointDirectory {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(endpoint: WebhookEndpoint, maxPerUser: number): Promise<CreateOutcome> {
    // Two tries at most: the first endpoint of a user creates the item, which another request
    // may do at the same moment; the add then applies to the item that one created.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const current = await this.addTo(endpoint, maxPerUser);
      if (current === 'added') return { kind: 'created' };
      if (current === undefined) {
        if (await this.createItem(endpoint)) return { kind: 'created' };
        continue;
      }
      const existing = current.endpoints[endpoint.endpointId];
      return existing ? { kind: 'exists', existing } : { kind: 'full' };
    }
    throw new Error(`Could not add webhook endpoint ${endpoint.endpointId}`);
  }

  /** Adds to the user's existing item; else returns what stopped it (undefined: no item). */
  private async addTo(
    endpoint: WebhookEndpoint,
    maxPerUser: number,
  ): Promise<'added' | z.infer<typeof webhooksItem> | undefined> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: webhooksKey(endpoint.userId),
          UpdateExpression: 'SET endpoints.#id = :endpoint',
          ConditionExpression:
            'attribute_exists(endpoints) AND attribute_not_exists(endpoints.#id) AND size(endpoints) < :max',
          ExpressionAttributeNames: { '#id': endpoint.endpointId },
          ExpressionAttributeValues: { ':endpoint': endpoint, ':max': maxPerUser },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'added';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return error.Item ? webhooksItem.parse(unmarshall(error.Item)) : undefined;
    }
  }

  private async createItem(endpoint: WebhookEndpoint): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...webhooksKey(endpoint.userId),
            endpoints: { [endpoint.endpointId]: endpoint },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async list(userId: string): Promise<readonly WebhookEndpoint[]> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: webhooksKey(userId) }),
    );
    return result.Item ? Object.values(webhooksItem.parse(result.Item).endpoints) : [];
  }

  endpointsOf(userId: string): Promise<readonly EndpointTarget[]> {
    return this.list(userId);
  }

  async endpoint(userId: string, endpointId: string): Promise<EndpointTarget | undefined> {
    return (await this.list(userId)).find((endpoint) => endpoint.endpointId === endpointId);
  }

  async remove(userId: string, endpointId: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: webhooksKey(userId),
          UpdateExpression: 'REMOVE endpoints.#id',
          ConditionExpression: 'attribute_exists(endpoints.#id)',
          ExpressionAttributeNames: { '#id': endpointId },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
