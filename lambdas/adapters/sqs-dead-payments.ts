import {
  ChangeMessageVisibilityBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadPaymentMessages, PaymentRequest } from '#domain/ports.ts';

/** SQS hands out at most ten messages per receive. */
const RECEIVE_MAX = 10;

/**
 * The payment queue's dead-letter queue, read and never emptied: messages are received, not
 * deleted, so they stay for the DLQ's alarm and the operator's redrive. Received messages stay
 * hidden while one read pages through the queue, so that it meets each once, and are made
 * visible again as soon as it is done; `hideSeconds` bounds how long a read that dies midway
 * hides them. Unreadable messages are left to the operator.
 */
export class SqsDeadPaymentMessages implements DeadPaymentMessages {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly hideSeconds: number = 30,
  ) {}

  async peek(limit: number): Promise<PaymentRequest[]> {
    const found = new Map<string, PaymentRequest>();
    const received: Message[] = [];
    try {
      while (received.length < limit) {
        const { Messages = [] } = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: Math.min(RECEIVE_MAX, limit - received.length),
            VisibilityTimeout: this.hideSeconds,
            // A short poll samples some of SQS's servers and may miss the few messages a DLQ
            // holds; a long poll asks them all, and ends as soon as there is something.
            WaitTimeSeconds: 1,
          }),
        );
        if (Messages.length === 0) break;
        received.push(...Messages);
        for (const { Body } of Messages) {
          const request = paymentRequestOf(Body);
          if (request !== undefined) found.set(request.orderId, request);
        }
      }
    } finally {
      await this.release(received);
    }
    return [...found.values()];
  }

  /** Makes the messages read visible again at once, ten to a call. */
  private async release(messages: readonly Message[]): Promise<void> {
    for (let start = 0; start < messages.length; start += RECEIVE_MAX) {
      await this.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: messages.slice(start, start + RECEIVE_MAX).map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
  }
}

function paymentRequestOf(body: string | undefined): PaymentRequest | undefined {
  try {
    const { orderId, agentId } = JSON.parse(body ?? '') as Partial<PaymentRequest>;
    return typeof orderId === 'string' && typeof agentId === 'string'
      ? { orderId, agentId }
      : undefined;
  } catch {
    return undefined;
  }
}
