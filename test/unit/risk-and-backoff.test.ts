import { describe, expect, it } from 'vitest';
import { backoffSeconds } from '#domain/backoff.ts';
import { checkRisk, defaultRiskPolicy } from '#domain/risk-policy.ts';
import { FakeRiskEngine } from '../fakes/payments.ts';

const request = {
  orderId: 'ord_1',
  agentId: 'a',
  amount: 450,
  currency: 'CNY',
  paymentMethod: 'wallet' as const,
  placedAt: '2026-11-23T09:30:00.000Z',
};

describe('risk check policy', () => {
  it('retries an internal error and uses the answer that follows', async () => {
    const engine = new FakeRiskEngine();
    engine.script.push({ kind: 'error', code: 'InternalServerError', retryable: true });
    const verdict = await checkRisk(
      engine,
      request,
      defaultRiskPolicy,
      () => 30_000,
      async () => {},
    );
    expect(verdict).toMatchObject({ level: 'pass', bypassed: false, attempts: 2 });
  });

  it('fails open after the attempts run out, with the last request id and code', async () => {
    const engine = new FakeRiskEngine();
    engine.fallback = {
      kind: 'error',
      code: 'RequestLimitExceeded',
      requestId: 'r',
      retryable: true,
    };
    const slept: number[] = [];
    const verdict = await checkRisk(
      engine,
      request,
      defaultRiskPolicy,
      () => 30_000,
      async (ms) => {
        slept.push(ms);
      },
    );
    expect(verdict).toEqual({
      level: 'pass',
      bypassed: true,
      requestId: 'r',
      errorCode: 'RequestLimitExceeded',
      attempts: 3,
    });
    expect(slept).toEqual([100, 200]);
  });

  it('does not retry an AuthFailure, and marks the bypass as refused so that it alarms', async () => {
    const engine = new FakeRiskEngine();
    engine.fallback = { kind: 'error', code: 'AuthFailure.SignatureExpire', retryable: false };
    const verdict = await checkRisk(
      engine,
      request,
      defaultRiskPolicy,
      () => 30_000,
      async () => {},
    );
    expect(verdict).toMatchObject({
      level: 'pass',
      bypassed: true,
      refused: true,
      errorCode: 'AuthFailure.SignatureExpire',
      attempts: 1,
    });
  });

  it('stops retrying when the invocation has too little time left', async () => {
    const engine = new FakeRiskEngine();
    engine.fallback = { kind: 'error', code: 'InternalServerError', retryable: true };
    const verdict = await checkRisk(
      engine,
      request,
      defaultRiskPolicy,
      () => 5_050,
      async () => {},
    );
    expect(verdict).toMatchObject({ bypassed: true, attempts: 1 });
  });
});

describe('backoff', () => {
  it('doubles from one second with half of each step random, up to the cap', () => {
    expect(backoffSeconds(1, { baseSeconds: 1, maxSeconds: 300 }, () => 0)).toBe(1);
    expect(backoffSeconds(4, { baseSeconds: 1, maxSeconds: 300 }, () => 0)).toBe(4);
    expect(backoffSeconds(4, { baseSeconds: 1, maxSeconds: 300 }, () => 1)).toBe(8);
    expect(backoffSeconds(20, { baseSeconds: 1, maxSeconds: 300 }, () => 1)).toBe(300);
    expect(backoffSeconds(20, { baseSeconds: 1, maxSeconds: 300 }, () => 0)).toBe(150);
  });
});
