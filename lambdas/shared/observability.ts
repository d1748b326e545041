import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { stageDimension, stageVariable } from './metric-names.ts';

/**
 * One logger, one metrics sink and one tracer per function instance. Service name, namespace and
 * level come from the POWERTOOLS_* variables set in the wiring, so they match between local and
 * AWS. The tracer switches itself off outside Lambda (no AWS_EXECUTION_ENV) and wherever
 * POWERTOOLS_TRACE_ENABLED is `false`: then it records nothing and patches no client.
 */
/**
 * Powertools' standard keys, less those every line would repeat for nothing: the function's ARN,
 * name and memory and the service (each function logs to its own log group, which Logs Insights
 * shows as `@log`), and a sampling rate of 0. Every line is billed by the byte at ingestion.
 */
class LeanLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const context = attributes.lambdaContext;
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: attributes.message,
        timestamp: this.formatTimestamp(attributes.timestamp),
        cold_start: context?.coldStart,
        function_request_id: context?.awsRequestId,
        ...(attributes.sampleRateValue ? { sampling_rate: attributes.sampleRateValue } : {}),
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(additional);
  }
}

export const logger = new Logger({ logFormatter: new LeanLogFormatter() });
// Metrics' own warnings (an empty flush, a bad dimension) go through the structured logger too.
// Every metric carries the stage besides the service: the stage's alarms watch only their own.
const stage = process.env[stageVariable];
export const metrics = new Metrics({
  logger,
  ...(stage ? { defaultDimensions: { [stageDimension]: stage } } : {}),
});
export const tracer = new Tracer();

/** The order an HTTP invocation is about, on its log lines and as a trace annotation to search by. */
export function aboutOrder(orderId: string): void {
  logger.appendKeys({ orderId });
  tracer.putAnnotation('orderId', orderId);
}

/**
 * One message's work in its own trace subsegment annotated with its order id: a batch carries
 * several orders, and an annotation on the invocation's segment could name only one.
 */
export async function traceOrder<T>(orderId: string, work: () => Promise<T>): Promise<T> {
  if (!tracer.isTracingEnabled()) return work();
  return (await tracer.provider.captureAsyncFunc('### order', async (subsegment) => {
    subsegment?.addAnnotation('orderId', orderId);
    try {
      return await work();
    } catch (error) {
      subsegment?.addError(error as Error);
      throw error;
    } finally {
      subsegment?.close();
    }
  })) as T;
}
