import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Retries of the keys a BatchGetItem left unprocessed (throttling), before giving up. */
const UNPROCESSED_RETRIES = 5;

/**
 * Items by their table key, strongly consistent, in one BatchGetItem (at most 100 keys) and its
 * unprocessed keys, if any: what a keys-only index query needs to answer with whole items.
 */
export async function getItemsByKey(
  client: DynamoDBDocumentClient,
  tableName: string,
  pks: readonly string[],
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  let keys = pks.map((pk) => ({ pk }));
  for (let attempt = 0; keys.length > 0; attempt++) {
    if (attempt > UNPROCESSED_RETRIES) {
      throw new Error(`BatchGetItem left ${keys.length} keys unprocessed`);
    }
    if (attempt > 0) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * 2 ** attempt));
    }
    const result = await client.send(
      new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
    );
    for (const item of result.Responses?.[tableName] ?? []) {
      found.set(String(item.pk), item);
    }
    keys = (result.UnprocessedKeys?.[tableName]?.Keys ?? []) as Array<{ pk: string }>;
  }
  return found;
}
