import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Order } from '#domain/order.ts';
import { wiring } from '#shared/wiring.ts';
import { lambdaContext } from '../../local/runtime/lambda-context.ts';

/** The lines the functions' logger prints while `act` runs, at the level the wiring ships. */
async function linesOf(act: (modules: Awaited<ReturnType<typeof load>>) => void) {
  const modules = await load();
  const written: string[] = [];
  // Powertools writes WARN and above to stderr.
  const writes = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    }),
  );
  try {
    act(modules);
  } finally {
    for (const write of writes) write.mockRestore();
  }
  return written
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function load() {
  vi.resetModules();
  const { logger, metrics } = await import('#shared/observability.ts');
  const events = await import('#shared/domain-events.ts');
  logger.addContext(lambdaContext('paymentSubmission', 30));
  return { logger, metrics, ...events };
}

const order = (status: Order['status']) => ({ orderId: 'ord_log_1', status }) as Order;

describe('log lines at the shipped level', () => {
  beforeEach(() => {
    for (const [name, value] of Object.entries(wiring.functions.paymentSubmission.environment)) {
      vi.stubEnv(name, value);
    }
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('leaves out what a paid order records anyway: a successful charge, a pass, the callback echo', async () => {
    // Act
    const lines = await linesOf(({ logger, paymentObserver, settlementObserver }) => {
      paymentObserver(logger).gatewayCall('charge', 'succeeded', 120);
      paymentObserver(logger).riskAnswered(order('PENDING_PAYMENT'), {
        kind: 'assessed',
        level: 'pass',
        requestId: 'rce-1',
      });
      settlementObserver(logger).ignored(order('PAID'), 'succeeded while PAID');
    });

    // Assess
    expect(lines).toEqual([]);
  });

  it('keeps every other gateway and risk answer and any outcome that contradicts the order', async () => {
    // Act
    const lines = await linesOf(({ logger, paymentObserver, settlementObserver }) => {
      paymentObserver(logger).gatewayCall('charge', 'pending', 120);
      paymentObserver(logger).gatewayCall('lookup', 'succeeded', 80);
      paymentObserver(logger).riskAnswered(order('PENDING_PAYMENT'), {
        kind: 'assessed',
        level: 'review',
        requestId: 'rce-2',
      });
      settlementObserver(logger).ignored(order('PAID'), 'failed while PAID');
    });

    // Assess
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['INFO', 'Gateway answered'],
      ['INFO', 'Gateway answered'],
      ['INFO', 'Risk engine answered'],
      ['INFO', 'Gateway outcome changes nothing'],
    ]);
    expect(lines[3]).toMatchObject({ orderId: 'ord_log_1', why: 'failed while PAID' });
  });

  it('writes the invocation, not what its log group already says', async () => {
    // Act
    const [line] = await linesOf(({ logger }) => logger.info('Order placed', { orderId: 'ord_1' }));

    // Assess
    expect(line).toMatchObject({
      level: 'INFO',
      message: 'Order placed',
      function_request_id: expect.any(String),
      orderId: 'ord_1',
    });
    for (const key of [
      'function_arn',
      'function_name',
      'function_memory_size',
      'service',
      'sampling_rate',
    ]) {
      expect(line).not.toHaveProperty(key);
    }
  });

  it('writes one request id on a routine line, the API one where there is one, and no time or trace', async () => {
    // Prepare
    vi.stubEnv('_X_AMZN_TRACE_ID', 'Root=1-6a000000-0123456789abcdef01234567;Sampled=1');

    // Act
    const [line] = await linesOf(({ logger }) => {
      logger.appendKeys({ requestId: 'api-request-1' });
      logger.info('Order placed', { orderId: 'ord_1', status: 'PENDING_PAYMENT' });
    });

    // Assess
    expect(line).toEqual({
      level: 'INFO',
      message: 'Order placed',
      requestId: 'api-request-1',
      orderId: 'ord_1',
      status: 'PENDING_PAYMENT',
    });
  });

  it('writes the time, the invocation, its cold start and its trace on a line that needs a person', async () => {
    // Prepare
    vi.stubEnv('_X_AMZN_TRACE_ID', 'Root=1-6a000000-0123456789abcdef01234567;Sampled=1');

    // Act
    const [line] = await linesOf(({ logger }) => {
      logger.appendKeys({ requestId: 'api-request-1' });
      logger.warn('Message returned for later', { orderId: 'ord_1' });
    });

    // Assess
    expect(line).toMatchObject({
      level: 'WARN',
      timestamp: expect.any(String),
      cold_start: expect.any(Boolean),
      function_request_id: expect.any(String),
      xray_trace_id: '1-6a000000-0123456789abcdef01234567',
      requestId: 'api-request-1',
      orderId: 'ord_1',
    });
  });

  it('writes no EMF line and no warning for an invocation that counted nothing', async () => {
    // Prepare
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'Autopay');

    // Act
    const quiet = await linesOf(({ metrics }) => metrics.publishStoredMetrics());
    const counted = await linesOf(({ metrics }) => {
      metrics.addMetric('OrderPlaced', 'Count', 1);
      metrics.publishStoredMetrics();
    });

    // Assess
    expect(quiet).toEqual([]);
    expect(counted).toEqual([expect.objectContaining({ OrderPlaced: 1 })]);
  });
});
