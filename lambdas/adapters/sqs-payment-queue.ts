import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { PaymentQueue, PaymentRequest } from '#domain/ports.ts';

export class SqsPaymentQueue implements PaymentQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(request: PaymentRequest): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(request),
        MessageAttributes: {
          orderId: { DataType: 'String', StringValue: request.orderId },
        },
      }),
    );
  }
}
