import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localCredentials, localRegion } from '../../local/runtime/emulators.ts';
import { createTableCommand } from '../../local/runtime/local-runtime.ts';

/** A table shaped like autopay's, on a DynamoDB Local endpoint, and a document client for it. */
export async function createTestTable(
  endpoint: string,
  tableName: string,
): Promise<DynamoDBDocumentClient> {
  const raw = new DynamoDBClient({ endpoint, region: localRegion, credentials: localCredentials });
  await raw.send(createTableCommand(tableName));
  return DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
}
