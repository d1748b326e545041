import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { earliest } from '#domain/order-moves.ts';
import type { DeadPaymentMessages, DeadPaymentRequest } from '#domain/ports.ts';
import { paymentRequestIn } from './sqs-payment-queue.ts';

/** SQS hands out at most ten messages per receive. */
const RECEIVE_MAX = 10;

/** SQS's longest visibility timeout: 12 hours. */
const LONGEST_VISIBILITY_TIMEOUT_SECONDS = 43_200;

/**
 * The payment queue's dead-letter queue, read and never emptied: messages are received, not
 * deleted, so they stay for the DLQ's alarm (which counts hidden messages too) and the operator's
 * redrive. Each message read stays hidden for the `hideSeconds` the reader asks, so that one read
 * meets it once and the next reads meet the messages behind it: a queue deeper than one read is
 * gone through in turn rather than its first messages read again every time. A redrive moves a
 * hidden message once it shows again. `limit` counts messages, not orders. Unreadable messages
 * are left to the operator. `showAgain` sets the last peek's messages visible again (a visibility
 * timeout of 0), all of them or those of the orders named, ten to a request. SQS keeps about
 * 120,000 messages of a standard queue in flight (hidden) at once; past that a long-polling
 * receive answers nothing, and the read ends there.
 */
export class SqsDeadPaymentMessages implements DeadPaymentMessages {
  readonly longestHideSeconds = LONGEST_VISIBILITY_TIMEOUT_SECONDS;
  /** The receipt handles of the messages the last peek received, by the order each names. */
  private received = new Map<string, string[]>();
  /** The receipt handles of the messages the last peek received that name no order. */
  private unreadable: string[] = [];

  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  /** Visible and hidden messages; SQS's counts may lag by a minute. */
  async depth(): Promise<number> {
    const { Attributes = {} } = await this.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  async peek(limit: number, hideSeconds: number): Promise<DeadPaymentRequest[]> {
    const found = new Map<string, DeadPaymentRequest>();
    this.received = new Map();
    this.unreadable = [];
    let received = 0;
    while (received < limit) {
      const { Messages = [] } = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: Math.min(RECEIVE_MAX, limit - received),
          VisibilityTimeout: Math.min(hideSeconds, LONGEST_VISIBILITY_TIMEOUT_SECONDS),
          // A short poll samples some of SQS's servers and may miss the few messages a DLQ
          // holds; a long poll asks them all, and ends as soon as there is something.
          WaitTimeSeconds: 1,
          // The first send, kept through the move to the DLQ: its retention counts from it.
          MessageSystemAttributeNames: ['SentTimestamp'],
        }),
      );
      if (Messages.length === 0) break;
      received += Messages.length;
      for (const { Body, Attributes, ReceiptHandle } of Messages) {
        const request = paymentRequestIn(Body);
        this.keep(request?.orderId, ReceiptHandle);
        if (request === undefined) continue;
        const sentAt = sentAtOf(Attributes?.SentTimestamp);
        const before = found.get(request.orderId)?.sentAt;
        found.set(request.orderId, {
          ...request,
          sentAt: sentAt === undefined ? before : earliest(sentAt, before),
        });
      }
    }
    return [...found.values()];
  }

  async showAgain(orderIds?: readonly string[]): Promise<void> {
    const handles = this.take(orderIds);
    const failed: string[] = [];
    for (let start = 0; start < handles.length; start += RECEIVE_MAX) {
      const { Failed = [] } = await this.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: handles.slice(start, start + RECEIVE_MAX).map((ReceiptHandle, index) => ({
            Id: String(start + index),
            ReceiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
      failed.push(...Failed.map(({ Code }) => Code ?? 'unknown'));
    }
    if (failed.length > 0) {
      throw new Error(`${failed.length} dead payment messages not shown again: ${failed[0]}`);
    }
  }

  private keep(orderId: string | undefined, handle: string | undefined): void {
    if (handle === undefined) return;
    if (orderId === undefined) {
      this.unreadable.push(handle);
      return;
    }
    const handles = this.received.get(orderId);
    if (handles === undefined) this.received.set(orderId, [handle]);
    else handles.push(handle);
  }

  /** The handles of the orders named (or all), no longer kept: each is shown again once. */
  private take(orderIds: readonly string[] | undefined): string[] {
    if (orderIds === undefined) {
      const all = [...this.unreadable, ...[...this.received.values()].flat()];
      this.received = new Map();
      this.unreadable = [];
      return all;
    }
    return orderIds.flatMap((orderId) => {
      const handles = this.received.get(orderId) ?? [];
      this.received.delete(orderId);
      return handles;
    });
  }
}

/** SQS's SentTimestamp (epoch milliseconds, as a string) as an ISO time. */
function sentAtOf(timestamp: string | undefined): string | undefined {
  const millis = Number(timestamp);
  return timestamp === undefined || !Number.isFinite(millis)
    ? undefined
    : new Date(millis).toISOString();
}
