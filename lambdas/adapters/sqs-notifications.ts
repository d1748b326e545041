import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { NotificationMessage, NotificationOutbox } from '#domain/notifications.ts';

/** One SQS message per (event, endpoint), sent ten to a call. */
export class SqsNotificationOutbox implements NotificationOutbox {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly NotificationMessage[]): Promise<void> {
    for (let start = 0; start < messages.length; start += 10) {
      const chunk = messages.slice(start, start + 10);
      const result = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((message, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify(message),
          })),
        }),
      );
      // A partly failed batch fails the change, which the stream delivers again: the receiver
      // deduplicates the copies by event id.
      if ((result.Failed ?? []).length > 0) {
        const codes = (result.Failed ?? []).map((failure) => failure.Code).join(', ');
        throw new Error(`Could not queue ${result.Failed?.length} notifications: ${codes}`);
      }
    }
  }
}
