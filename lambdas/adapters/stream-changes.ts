import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { AgentImage, ItemChange } from '#domain/notifications.ts';
import { toOrder } from './dynamodb-orders.ts';
import { itemPrefixes } from './table-keys.ts';

type Image = Record<string, AttributeValue>;

function imageOf(image: unknown): Record<string, unknown> | undefined {
  return image ? unmarshall(image as Image) : undefined;
}

function agentImage(item: Record<string, unknown>): AgentImage {
  return {
    agentId: String(item.agentId ?? String(item.pk).slice(itemPrefixes.agent.length)),
    ownerId: typeof item.ownerId === 'string' ? item.ownerId : undefined,
    suspended: item.suspended === true,
    version: typeof item.version === 'number' ? item.version : undefined,
  };
}

/** A stream record as a change of an order or an agent; undefined for every other item. */
export function changeOf(record: DynamoDBRecord): ItemChange | undefined {
  const stream = record.dynamodb;
  const after = imageOf(stream?.NewImage);
  const sequenceNumber = stream?.SequenceNumber;
  if (after === undefined || sequenceNumber === undefined) return undefined;
  const before = imageOf(stream?.OldImage);
  const pk = String(after.pk ?? '');
  if (pk.startsWith(itemPrefixes.order)) {
    return {
      kind: 'order',
      before: before ? toOrder(before) : undefined,
      after: toOrder(after),
      sequenceNumber,
    };
  }
  if (pk.startsWith(itemPrefixes.agent)) {
    const seconds = stream?.ApproximateCreationDateTime;
    return {
      kind: 'agent',
      before: before ? agentImage(before) : undefined,
      after: agentImage(after),
      sequenceNumber,
      at: new Date(seconds === undefined ? Date.now() : seconds * 1000).toISOString(),
    };
  }
  return undefined;
}
