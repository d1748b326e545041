import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '#shared/observability.ts';
import { requestHandlerOptions } from './request-handler.ts';

/**
 * How autopay's AWS clients are made. Endpoints come from the SDK's standard
 * AWS_ENDPOINT_URL_* variables, which the local stack sets to its emulators. Each is captured by
 * the tracer where it is made, so every call is a subsegment of the trace. Each call has the
 * connection and request timeouts of the function's environment.
 */
export function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    tracer.captureAWSv3Client(new DynamoDBClient({ requestHandler: requestHandlerOptions() })),
    {
      marshallOptions: { removeUndefinedValues: true },
    },
  );
}

// Queue URLs are used as given; the SDK would otherwise send each call to the host named in the
// queue URL, which bypasses an endpoint set through AWS_ENDPOINT_URL_SQS.
export function sqsClient(): SQSClient {
  return tracer.captureAWSv3Client(
    new SQSClient({ useQueueUrlAsEndpoint: false, requestHandler: requestHandlerOptions() }),
  );
}
