import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type AnyClient = DynamoDBClient | DynamoDBDocumentClient | SQSClient | SecretsManagerClient;

interface Stack {
  add: (middleware: unknown, options: Record<string, unknown>) => void;
  remove: (name: string) => boolean;
}

/** DynamoDB operations that accept ReturnConsumedCapacity. */
const capacityOperations = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);

interface Capacity {
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
  CapacityUnits?: number;
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

/**
 * Counts every request a client sends, by `Service.Operation`, like test/support/calls.ts, but
 * after the SDK's retry middleware (step finalizeRequest), so each retried attempt counts as AWS
 * bills it. For DynamoDB it also asks for ReturnConsumedCapacity=INDEXES and sums what the server
 * reports (DynamoDB Local computes it from item sizes as DynamoDB does).
 */
export class AwsMeter {
  readonly calls = new Map<string, number>();
  readCapacity = 0;
  writeCapacity = 0;
  /** The part of the write units spent on global secondary index entries. */
  indexWriteCapacity = 0;
  /** DynamoDB calls that answered with no ConsumedCapacity (so their units are unknown). */
  unreportedCapacity = 0;
  /** Operation → [read units, write units] it consumed. */
  readonly capacityByOperation = new Map<string, [number, number]>();

  attach(client: AnyClient, service: string): this {
    const stack = client.middlewareStack as unknown as Stack;
    const countName = `benchMeterCount-${service}`;
    const capacityName = `benchMeterCapacity-${service}`;
    stack.remove(countName);
    stack.remove(capacityName);
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          const key = `${service}.${(context.commandName ?? '?').replace(/Command$/, '')}`;
          this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
          return next(args);
        },
      { step: 'finalizeRequest', name: countName, priority: 'low' },
    );
    if (service === 'DynamoDB') {
      stack.add(
        (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
          async (args: { input?: Record<string, unknown> }) => {
            const operation = (context.commandName ?? '').replace(/Command$/, '');
            const metered = capacityOperations.has(operation) && args.input !== undefined;
            if (metered && args.input) args.input.ReturnConsumedCapacity = 'INDEXES';
            const result = (await next(args)) as { output?: { ConsumedCapacity?: unknown } };
            if (metered) this.#addCapacity(operation, result.output?.ConsumedCapacity);
            return result;
          },
        { step: 'initialize', name: capacityName, priority: 'high' },
      );
    }
    return this;
  }

  #addCapacity(operation: string, consumed: unknown): void {
    const entries = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Capacity[];
    if (entries.length === 0) {
      this.unreportedCapacity += 1;
      return;
    }
    for (const entry of entries) {
      const read = entry.ReadCapacityUnits;
      const write = entry.WriteCapacityUnits;
      let units: [number, number];
      if (read !== undefined || write !== undefined) units = [read ?? 0, write ?? 0];
      else if (/Get|Query|Scan/.test(operation)) units = [entry.CapacityUnits ?? 0, 0];
      else units = [0, entry.CapacityUnits ?? 0];
      this.readCapacity += units[0];
      this.writeCapacity += units[1];
      if (units[1] > 0) {
        for (const index of Object.values(entry.GlobalSecondaryIndexes ?? {})) {
          this.indexWriteCapacity += index.CapacityUnits ?? 0;
        }
      }
      const sum = this.capacityByOperation.get(operation) ?? [0, 0];
      this.capacityByOperation.set(operation, [sum[0] + units[0], sum[1] + units[1]]);
    }
  }

  reset(): void {
    this.calls.clear();
    this.readCapacity = 0;
    this.writeCapacity = 0;
    this.indexWriteCapacity = 0;
    this.unreportedCapacity = 0;
    this.capacityByOperation.clear();
  }

  snapshot(): {
    calls: Record<string, number>;
    rcu: number;
    wcu: number;
    indexWcu: number;
    unreported: number;
    capacity: Record<string, [number, number]>;
  } {
    return {
      capacity: Object.fromEntries(this.capacityByOperation),
      calls: Object.fromEntries(this.calls),
      rcu: this.readCapacity,
      wcu: this.writeCapacity,
      indexWcu: this.indexWriteCapacity,
      unreported: this.unreportedCapacity,
    };
  }
}
