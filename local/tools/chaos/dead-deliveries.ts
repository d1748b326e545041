import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { paymentRequestIn } from '#adapters/sqs-payment-queue.ts';
import type { LocalHandler } from '../../runtime/local-runtime.ts';
import type { Random } from '../../simulators/faults.ts';
import { type AnyClient, orderIdOfKey, serverFault, stackOf } from './sdk-middleware.ts';

/**
 * Payment messages whose every delivery dies unhandled, so that they reach the payment DLQ with
 * nothing written on their order: the function timed out or crashed before writing (DynamoDB
 * throttled, a bad deploy). Every other such message's first delivery charges at the gateway and
 * crashes right after, before the result is written. Played by wrapping the payment function's handler
 * where the local platform calls it: a doomed message is left out of the batch and reported
 * failed, so SQS delivers it again and, at the last receive, moves it to the DLQ.
 */
export interface DeadDeliveryRates {
  /** Of the payment messages received for the first time. */
  readonly rate: number;
  /** At most this many doomed messages over the run. */
  readonly max: number;
}

export interface DeadDeliveryCounts {
  diedBeforeWriting: number;
  crashedAfterCharge: number;
  /** Charged, closed by a racing delivery (and cancelled by its user if held), then dead. */
  closedAfterCharge: number;
}

/**
 * One agent's orders whose payment message charges on its first delivery and crashes before
 * writing; a racing delivery of the same message then closes the order: the risk engine rejects
 * the agent for it (FAILED), or, silent, holds it (HELD_FOR_REVIEW) and the user cancels it.
 * Every later delivery dies and the gateway's callbacks about the order are lost, so nobody but
 * the sweep, reading the dead message, looks for the charge on the closed order (unless the
 * user's cancel of a held one asks first). One such order at a time: the rejection is the
 * agent's.
 */
export interface ClosingAfterCharge {
  readonly agentId: string;
  /** While true, the risk engine rejects every order of the agent. */
  rejectAgent(reject: boolean): void;
  /** The agent's user cancels the order; refused (409) unless it is held. */
  cancel(orderId: string): Promise<void>;
}

const middlewareName = 'chaosDeadDeliveries';
const paymentFunction = 'paymentSubmission';
const callbackFunction = 'settlementCallback';
/** How soon a dead delivery's message comes back: a short visibility timeout, for a short run. */
const BACK_AFTER_SECONDS = 1;

export class DeadDeliveries {
  readonly counts: DeadDeliveryCounts = {
    diedBeforeWriting: 0,
    crashedAfterCharge: 0,
    closedAfterCharge: 0,
  };
  /** The orders of the doomed messages. */
  readonly doomed = new Set<string>();
  /** The orders closed after their charge, by `closing`'s agent. */
  readonly closed = new Set<string>();
  /** Each closing's end, by order, for the placement that waits for it. */
  readonly #closings = new Map<string, { done: Promise<void>; end: () => void }>();
  /** The doomed messages: every delivery dies. A message the sweep sends later is another. */
  readonly #doomedMessages = new Set<string>();
  /** Orders whose writes fail while the delivery that charges them runs. */
  readonly #crashing = new Set<string>();
  /** Orders whose messages fail to send while the racing delivery that closes them runs. */
  readonly #dyingAfterWrite = new Set<string>();
  #sqs: { readonly client: SQSClient; readonly queueUrl: string } | undefined;

  constructor(
    private readonly random: Random,
    private readonly rates: DeadDeliveryRates,
    private readonly closing?: ClosingAfterCharge,
  ) {}

  /** Resolves once the order's racing delivery closed it, or after `withinMs` whatever happened. */
  async whenClosed(orderId: string, withinMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#closingOf(orderId).done,
      new Promise((resolve) => {
        timer = setTimeout(resolve, withinMs);
      }),
    ]);
    clearTimeout(timer);
  }

  #closingOf(orderId: string) {
    let closing = this.#closings.get(orderId);
    if (closing === undefined) {
      let end = () => {};
      const done = new Promise<void>((resolve) => {
        end = resolve;
      });
      closing = { done, end };
      this.#closings.set(orderId, closing);
    }
    return closing;
  }

  /**
   * Where the dead deliveries' messages are returned (`sqs`, `queueUrl`), whose writes the crash
   * fails (`dynamodb`), and whose sends the racing delivery's crash fails (`functionsSqs`).
   */
  attach(dynamodb: AnyClient, sqs: SQSClient, queueUrl: string, functionsSqs: AnyClient): void {
    this.#sqs = { client: sqs, queueUrl };
    const sends = stackOf(functionsSqs);
    sends.remove(middlewareName);
    sends.add(
      (next, context) => async (args) => {
        const body = args.input?.MessageBody;
        const unasked = [...this.#dyingAfterWrite].some(
          (orderId) => typeof body === 'string' && body.includes(orderId),
        );
        if (context.commandName === 'SendMessageCommand' && unasked) {
          throw serverFault('the function crashed after its write, before its next send');
        }
        return next(args);
      },
      { step: 'initialize', name: middlewareName, priority: 'high' },
    );
    const stack = stackOf(dynamodb);
    stack.remove(middlewareName);
    stack.add(
      (next, context) => async (args) => {
        const written = ordersWritten(context.commandName, args.input);
        if (written.some((orderId) => this.#crashing.has(orderId))) {
          throw serverFault('the function crashed after the charge');
        }
        return next(args);
      },
      { step: 'initialize', name: middlewareName, priority: 'high' },
    );
  }

  detach(dynamodb: AnyClient, functionsSqs: AnyClient): void {
    stackOf(dynamodb).remove(middlewareName);
    stackOf(functionsSqs).remove(middlewareName);
  }

  /**
   * The local platform's wrapper: the payment function's deliveries, and the gateway's callbacks
   * about the orders closed after their charge, which are lost (answered, never handled), so
   * that no callback tells of the charge either.
   */
  wrap = (functionName: string, handler: LocalHandler): LocalHandler => {
    if (functionName === callbackFunction) {
      return async (event, context) => {
        const { body = '', isBase64Encoded } = event as {
          body?: string;
          isBase64Encoded?: boolean;
        };
        const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
        if ([...this.closed].some((orderId) => text.includes(orderId))) {
          return { statusCode: 200, body: '{}' };
        }
        return handler(event, context);
      };
    }
    if (functionName !== paymentFunction) return handler;
    return async (event, context) => {
      const records = (event as SQSEvent).Records ?? [];
      const dead: SQSRecord[] = [];
      const charging: SQSRecord[] = [];
      const closing: SQSRecord[] = [];
      const alive: SQSRecord[] = [];
      const byFate = { die: dead, 'charge-then-die': charging, 'charge-then-close': closing };
      for (const record of records) {
        const fate = this.#fateOf(record);
        (fate === 'live' ? alive : byFate[fate]).push(record);
      }
      const crashing = [...charging, ...closing];
      for (const record of crashing) this.#crashing.add(orderIdOf(record) ?? '');
      let answer: SQSBatchResponse | undefined;
      try {
        const live = [...alive, ...crashing];
        answer =
          live.length > 0
            ? ((await handler({ ...(event as SQSEvent), Records: live }, context)) as
                | SQSBatchResponse
                | undefined)
            : undefined;
      } finally {
        for (const record of crashing) this.#crashing.delete(orderIdOf(record) ?? '');
      }
      for (const record of closing) await this.#closeByRacingDelivery(record, handler, context);
      await Promise.all([...dead, ...crashing].map((record) => this.#backSoon(record)));
      const failed = new Set([
        ...(answer?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier),
        ...[...dead, ...crashing].map((record) => record.messageId),
      ]);
      return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
    };
  };

  /**
   * Another delivery of the same message, handled while the risk engine rejects the order's
   * agent: it fails the order, or holds it if the engine is silent (the user then cancels it).
   * It crashes after its write, before it asks the reconciler for the lookup a rejection asks
   * for, so that only the sweep, through the dead message, looks.
   */
  async #closeByRacingDelivery(
    record: SQSRecord,
    handler: LocalHandler,
    context: Parameters<LocalHandler>[1],
  ): Promise<void> {
    const orderId = orderIdOf(record) ?? '';
    try {
      if (this.closing === undefined) return;
      this.closing.rejectAgent(true);
      this.#dyingAfterWrite.add(orderId);
      try {
        await handler(
          { Records: [{ ...record, messageId: `${record.messageId}-racing` }] },
          context,
        );
      } finally {
        this.#dyingAfterWrite.delete(orderId);
        this.closing.rejectAgent(false);
      }
      await this.closing.cancel(orderId);
    } finally {
      this.#closingOf(orderId).end();
    }
  }

  #fateOf(record: SQSRecord): 'die' | 'charge-then-die' | 'charge-then-close' | 'live' {
    const orderId = orderIdOf(record);
    if (orderId === undefined) return 'live';
    if (this.#doomedMessages.has(record.messageId)) return 'die';
    const firstReceive = record.attributes.ApproximateReceiveCount === '1';
    // Intake's own message: the sweep's redrive of the same order is left to live.
    const placed = record.body.includes('"placedAt"');
    if (firstReceive && placed && this.#isClosing(record)) {
      this.#doomedMessages.add(record.messageId);
      // Intake may have sent the order's message twice (its first send's answer lost).
      if (this.closed.has(orderId)) return 'die';
      this.closed.add(orderId);
      this.counts.closedAfterCharge++;
      return 'charge-then-close';
    }
    if (!firstReceive || !placed || this.doomed.size >= this.rates.max) return 'live';
    if (this.random() >= this.rates.rate) return 'live';
    this.doomed.add(orderId);
    this.#doomedMessages.add(record.messageId);
    // Every other one charges first, so that a run with any doomed message has both kinds.
    if (this.doomed.size % 2 === 1) {
      this.counts.crashedAfterCharge++;
      return 'charge-then-die';
    }
    this.counts.diedBeforeWriting++;
    return 'die';
  }

  #isClosing(record: SQSRecord): boolean {
    const agentId = paymentRequestIn(record.body)?.agentId;
    return this.closing !== undefined && agentId === this.closing.agentId;
  }

  async #backSoon(record: SQSRecord): Promise<void> {
    if (this.#sqs === undefined) return;
    await this.#sqs.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.#sqs.queueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: BACK_AFTER_SECONDS,
      }),
    );
  }
}

function orderIdOf(record: SQSRecord): string | undefined {
  try {
    const { orderId } = JSON.parse(record.body) as { orderId?: unknown };
    return typeof orderId === 'string' ? orderId : undefined;
  } catch {
    return undefined;
  }
}

/** The orders an UpdateItem, PutItem or transaction writes, by their `ORDER#` keys. */
function ordersWritten(
  command: string | undefined,
  input: Record<string, unknown> | undefined,
): string[] {
  if (command === 'TransactWriteItemsCommand' || command === 'TransactWriteCommand') {
    const items = (input?.TransactItems ?? []) as Record<string, Record<string, unknown>>[];
    return items.flatMap((item) => Object.values(item).flatMap(orderOf));
  }
  const writes = ['UpdateItemCommand', 'UpdateCommand', 'PutItemCommand', 'PutCommand'];
  return command !== undefined && writes.includes(command) && input ? orderOf(input) : [];
}

function orderOf(write: Record<string, unknown>): string[] {
  const orderId = orderIdOfKey((write.Key ?? write.Item) as Record<string, unknown> | undefined);
  return orderId === undefined ? [] : [orderId];
}
