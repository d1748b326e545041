import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type LambdaHandler, lambdaContext } from './lambda-context.ts';

export type SqsHandler = LambdaHandler<SQSEvent, SQSBatchResponse | undefined>;

/** How SQS's at-least-once delivery plays out for one message received. */
export type DuplicateDelivery =
  /** The batch carries the message twice, so two runs of the handler race on it. */
  | { readonly kind: 'same-batch' }
  /** A copy of the message comes back by itself, this many seconds later (at most 900). */
  | { readonly kind: 'later'; readonly delaySeconds: number };

export interface QueuePollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly functionName: string;
  readonly timeoutSeconds: number;
  readonly handler: SqsHandler;
  readonly batchSize: number;
  /**
   * The mapping's MaximumBatchingWindowInSeconds (0 when absent): how long it gathers messages
   * before invoking, unless the batch fills first (see `gather`).
   */
  readonly batchingWindowSeconds?: number;
  /** Told of each batch before its invocation: the receives that gathered it, its messages. */
  readonly onBatch?: (batch: { readonly receives: number; readonly messages: number }) => void;
  /** Concurrent invocations, as the event source mapping's maximum concurrency bounds them. */
  readonly concurrency: number;
  readonly onInvokeError?: (error: unknown) => void;
  /**
   * Asked after each invocation: true plays a consumer killed mid-batch. Its work is done but
   * nothing is deleted, so every message of the batch comes back after its visibility timeout.
   */
  readonly crashAfterInvoke?: () => boolean;
  /**
   * Asked for each message on its first receive, copies excepted: a duplicate delivery to play,
   * or none. Standard queues deliver at least once; this makes "more than once" happen.
   */
  readonly duplicate?: () => DuplicateDelivery | undefined;
  /**
   * Asked before each receive: while true the poller receives nothing, as a disabled event
   * source mapping, so messages wait in the queue without counting receives toward the DLQ.
   */
  readonly paused?: () => Promise<boolean>;
  /**
   * Keeps each batch gathered while it is held away from the handler, received and in flight,
   * until it is released (see `BatchHold`).
   */
  readonly hold?: BatchHold;
}

/** How often a paused poller asks again whether it may go on. */
const PAUSED_RECHECK_MS = 250;

export interface QueuePoller {
  stop(): Promise<void>;
}

/** What one hold kept from the function, counted as its pollers gathered it. */
export interface HeldBatches {
  readonly batches: number;
  readonly messages: number;
}

/**
 * A control of the local platform, not of Lambda: while held, every batch its pollers gather
 * waits before its invocation, its messages received and in flight, their visibility timeout
 * running as for a function slow to start; `release` hands each over, in the order gathered.
 * Unlike `paused`, which stops receiving, it is certain: a message sent after `hold` returns
 * reaches the function only after `release`, whatever receive (a long poll of up to 20 s) was
 * under way. A hold longer than the visibility timeout lets its messages come back and be
 * received again, handed over twice on release, as SQS's at-least-once delivery allows.
 */
export class BatchHold {
  #gate: { readonly released: Promise<void>; readonly open: () => void } | undefined;
  #held = { batches: 0, messages: 0 };

  get holding(): boolean {
    return this.#gate !== undefined;
  }

  /** Holds the batches gathered from now on; holding again while held changes nothing. */
  hold(): void {
    if (this.#gate !== undefined) return;
    let open = () => {};
    const released = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.#gate = { released, open };
    this.#held = { batches: 0, messages: 0 };
  }

  /** Hands over every batch held and lets the next ones through; says what it held. */
  release(): HeldBatches {
    const gate = this.#gate;
    this.#gate = undefined;
    gate?.open();
    return { ...this.#held };
  }

  /**
   * Resolves when the poller may invoke its function with a batch of this many messages: at
   * once unless held. False when the poller stopped meanwhile: the batch is then not invoked,
   * and comes back after its visibility timeout, as from a disabled mapping.
   */
  async pass(messages: number, signal: AbortSignal): Promise<boolean> {
    const gate = this.#gate;
    if (gate === undefined) return true;
    if (signal.aborted) return false;
    this.#held.batches += 1;
    this.#held.messages += messages;
    let stop = () => {};
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
      signal.addEventListener('abort', stop, { once: true });
    });
    try {
      await Promise.race([gate.released, stopped]);
    } finally {
      signal.removeEventListener('abort', stop);
    }
    return !signal.aborted;
  }
}

/**
 * Lambda's SQS event source mapping, locally: receive a batch, invoke the handler with Lambda's
 * event shape, then delete every message except the ones the handler reported as failed. A
 * handler that throws fails the whole batch, which comes back after its visibility timeout.
 */
export function startQueuePoller(options: QueuePollerOptions): QueuePoller {
  const controller = new AbortController();
  const copies = new Set<string>();
  const workers = Array.from({ length: Math.max(1, options.concurrency) }, () =>
    work(options, controller.signal, copies),
  );
  return {
    async stop() {
      controller.abort();
      await Promise.allSettled(workers);
    },
  };
}

async function work(
  options: QueuePollerOptions,
  signal: AbortSignal,
  copies: Set<string>,
): Promise<void> {
  // Lambda starts a batching window when the previous invocation completes (or the poller starts).
  let windowStart = Date.now();
  while (!signal.aborted) {
    if (options.paused !== undefined && (await isPaused(options))) {
      await new Promise((resolve) => setTimeout(resolve, PAUSED_RECHECK_MS));
      continue;
    }
    const gathered = await gather(options, signal, windowStart);
    if (gathered === undefined) return;
    if (gathered.messages.length > 0) {
      if (options.hold && !(await options.hold.pass(gathered.messages.length, signal))) return;
      options.onBatch?.({ receives: gathered.receives, messages: gathered.messages.length });
      await invoke(options, await duplicated(options, gathered.messages, copies));
      windowStart = Date.now();
    }
  }
}

/** Lambda's synchronous invocation payload limit: a batch stops growing before it. */
const INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** SQS's largest message: room kept in the payload for each message one more receive may bring. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** SQS's longest long poll. */
const MAX_WAIT_SECONDS = 20;

/**
 * One batch, as Lambda's SQS mapping gathers it (AWS's "Batching behavior"): it invokes once the
 * batch size is reached, the payload nears 6 MB, or the batching window that began when the
 * previous invocation completed has passed. Receives go on while the window is open, each a long
 * poll for at most what is left of it (SQS waits in whole seconds, so a window may run over by
 * less than one); with no window, one receive is the batch. An empty receive after the window
 * returns nothing, so the caller checks the pause and the stop between polls.
 * Not modelled: AWS documents that on a queue with very little traffic its pollers may wait up
 * to 20 seconds before invoking, even with a shorter window.
 */
async function gather(
  options: QueuePollerOptions,
  signal: AbortSignal,
  windowStart: number,
): Promise<{ messages: Message[]; receives: number } | undefined> {
  const deadline = windowStart + (options.batchingWindowSeconds ?? 0) * 1000;
  const messages: Message[] = [];
  let receives = 0;
  let payloadBytes = 0;
  for (;;) {
    const leftSeconds = Math.ceil((deadline - Date.now()) / 1000);
    if (messages.length > 0 && leftSeconds <= 0) break;
    const room = Math.min(10, options.batchSize - messages.length);
    const received = await receive(
      options,
      signal,
      room,
      Math.min(MAX_WAIT_SECONDS, Math.max(1, leftSeconds)),
    );
    if (received === undefined) return signal.aborted ? undefined : { messages, receives };
    // Empty polls before a batch's first message are the idle mapping's, not the batch's.
    if (messages.length > 0 || received.length > 0) receives += 1;
    messages.push(...received);
    payloadBytes += received.reduce(
      (sum, message) => sum + Buffer.byteLength(message.Body ?? ''),
      0,
    );
    const full =
      messages.length >= options.batchSize ||
      payloadBytes > INVOKE_PAYLOAD_BYTES - 10 * MAX_MESSAGE_BYTES;
    if (full || (messages.length === 0 && leftSeconds <= 1)) break;
  }
  return { messages, receives };
}

/** One ReceiveMessage; undefined when it failed (told to `onInvokeError`) or the poller stopped. */
async function receive(
  options: QueuePollerOptions,
  signal: AbortSignal,
  maxMessages: number,
  waitSeconds: number,
): Promise<Message[] | undefined> {
  // One signal per call, tied to the poller's: listeners the SDK leaves on a signal then go
  // with it, instead of piling up on one that lives as long as the poller.
  const call = new AbortController();
  const stop = () => call.abort();
  signal.addEventListener('abort', stop, { once: true });
  try {
    const received = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: maxMessages,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: call.signal },
    );
    return received.Messages ?? [];
  } catch (error) {
    if (signal.aborted) return undefined;
    options.onInvokeError?.(error);
    await new Promise((resolve) => setTimeout(resolve, 500));
    return undefined;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** A pause that cannot be read leaves the poller running, as Lambda's mapping would. */
async function isPaused(options: QueuePollerOptions): Promise<boolean> {
  try {
    return (await options.paused?.()) === true;
  } catch (error) {
    options.onInvokeError?.(error);
    return false;
  }
}

/**
 * The batch as the handler gets it once the duplicate deliveries are played: a message carried
 * twice keeps its id and receipt handle (it is one message, delivered twice), while a later
 * copy is a message of its own, remembered so that it is not copied in turn. A message returned
 * for later is not asked about again: SQS keeps copies of a message, not of each receive.
 */
async function duplicated(
  options: QueuePollerOptions,
  messages: Message[],
  copies: Set<string>,
): Promise<Message[]> {
  if (options.duplicate === undefined) return messages;
  const batch: Message[] = [];
  for (const message of messages) {
    batch.push(message);
    const firstReceive = (message.Attributes?.ApproximateReceiveCount ?? '1') === '1';
    if (!firstReceive || copies.has(message.MessageId ?? '')) continue;
    const plan = options.duplicate();
    if (plan?.kind === 'same-batch') {
      batch.push(message);
    } else if (plan?.kind === 'later') {
      try {
        const sent = await options.sqs.send(
          new SendMessageCommand({
            QueueUrl: options.queueUrl,
            MessageBody: message.Body,
            MessageAttributes: message.MessageAttributes,
            DelaySeconds: Math.min(900, Math.max(0, Math.round(plan.delaySeconds))),
          }),
        );
        if (sent.MessageId) copies.add(sent.MessageId);
      } catch (error) {
        options.onInvokeError?.(error);
      }
    }
  }
  return batch;
}

/** Invokes the handler with one batch and settles each message as Lambda would. */
export async function invoke(options: QueuePollerOptions, messages: Message[]): Promise<void> {
  const event: SQSEvent = { Records: messages.map((message) => toRecord(message, options)) };
  let failed: ReadonlySet<string>;
  try {
    const response = await options.handler(
      event,
      lambdaContext(options.functionName, options.timeoutSeconds),
    );
    failed = failedIds(response, event);
  } catch (error) {
    options.onInvokeError?.(error);
    return;
  }
  if (options.crashAfterInvoke?.()) {
    return;
  }
  // A message the batch carries twice is deleted once.
  const unique = new Map(messages.map((message) => [message.ReceiptHandle, message]));
  const done = [...unique.values()].filter((message) => !failed.has(message.MessageId ?? ''));
  if (done.length === 0) return;
  await options.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: options.queueUrl,
      Entries: done.map((message, index) => ({
        Id: String(index),
        ReceiptHandle: message.ReceiptHandle ?? '',
      })),
    }),
  );
}

/** As in Lambda, a failure entry that names no message of the batch fails the whole batch. */
function failedIds(response: SQSBatchResponse | undefined, event: SQSEvent): Set<string> {
  const all = new Set(event.Records.map((record) => record.messageId));
  const ids = (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
  return ids.every((id) => typeof id === 'string' && all.has(id)) ? new Set(ids) : all;
}

function toRecord(message: Message, options: QueuePollerOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
        : {}),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp:
        attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.queueArn.split(':')[3] ?? 'us-east-1',
  };
}
