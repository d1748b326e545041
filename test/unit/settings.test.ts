import { describe, expect, it } from 'vitest';
import {
  readAgentsEnvironment,
  readIntakeEnvironment,
  readPaymentEnvironment,
  readRotationEnvironment,
  readSweepEnvironment,
  readWebhookEndpointsEnvironment,
  refundKeyWindowOf,
} from '../../lambdas/shared/config.ts';
import { functionEnvironment } from '../../lambdas/shared/function-environment.ts';
import { wiring } from '../../lambdas/shared/wiring.ts';
import { boundResources } from '../fixtures/bound-resources.ts';

const resources = boundResources;

const paymentEnv = functionEnvironment(wiring.functions.paymentSubmission, resources);
const intakeEnv = functionEnvironment(wiring.functions.orderIntake, resources);
const sweepEnv = functionEnvironment(wiring.functions.sweep, resources);

function problemOf(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the environment to be refused');
}

describe('reading a function environment at its cold start', () => {
  it('reads what the wiring gives each function, numbers as numbers', () => {
    // Act
    const payment = readPaymentEnvironment(paymentEnv);
    const intake = readIntakeEnvironment(intakeEnv);

    // Assess
    expect(payment.TABLE_NAME).toBe('autopay-orders');
    expect(payment.PAYMENT_SUBMISSION_MAX_RECEIVE_COUNT).toBe(3);
    expect(payment.BREAKER_FAILURE_RATE).toBeGreaterThan(0);
    expect(payment.STRIPE_PAYERS).toEqual({});
    expect(intake.SUPPORTED_CURRENCIES.length).toBeGreaterThan(0);
    expect(typeof intake.AGENT_RATE_PER_SECOND).toBe('number');
  });

  it('names every wrong setting at once', () => {
    // Act
    const problem = problemOf(() =>
      readPaymentEnvironment({
        ...paymentEnv,
        TABLE_NAME: 'ab',
        GATEWAY_URL: 'not a url',
        GATEWAY_TIMEOUT_MS: '1.5',
        BREAKER_FAILURE_RATE: '0',
        RISK_MAX_ATTEMPTS: undefined,
      }),
    );

    // Assess
    expect(problem).toMatch(/^Invalid environment: /);
    for (const variable of [
      'TABLE_NAME',
      'GATEWAY_URL',
      'GATEWAY_TIMEOUT_MS',
      'BREAKER_FAILURE_RATE',
      'RISK_MAX_ATTEMPTS: missing',
    ]) {
      expect(problem).toContain(variable);
    }
  });

  it('refuses numbers out of range, non-numbers and infinities', () => {
    const rotationEnv = functionEnvironment(wiring.functions.keyRotation, resources);
    expect(readRotationEnvironment(rotationEnv).GATEWAY_TIMEOUT_MS).toBeGreaterThan(0);
    for (const value of ['0', '-1', 'abc', 'Infinity', '']) {
      expect(
        problemOf(() => readRotationEnvironment({ ...rotationEnv, GATEWAY_TIMEOUT_MS: value })),
      ).toContain('GATEWAY_TIMEOUT_MS');
    }
    expect(
      readIntakeEnvironment({ ...intakeEnv, CONTROL_CACHE_SECONDS: '0.5' }).CONTROL_CACHE_SECONDS,
    ).toBe(0.5);
  });

  it('reads the supported currencies as a trimmed list of ISO codes', () => {
    expect(
      readIntakeEnvironment({ ...intakeEnv, SUPPORTED_CURRENCIES: 'CNY, USD' })
        .SUPPORTED_CURRENCIES,
    ).toEqual(['CNY', 'USD']);
    expect(
      problemOf(() => readIntakeEnvironment({ ...intakeEnv, SUPPORTED_CURRENCIES: 'CNY,usd' })),
    ).toContain('SUPPORTED_CURRENCIES: usd');
  });

  it('reads the lookups after a void as a list of whole seconds, and the capture window', () => {
    // Act
    const sweep = readSweepEnvironment(sweepEnv);
    const faster = readSweepEnvironment({
      ...sweepEnv,
      SETTLEMENT_VOID_LOOKUP_SECONDS: ' 60, 600 ',
    });

    // Assess
    expect(sweep.SETTLEMENT_VOID_LOOKUP_SECONDS).toEqual([3600, 86_400]);
    expect(sweep.GATEWAY_CAPTURE_WINDOW_SECONDS).toBe(7 * 86_400);
    expect(refundKeyWindowOf(sweep)).toEqual({ seconds: 25 * 3600, looks: 3 });
    expect(faster.SETTLEMENT_VOID_LOOKUP_SECONDS).toEqual([60, 600]);
    expect(
      problemOf(() =>
        readSweepEnvironment({ ...sweepEnv, SETTLEMENT_VOID_LOOKUP_SECONDS: '60,,600' }),
      ),
    ).toContain('SETTLEMENT_VOID_LOOKUP_SECONDS: (empty): must be at least 1');
    expect(
      problemOf(() =>
        readPaymentEnvironment({ ...paymentEnv, SETTLEMENT_VOID_LOOKUP_SECONDS: '60,0' }),
      ),
    ).toContain('SETTLEMENT_VOID_LOOKUP_SECONDS: 0: must be at least 1');
  });

  it('reads the Stripe payers as JSON, keeping only what a payer is', () => {
    // Act
    const payers = readPaymentEnvironment({
      ...paymentEnv,
      STRIPE_PAYERS: JSON.stringify({
        default: { customer: 'cus_1', paymentMethod: 'pm_1', note: 'dropped' },
      }),
    }).STRIPE_PAYERS;

    // Assess
    expect(payers).toEqual({ default: { customer: 'cus_1', paymentMethod: 'pm_1' } });
    expect(
      problemOf(() => readPaymentEnvironment({ ...paymentEnv, STRIPE_PAYERS: '{' })),
    ).toContain('STRIPE_PAYERS: must be JSON');
    expect(
      problemOf(() =>
        readPaymentEnvironment({
          ...paymentEnv,
          STRIPE_PAYERS: JSON.stringify({ a: { customer: 'x', paymentMethod: 'pm_1' } }),
        }),
      ),
    ).toContain('STRIPE_PAYERS: a: customer must start with cus_');
  });

  it('takes a choice only from its list, and an unset optional setting as its default', () => {
    const endpointsEnv = functionEnvironment(wiring.functions.webhookEndpoints, resources);
    expect(
      problemOf(() =>
        readWebhookEndpointsEnvironment({ ...endpointsEnv, WEBHOOK_URL_POLICY: 'http' }),
      ),
    ).toContain('WEBHOOK_URL_POLICY: must be one of https, https-or-loopback');
    const agentsEnv = functionEnvironment(wiring.functions.agents, resources);
    expect(readAgentsEnvironment({ ...agentsEnv, USER_POOL_ID: undefined }).USER_POOL_ID).toBe('');
  });
});
