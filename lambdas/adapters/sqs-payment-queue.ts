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

/**
 * The one reader of the payment message that `enqueue` writes, for the payment consumer and for
 * the sweep reading the dead-letter queue: written by hand, since a schema library would weigh
 * on the sweep's cold start. Anything else than a request (other fields are left out) is
 * undefined.
 */
export function paymentRequestOf(message: unknown): PaymentRequest | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { orderId, agentId, placedAt } = message as Record<string, unknown>;
  if (!isFilled(orderId) || !isFilled(agentId)) return undefined;
  if (placedAt !== undefined && typeof placedAt !== 'string') return undefined;
  return { orderId, agentId, ...(placedAt === undefined ? {} : { placedAt }) };
}

/** A message body as SQS hands it over, read as a payment request if it is one. */
export function paymentRequestIn(body: string | undefined): PaymentRequest | undefined {
  try {
    return paymentRequestOf(JSON.parse(body ?? ''));
  } catch {
    return undefined;
  }
}

function isFilled(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
