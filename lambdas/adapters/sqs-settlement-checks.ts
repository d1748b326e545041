import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { PaymentRequest, SettlementCheckQueue } from '#domain/ports.ts';

/** SQS delays a message by at most 15 minutes. */
const MAX_DELAY_SECONDS = 900;

export class SqsSettlementCheckQueue implements SettlementCheckQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async schedule(
    request: PaymentRequest & { readonly check: number },
    delaySeconds: number,
  ): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(request),
        DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(delaySeconds))),
        MessageAttributes: { orderId: { DataType: 'String', StringValue: request.orderId } },
      }),
    );
  }
}
