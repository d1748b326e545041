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
 *
 * A routine line (INFO and below: the one line per order step an operator follows) carries the
 * level, the message, the order and one request id: the API's `requestId` where the request came
 * through it (what a caller quotes from an error body), Lambda's otherwise. CloudWatch Logs keeps
 * each event's own timestamp (`@timestamp`), `cold_start` appears only when true, and the trace is
 * found by its `orderId` annotation. A line that needs a person (WARN and above) carries every
 * key, so that it leads straight to its invocation and its trace.
 */
class LeanLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const context = attributes.lambdaContext;
    const routine = routineLevels.has(attributes.logLevel);
    const apiRequest = additional.requestId !== undefined;
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: attributes.message,
        ...(routine ? {} : { timestamp: this.formatTimestamp(attributes.timestamp) }),
        ...(routine && context?.coldStart !== true ? {} : { cold_start: context?.coldStart }),
        ...(routine && apiRequest ? {} : { function_request_id: context?.awsRequestId }),
        ...(attributes.sampleRateValue ? { sampling_rate: attributes.sampleRateValue } : {}),
        ...(routine ? {} : { xray_trace_id: attributes.xRayTraceId }),
      },
    }).addAttributes(additional);
  }
}

const routineLevels: ReadonlySet<string> = new Set(['TRACE', 'DEBUG', 'INFO']);

/**
 * Powertools' Metrics, less the warning it logs when an invocation recorded no metric: a routine
 * invocation with nothing to count (a callback that repeats what the order says) then writes no
 * line at all, rather than a WARN line that costs more than the EMF line it replaces.
 */
class QuietMetrics extends Metrics {
  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) return super.publishStoredMetrics();
    this.clearMetrics();
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }
}

export const logger = new Logger({ logFormatter: new LeanLogFormatter() });
// Metrics' own warnings (a bad dimension, a timestamp out of range) go through the structured
// logger too.
// Every metric carries the stage besides the service: the stage's alarms watch only their own.
const stage = process.env[stageVariable];
export const metrics = new QuietMetrics({
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
