import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GatewayEvent } from '#domain/callbacks.ts';
import { lambdaContext } from '../../local/runtime/lambda-context.ts';
import { callbackTestEnvironment, functionUrlEvent } from '../fixtures/function-url-event.ts';

/**
 * The callback function as Lambda invokes it from its function URL: every path and method sent
 * to the URL reaches it, so it answers all but its own with the error catalogue's 404.
 */

const event: GatewayEvent = {
  id: 'evt_1',
  type: 'payment.succeeded',
  created: 1_795_999_200,
  data: {
    paymentId: 'pay_1',
    idempotencyKey: `ord_${'a'.repeat(32)}`,
    amount: 450,
    currency: 'CNY',
  },
};

describe('the callback function behind its function URL', () => {
  const verifySignature = vi.fn(async (_header: string | undefined, _body: string | Buffer) => ({
    timestamp: 1,
    secretIndex: 0,
  }));
  const handleEvent = vi.fn(async (_event: GatewayEvent) => ({
    result: 'applied' as const,
    status: 'PAID' as const,
  }));
  let invoke: (request: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

  beforeAll(async () => {
    for (const [name, value] of Object.entries({
      ...callbackTestEnvironment,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    })) {
      vi.stubEnv(name, value);
    }
    vi.resetModules();
    const { buildHandler } = await import('../../lambdas/handlers/settlement-callback.ts');
    const handler = buildHandler({
      gatewayName: 'simulator',
      verifySignature,
      handleEvent: handleEvent as never,
    });
    invoke = async (request) =>
      (await handler(
        request as never,
        lambdaContext('settlementCallback', 10),
      )) as APIGatewayProxyStructuredResultV2;
  });

  afterAll(() => vi.unstubAllEnvs());

  it.each([
    ['GET', '/v1/callbacks/simulator'],
    ['PUT', '/v1/callbacks/simulator'],
    ['POST', '/'],
    ['POST', '/v1/orders'],
    ['POST', '/v1/callbacks'],
    ['POST', '/v1/callbacks/'],
    ['POST', '/v1/callbacks/simulator/extra'],
    ['POST', '/v1/callbacks/%E0%A4%A'],
  ])('answers %s %s with 404 ROUTE_NOT_FOUND and reads nothing', async (method, path) => {
    // Prepare
    verifySignature.mockClear();

    // Act
    const answer = await invoke(functionUrlEvent(method, path, { text: JSON.stringify(event) }));

    // Assess
    expect(answer.statusCode).toBe(404);
    expect(JSON.parse(answer.body ?? '')).toEqual({
      error: { code: 'ROUTE_NOT_FOUND', message: 'No such route.', requestId: 'request-1' },
    });
    expect(verifySignature).not.toHaveBeenCalled();
  });

  it('answers 404 UNKNOWN_GATEWAY on the callback path of another gateway', async () => {
    // Act
    const answer = await invoke(
      functionUrlEvent('POST', '/v1/callbacks/other', { text: JSON.stringify(event) }),
    );

    // Assess
    expect(answer.statusCode).toBe(404);
    expect(JSON.parse(answer.body ?? '')).toMatchObject({ error: { code: 'UNKNOWN_GATEWAY' } });
  });

  it('verifies the exact bytes of a base64-encoded body, then hands the event on', async () => {
    // Prepare
    const text = JSON.stringify(event);
    verifySignature.mockClear();
    handleEvent.mockClear();

    // Act
    const answer = await invoke(
      functionUrlEvent('POST', '/v1/callbacks/simulator', { text, base64: true }),
    );

    // Assess
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body ?? '')).toEqual({
      received: true,
      result: 'applied',
      status: 'PAID',
    });
    expect(verifySignature).toHaveBeenCalledExactlyOnceWith('t=1,v1=00', Buffer.from(text));
    expect(handleEvent).toHaveBeenCalledExactlyOnceWith(event);
  });
});
