import { randomUUID } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';

/**
 * One delivery of one message, as Lambda's event source mapping hands it over: tests that do
 * not poll the queues give each delivery to its function themselves, in the order they choose.
 */
export function sqsDelivery(body: object, receiveCount = 1): SQSEvent {
  return {
    Records: [
      {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body: JSON.stringify(body),
        attributes: {
          ApproximateReceiveCount: String(receiveCount),
          SentTimestamp: String(Date.now()),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:local',
        awsRegion: 'us-east-1',
      },
    ],
  };
}
