import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CallbackOutcome, GatewayEvent } from '#domain/callbacks.ts';
import { lambdaContext } from '../../local/runtime/lambda-context.ts';
import { callbackTestEnvironment, functionUrlEvent } from '../fixtures/function-url-event.ts';

/**
 * What the callback function writes (log lines and EMF) at the level and with the metrics the
 * wiring ships: every order charged at once hears its success once more from the gateway, and
 * that echo writes nothing; every other outcome is a line and a count.
 */

const event = (type: GatewayEvent['type']): GatewayEvent => ({
  id: 'evt_1',
  type,
  created: 1_795_999_200,
  data: {
    paymentId: 'pay_1',
    idempotencyKey: `ord_${'b'.repeat(32)}`,
    amount: 450,
    currency: 'CNY',
  },
});

describe('the lines a callback writes', () => {
  let outcome: CallbackOutcome = { result: 'unchanged', status: 'PAID' };
  let invoke: (body: GatewayEvent) => Promise<Record<string, unknown>[]>;

  beforeAll(async () => {
    for (const [name, value] of Object.entries({
      ...callbackTestEnvironment,
      AUTOPAY_STAGE: 'test',
      // The test setup turns metrics off; here they are what is checked.
      POWERTOOLS_METRICS_DISABLED: 'false',
    })) {
      vi.stubEnv(name, value);
    }
    vi.resetModules();
    const { buildHandler } = await import('../../lambdas/handlers/settlement-callback.ts');
    const handler = buildHandler({
      gatewayName: 'simulator',
      verifySignature: async () => ({ timestamp: 1, secretIndex: 0 }),
      handleEvent: async () => outcome,
    });
    invoke = async (body) => {
      const written: string[] = [];
      const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        written.push(String(chunk));
        return true;
      });
      try {
        await handler(
          functionUrlEvent('POST', '/v1/callbacks/simulator', {
            text: JSON.stringify(body),
          }) as never,
          lambdaContext('settlementCallback', 10),
        );
      } finally {
        write.mockRestore();
      }
      return written
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    };
    // The first invocation of an instance also publishes its cold start.
    await invoke(event('payment.succeeded'));
  });

  afterAll(() => vi.unstubAllEnvs());

  it('writes nothing, no line and no metric, for the success echo of an order already PAID', async () => {
    // Prepare
    outcome = { result: 'unchanged', status: 'PAID' };

    // Act
    const lines = await invoke(event('payment.succeeded'));

    // Assess
    expect(lines).toEqual([]);
  });

  it.each<[GatewayEvent['type'], CallbackOutcome]>([
    ['payment.succeeded', { result: 'applied', status: 'PAID' }],
    ['payment.failed', { result: 'unchanged', status: 'PAID' }],
    ['payment.succeeded', { result: 'unchanged', status: 'REFUNDED' }],
    ['payment.succeeded', { result: 'ignored' }],
  ])('writes its line and its count for %s with %j', async (type, result) => {
    // Prepare
    outcome = result;

    // Act
    const lines = await invoke(event(type));

    // Assess
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      message: 'Callback handled',
      requestId: 'request-1',
      orderId: `ord_${'b'.repeat(32)}`,
      ...result,
    });
    expect(lines[1]).toMatchObject({ [`Callback_${result.result}`]: 1 });
    expect(lines).toHaveLength(2);
  });
});
