import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * One logger and one metrics sink per function instance. Service name, namespace and level come
 * from the POWERTOOLS_* variables set in the wiring, so they match between local and AWS.
 */
export const logger = new Logger();
// Metrics' own warnings (an empty flush, a bad dimension) go through the structured logger too.
export const metrics = new Metrics({ logger });

/** Names the order a request or message is about on every later log line. */
export function aboutOrder(orderId: string): void {
  logger.appendKeys({ orderId });
}
