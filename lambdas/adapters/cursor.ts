import { ValidationError } from '#domain/errors.ts';

/**
 * A listing's cursor: DynamoDB's LastEvaluatedKey, base64url-encoded JSON. It is opaque to the
 * caller; a cursor that does not decode, or that belongs to another partition (another caller's
 * listing), is INVALID_CURSOR rather than a 5xx from DynamoDB or a peek at another's items.
 */
export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(
  cursor: string,
  partitionAttribute: string,
  partition: string,
): Record<string, unknown> {
  let key: unknown;
  try {
    key =
      cursor.length <= 2048
        ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
        : undefined;
  } catch {
    key = undefined;
  }
  const valid =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    Object.values(key).every((value) => typeof value === 'string') &&
    (key as Record<string, unknown>)[partitionAttribute] === partition;
  if (!valid) {
    throw new ValidationError('INVALID_CURSOR', undefined, { field: 'cursor' });
  }
  return key as Record<string, unknown>;
}
