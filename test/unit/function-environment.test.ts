import { describe, expect, it } from 'vitest';
import {
  environmentBindings,
  functionEnvironment,
} from '../../lambdas/shared/function-environment.ts';
import { wiring } from '../../lambdas/shared/wiring.ts';
import { boundResources } from '../fixtures/bound-resources.ts';

const resources = boundResources;

describe('the environment of a function, derived from its wiring', () => {
  it('gives the reconciler its settings, table, queues, redrive limit, gateway key and URL', () => {
    // Act
    const environment = functionEnvironment(wiring.functions.settlementReconciler, resources);

    // Assess
    expect(environment).toEqual({
      ...wiring.functions.settlementReconciler.environment,
      AUTOPAY_STAGE: 'test',
      TABLE_NAME: 'autopay-orders',
      PAYMENT_SUBMISSION_QUEUE_URL: 'http://127.0.0.1:1/payment-submission',
      SETTLEMENT_CHECK_QUEUE_URL: 'http://127.0.0.1:1/settlement-check',
      SETTLEMENT_CHECK_MAX_RECEIVE_COUNT: '4',
      GATEWAY_API_KEY_SECRET_ID: 'gateway-key-id',
      GATEWAY_URL: 'http://127.0.0.1:2',
    });
  });

  it('gives a function without table access no table name', () => {
    // Act
    const environment = functionEnvironment(wiring.functions.keyRotation, resources);

    // Assess
    expect(environment).not.toHaveProperty('TABLE_NAME');
    expect(environment).toMatchObject({
      GATEWAY_API_KEY_SECRET_ID: 'gateway-key-id',
      WEBHOOK_SECRET_ID: 'webhook-secret-id',
      GATEWAY_URL: 'http://127.0.0.1:2',
    });
  });

  it('binds each variable once, so no grant is made for a variable set twice', () => {
    for (const [name, spec] of Object.entries(wiring.functions)) {
      // Act
      const variables = environmentBindings(spec).map((binding) => binding.variable);

      // Assess
      expect(new Set(variables).size, name).toBe(variables.length);
    }
  });

  it('binds a queue the function both sends to and consumes once, for both', () => {
    // Act
    const queues = environmentBindings(wiring.functions.settlementReconciler).filter(
      (binding) => binding.kind === 'queue',
    );

    // Assess
    expect(queues).toEqual([
      {
        kind: 'queue',
        variable: 'PAYMENT_SUBMISSION_QUEUE_URL',
        queue: 'paymentSubmission',
        send: true,
      },
      {
        kind: 'queue',
        variable: 'SETTLEMENT_CHECK_QUEUE_URL',
        queue: 'settlementCheck',
        send: true,
        eventSource: wiring.functions.settlementReconciler.consumes,
      },
    ]);
  });

  it('binds the queue a function only consumes for consuming alone', () => {
    // Act
    const queues = environmentBindings(wiring.functions.paymentSubmission).filter(
      (binding) => binding.kind === 'queue',
    );

    // Assess
    expect(queues).toEqual([
      {
        kind: 'queue',
        variable: 'SETTLEMENT_CHECK_QUEUE_URL',
        queue: 'settlementCheck',
        send: true,
      },
      {
        kind: 'queue',
        variable: 'PAYMENT_SUBMISSION_QUEUE_URL',
        queue: 'paymentSubmission',
        send: false,
        eventSource: wiring.functions.paymentSubmission.consumes,
      },
    ]);
  });
});
