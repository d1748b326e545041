import { performance } from 'node:perf_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** One DynamoDB request as the client saw it, after the SDK's own retries. */
export interface DynamoCall {
  readonly operation: string;
  /** The partition keys the request names (each item of a transaction or a batch). */
  readonly keys: readonly string[];
  readonly startedAt: number;
  readonly ms: number;
  /** `ok`, or the error's name; a cancelled transaction adds its reasons: `TransactionCanceled:None,TransactionConflict`. */
  readonly outcome: string;
  /** Write units DynamoDB reported for the request (ReturnConsumedCapacity=TOTAL). */
  readonly writeUnits: number;
}

const writeOperations = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems']);

interface Stack {
  add: (middleware: unknown, options: Record<string, unknown>) => void;
  remove: (name: string) => boolean;
}

interface Capacity {
  readonly WriteCapacityUnits?: number;
  readonly CapacityUnits?: number;
}

/**
 * Records every DynamoDB request a client makes: what it touched, how long it took and how it
 * ended. Placed at the initialize step, before the SDK's retries, so a request counts once with
 * its final outcome, as the calling code saw it; a conditional write refused by its condition is
 * a call that ended `ConditionalCheckFailedException` (DynamoDB bills it one write unit).
 */
export class DynamoCallLog {
  readonly calls: DynamoCall[] = [];

  attach(client: DynamoDBClient | DynamoDBDocumentClient, name = 'scaleCallLog'): this {
    const stack = client.middlewareStack as unknown as Stack;
    stack.remove(name);
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: { input?: Record<string, unknown> }) => {
          const operation = (context.commandName ?? '?').replace(/Command$/, '');
          const input = args.input ?? {};
          if (writeOperations.has(operation)) input.ReturnConsumedCapacity = 'TOTAL';
          const startedAt = performance.now();
          const record = (outcome: string, consumed: unknown) =>
            this.calls.push({
              operation,
              keys: keysOf(input),
              startedAt,
              ms: performance.now() - startedAt,
              outcome,
              writeUnits: writeUnitsOf(consumed),
            });
          try {
            const result = (await next(args)) as { output?: { ConsumedCapacity?: unknown } };
            record('ok', result.output?.ConsumedCapacity);
            return result;
          } catch (error) {
            record(outcomeOf(error), undefined);
            throw error;
          }
        },
      { step: 'initialize', name, priority: 'high' },
    );
    return this;
  }

  clear(): void {
    this.calls.length = 0;
  }
}

function outcomeOf(error: unknown): string {
  const name = error instanceof Error ? error.name : 'Error';
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
  return reasons ? `${name}:${reasons.map((reason) => reason.Code ?? '?').join(',')}` : name;
}

function writeUnitsOf(consumed: unknown): number {
  const entries = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Capacity[];
  return entries.reduce(
    (sum, entry) => sum + (entry.WriteCapacityUnits ?? entry.CapacityUnits ?? 0),
    0,
  );
}

/** The `pk` of each item a request names, whether the document client or the raw one sent it. */
function keysOf(input: Record<string, unknown>): string[] {
  const pkOf = (key: unknown): string[] => {
    const pk = (key as { pk?: unknown } | undefined)?.pk;
    if (typeof pk === 'string') return [pk];
    const raw = (pk as { S?: unknown } | undefined)?.S;
    return typeof raw === 'string' ? [raw] : [];
  };
  if (input.Key) return pkOf(input.Key);
  if (input.Item) return pkOf(input.Item);
  if (Array.isArray(input.TransactItems)) {
    return input.TransactItems.flatMap((entry: Record<string, { Key?: unknown; Item?: unknown }>) =>
      Object.values(entry).flatMap((action) => pkOf(action.Key ?? action.Item)),
    );
  }
  if (input.RequestItems && typeof input.RequestItems === 'object') {
    return Object.values(input.RequestItems as Record<string, { Keys?: unknown[] }>).flatMap(
      (request) => (request.Keys ?? []).flatMap(pkOf),
    );
  }
  return [];
}
