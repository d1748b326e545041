import { documentClient, sqsClient } from './client-factories.ts';

/**
 * AWS clients, created once per instance and reused by every invocation (Secrets Manager's is
 * in its own module, so functions that never read a secret do not load its SDK).
 */
export const dynamodb = documentClient();
export const sqs = sqsClient();
