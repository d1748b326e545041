import { afterEach, describe, expect, it, vi } from 'vitest';
import { orderIdFor } from '#domain/place-order.ts';
import { AGENT_SCOPE, wiring } from '#shared/wiring.ts';
import { lambdaContext } from '../../local/runtime/lambda-context.ts';
import {
  FixedClock,
  InMemoryAgents,
  InMemoryOrders,
  RecordingPaymentQueue,
} from '../fakes/in-memory.ts';
import { demoAgent, intakePolicy, latteOrder } from '../fixtures/orders.ts';

interface AnyClient {
  readonly middlewareStack: { identify(): string[] };
}

/** The names in a client's middleware stack: the tracer adds its own when it captures one. */
function middlewareNames(client: AnyClient): string[] {
  return client.middlewareStack.identify();
}

/** The clients as a function's module makes them, under the environment given. */
async function clientsUnder(environment: Record<string, string>) {
  for (const [name, value] of Object.entries(environment)) vi.stubEnv(name, value);
  vi.resetModules();
  const { dynamodb, sqs } = await import('#adapters/aws-clients.ts');
  const { secretsManager } = await import('#adapters/secrets-manager-client.ts');
  const clients: Record<string, AnyClient> = { dynamodb, sqs, secretsManager };
  return clients;
}

describe('tracing', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('captures every AWS SDK client where it is made when running in Lambda', async () => {
    // Act
    const clients = await clientsUnder({
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      POWERTOOLS_TRACE_ENABLED: 'true',
    });

    // Assess
    for (const [name, client] of Object.entries(clients)) {
      expect(middlewareNames(client), name).toContainEqual(expect.stringMatching(/XRaySDK/));
    }
  });

  it('leaves the clients alone where tracing is off, as locally and in tests', async () => {
    // Act
    const clients = await clientsUnder({ POWERTOOLS_TRACE_ENABLED: 'false' });

    // Assess
    for (const [name, client] of Object.entries(clients)) {
      expect(middlewareNames(client), name).not.toContainEqual(expect.stringMatching(/XRaySDK/));
    }
  });

  it('annotates the trace of an order request with its order id', async () => {
    // Prepare
    for (const [name, value] of Object.entries({
      ...wiring.functions.orderIntake.environment,
      POWERTOOLS_LOG_LEVEL: 'WARN',
      TABLE_NAME: 'autopay-test',
      PAYMENT_SUBMISSION_QUEUE_URL: 'http://127.0.0.1:9/queue/payment-submission',
    })) {
      vi.stubEnv(name, value);
    }
    vi.resetModules();
    const { tracer } = await import('#shared/observability.ts');
    const { buildHandler } = await import('../../lambdas/handlers/order-intake.ts');
    const annotations = vi.spyOn(tracer, 'putAnnotation');
    const handler = buildHandler({
      orders: new InMemoryOrders(),
      agents: new InMemoryAgents([demoAgent]),
      payments: new RecordingPaymentQueue(),
      clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
      policy: intakePolicy,
    });

    // Act
    const response = await handler(
      {
        routeKey: 'POST /v1/orders',
        rawPath: '/v1/orders',
        headers: { 'idempotency-key': 'trace-1' },
        body: JSON.stringify(latteOrder),
        isBase64Encoded: false,
        requestContext: {
          requestId: 'request-1',
          authorizer: { jwt: { claims: { sub: 'demo-agent' }, scopes: [AGENT_SCOPE] } },
        },
      } as never,
      lambdaContext('orderIntake', 10),
    );

    // Assess
    expect(response.statusCode).toBe(202);
    expect(annotations).toHaveBeenCalledWith('orderId', orderIdFor('demo-agent', 'trace-1'));
  });

  it('traces each queue message in its own subsegment annotated with its order id', async () => {
    // Prepare: the X-Ray SDK records only inside Lambda; its subsegment is a stand-in here.
    vi.resetModules();
    const { tracer, traceOrder } = await import('#shared/observability.ts');
    const subsegment = { addAnnotation: vi.fn(), addError: vi.fn(), close: vi.fn() };
    vi.spyOn(tracer, 'isTracingEnabled').mockReturnValue(true);
    const opened = vi
      .spyOn(tracer.provider, 'captureAsyncFunc')
      .mockImplementation((_name, work) => work(subsegment as never));

    // Act
    const failure = traceOrder('ord_2', async () => {
      throw new Error('gateway down');
    });
    const result = await traceOrder('ord_1', async () => 'done');

    // Assess
    await expect(failure).rejects.toThrow('gateway down');
    expect(result).toBe('done');
    expect(opened).toHaveBeenCalledTimes(2);
    expect(subsegment.addAnnotation.mock.calls).toEqual([
      ['orderId', 'ord_2'],
      ['orderId', 'ord_1'],
    ]);
    expect(subsegment.addError).toHaveBeenCalledWith(new Error('gateway down'));
    expect(subsegment.close).toHaveBeenCalledTimes(2);
  });
});
