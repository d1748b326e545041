import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type LambdaHandler, lambdaContext } from './lambda-context.ts';

export type StreamHandler = LambdaHandler<DynamoDBStreamEvent, DynamoDBBatchResponse | undefined>;

export interface StreamPollerOptions {
  readonly streams: DynamoDBStreamsClient;
  readonly streamArn: string;
  readonly functionName: string;
  readonly timeoutSeconds: number;
  readonly handler: StreamHandler;
  readonly batchSize: number;
  /** Times a failing change is retried before it is skipped (Lambda: to its on-failure target). */
  readonly retryAttempts: number;
  /** Only changes of items whose `pk` starts with one of these reach the handler. */
  readonly keyPrefixes: readonly string[];
  /** Told of each change given up after its retries, as Lambda's on-failure destination is. */
  readonly onGiveUp?: (record: DynamoDBRecord) => void;
  readonly onInvokeError?: (error: unknown) => void;
  /** Pause between reads of a shard with nothing new (Lambda reads a shard 4 times a second). */
  readonly idleMs?: number;
}

export interface StreamPoller {
  stop(): Promise<void>;
}

interface ShardCursor {
  iterator: string | undefined;
  /** The change that failed last, and how many times in a row. */
  failing?: { sequenceNumber: string; attempts: number };
}

/**
 * Lambda's DynamoDB Streams event source mapping, locally: read every shard of the table's
 * stream in order, hand the handler batches in Lambda's event shape, and on a reported failure
 * read again from the failed change (so no later change of the shard overtakes it), up to the
 * retry budget.
 */
export function startStreamPoller(options: StreamPollerOptions): StreamPoller {
  const controller = new AbortController();
  const worker = poll(options, controller.signal);
  return {
    async stop() {
      controller.abort();
      await worker;
    },
  };
}

async function poll(options: StreamPollerOptions, signal: AbortSignal): Promise<void> {
  const shards = new Map<string, ShardCursor>();
  const idleMs = options.idleMs ?? 250;
  while (!signal.aborted) {
    let busy = false;
    try {
      await discoverShards(options, shards);
      for (const [shardId, cursor] of shards) {
        if (signal.aborted) return;
        if (cursor.iterator === undefined) continue;
        busy = (await readShard(options, shardId, cursor)) || busy;
      }
    } catch (error) {
      if (signal.aborted) return;
      options.onInvokeError?.(error);
    }
    if (!busy) await new Promise((resolve) => setTimeout(resolve, idleMs));
  }
}

async function discoverShards(
  options: StreamPollerOptions,
  shards: Map<string, ShardCursor>,
): Promise<void> {
  const described = await options.streams.send(
    new DescribeStreamCommand({ StreamArn: options.streamArn }),
  );
  for (const shard of described.StreamDescription?.Shards ?? []) {
    const shardId = shard.ShardId;
    if (shardId === undefined || shards.has(shardId)) continue;
    const started = await options.streams.send(
      new GetShardIteratorCommand({
        StreamArn: options.streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    shards.set(shardId, { iterator: started.ShardIterator });
  }
}

/** Reads one batch of a shard and hands it on; true when there was something to read. */
async function readShard(
  options: StreamPollerOptions,
  shardId: string,
  cursor: ShardCursor,
): Promise<boolean> {
  const read = await options.streams.send(
    new GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: options.batchSize }),
  );
  const next = read.NextShardIterator;
  const records = (read.Records ?? [])
    .map((record) => toLambdaRecord(record, options.streamArn))
    .filter((record) => matches(record, options.keyPrefixes));
  if (records.length === 0) {
    cursor.iterator = next;
    return (read.Records ?? []).length > 0;
  }
  const failedAt = await invoke(options, records);
  if (failedAt === undefined) {
    cursor.failing = undefined;
    cursor.iterator = next;
    return true;
  }
  const attempts = cursor.failing?.sequenceNumber === failedAt ? cursor.failing.attempts + 1 : 1;
  const givingUp = attempts > options.retryAttempts;
  if (givingUp) {
    const record = records.find((candidate) => candidate.dynamodb?.SequenceNumber === failedAt);
    if (record) options.onGiveUp?.(record);
    cursor.failing = undefined;
  } else {
    cursor.failing = { sequenceNumber: failedAt, attempts };
    await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempts)));
  }
  const again = await options.streams.send(
    new GetShardIteratorCommand({
      StreamArn: options.streamArn,
      ShardId: shardId,
      ShardIteratorType: givingUp ? 'AFTER_SEQUENCE_NUMBER' : 'AT_SEQUENCE_NUMBER',
      SequenceNumber: failedAt,
    }),
  );
  cursor.iterator = again.ShardIterator;
  return true;
}

/** The sequence number to read again from, or undefined when the whole batch is done. */
async function invoke(
  options: StreamPollerOptions,
  records: DynamoDBRecord[],
): Promise<string | undefined> {
  const first = records[0]?.dynamodb?.SequenceNumber;
  try {
    const response = await options.handler(
      { Records: records },
      lambdaContext(options.functionName, options.timeoutSeconds),
    );
    const failures = (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
    if (failures.length === 0) return undefined;
    // Lambda resumes from the lowest failed sequence number of the batch.
    const known = records
      .map((record) => record.dynamodb?.SequenceNumber ?? '')
      .filter((sequence) => failures.includes(sequence));
    return known[0] ?? first;
  } catch (error) {
    options.onInvokeError?.(error);
    return first;
  }
}

function matches(record: DynamoDBRecord, prefixes: readonly string[]): boolean {
  const pk = record.dynamodb?.Keys?.pk?.S ?? '';
  return prefixes.some((prefix) => pk.startsWith(prefix));
}

function toLambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const stream = record.dynamodb;
  const at = stream?.ApproximateCreationDateTime;
  return {
    eventID: record.eventID ?? '',
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion ?? 'us-east-1',
    eventSourceARN: streamArn,
    dynamodb: {
      ...(at ? { ApproximateCreationDateTime: Math.floor(at.getTime() / 1000) } : {}),
      Keys: stream?.Keys as NonNullable<DynamoDBRecord['dynamodb']>['Keys'],
      ...(stream?.NewImage
        ? { NewImage: stream.NewImage as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'] }
        : {}),
      ...(stream?.OldImage
        ? { OldImage: stream.OldImage as NonNullable<DynamoDBRecord['dynamodb']>['OldImage'] }
        : {}),
      SequenceNumber: stream?.SequenceNumber ?? '',
      SizeBytes: stream?.SizeBytes ?? 0,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}
