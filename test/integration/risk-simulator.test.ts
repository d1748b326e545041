import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RiskRequest } from '../../local/simulators/risk/contract.ts';
import type { ScriptedRiskFault } from '../../local/simulators/risk/fault-settings.ts';
import {
  type RiskRequests,
  type RiskSimulator,
  startRiskSimulator,
} from '../../local/simulators/risk/server.ts';

const signed = {
  authorization: 'TC3-HMAC-SHA256 Credential=AKIDlocal/2025-01-01/risk/tc3_request, Signature=x',
  'x-tc-action': 'AssessPaymentRisk',
  'content-type': 'application/json',
};

let risk: RiskSimulator;
let orders = 0;

function order(overrides: Partial<RiskRequest> = {}): RiskRequest {
  orders += 1;
  return {
    OrderId: `order-${orders}`,
    AgentId: 'agent-coffee',
    Amount: 1_250,
    Currency: 'CNY',
    PaymentMethod: 'wallet',
    ...overrides,
  };
}

function assess(
  body: unknown,
  headers: Record<string, string> = signed,
  timeoutMs = 5_000,
): Promise<Response> {
  return fetch(`${risk.url}/`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

async function answer(body: unknown, headers?: Record<string, string>): Promise<unknown> {
  const response = await assess(body, headers);
  expect(response.status).toBe(200);
  return response.json();
}

beforeAll(async () => {
  risk = await startRiskSimulator({
    seed: 11,
    rules: {
      reviewAtOrAbove: 10_000,
      rejectAtOrAbove: 50_000,
      byAgent: { 'agent-rogue': 'reject' },
    },
    faults: { hangMs: 2_000 },
  });
});

afterEach(() => {
  risk.reset();
});

afterAll(async () => {
  await risk.stop();
});

describe('risk simulator: assessments', () => {
  it.each([
    { amount: 9_999, agent: 'agent-coffee', level: 'pass' },
    { amount: 10_000, agent: 'agent-coffee', level: 'review' },
    { amount: 50_000, agent: 'agent-coffee', level: 'reject' },
    { amount: 100, agent: 'agent-rogue', level: 'reject' },
  ])('answers $level for $amount from $agent', async ({ amount, agent, level }) => {
    // Act
    const body = await answer(order({ Amount: amount, AgentId: agent }));

    // Assess
    expect(body).toEqual({ Response: { RiskLevel: level, RequestId: expect.any(String) } });
  });

  it('applies rules replaced at run time, and restores the configured ones on reset', async () => {
    // Prepare
    risk.setRules({ byAgent: { 'agent-coffee': 'review' } });

    // Act
    const replaced = await answer(order());
    risk.reset();
    const restored = await answer(order());

    // Assess
    expect(replaced).toMatchObject({ Response: { RiskLevel: 'review' } });
    expect(restored).toMatchObject({ Response: { RiskLevel: 'pass' } });
  });

  it('counts requests in total and per order', async () => {
    // Prepare
    const repeated = order();

    // Act
    await answer(repeated);
    await answer(repeated);
    await answer(order());

    // Assess
    expect(risk.requests()).toEqual({
      total: 3,
      byOrder: { [repeated.OrderId]: 2, [`order-${orders}`]: 1 },
      verdicts: { pass: 3, review: 0, reject: 0 },
      faults: { internal_error: 0, throttle: 0, hang: 0, malformed: 0, reset: 0 },
    });
  });

  it('draws reject and review verdicts from their rates over the rules, and counts them', async () => {
    // Prepare
    risk.setFaults({ rejectRate: 1, reviewRate: 1 });

    // Act
    const rejected = await answer(order());
    risk.setFaults({ rejectRate: 0 });
    const reviewed = await answer(order());
    risk.setFaults({ reviewRate: 0 });
    const byRules = await answer(order({ Amount: 10_000 }));
    const passed = await answer(order());

    // Assess
    expect(rejected).toMatchObject({ Response: { RiskLevel: 'reject' } });
    expect(reviewed).toMatchObject({ Response: { RiskLevel: 'review' } });
    expect(byRules).toMatchObject({ Response: { RiskLevel: 'review' } });
    expect(passed).toMatchObject({ Response: { RiskLevel: 'pass' } });
    expect(risk.requests().verdicts).toEqual({ pass: 1, review: 2, reject: 1 });
  });

  it('counts the faults it injects by name, and no verdict for them', async () => {
    // Prepare
    risk.setFaults({ rejectRate: 1 });
    risk.scriptNext([{ fault: 'internal_error' }, { fault: 'throttle' }, { fault: 'malformed' }]);

    // Act
    const faulty = [await answer(order()), await answer(order())];
    await assess(order());

    // Assess
    expect(faulty).toMatchObject([
      { Response: { Error: { Code: 'InternalServerError' } } },
      { Response: { Error: { Code: 'RequestLimitExceeded' } } },
    ]);
    expect(risk.requests()).toMatchObject({
      verdicts: { pass: 0, review: 0, reject: 0 },
      faults: { internal_error: 1, throttle: 1, malformed: 1, hang: 0, reset: 0 },
    });
  });
});

describe('risk simulator: errors answer HTTP 200 with a Tencent Error object', () => {
  it.each<{ name: string; headers: Record<string, string>; body: unknown; code: string }>([
    {
      name: 'another action',
      headers: { ...signed, 'x-tc-action': 'DescribeRisk' },
      body: order(),
      code: 'InvalidParameter',
    },
    {
      name: 'an amount that is not an integer',
      headers: signed,
      body: { ...order(), Amount: 12.5 },
      code: 'InvalidParameter',
    },
    { name: 'a missing OrderId', headers: signed, body: { Amount: 1 }, code: 'InvalidParameter' },
  ])('answers $code for $name', async ({ headers, body, code }) => {
    // Act
    const result = await answer(body, headers);

    // Assess
    expect(result).toEqual({
      Response: {
        Error: { Code: code, Message: expect.any(String) },
        RequestId: expect.any(String),
      },
    });
  });

  it.each<{ fault: ScriptedRiskFault; code: string }>([
    { fault: { fault: 'internal_error' }, code: 'InternalServerError' },
    { fault: { fault: 'throttle' }, code: 'RequestLimitExceeded' },
  ])('answers $code for a scripted $fault.fault', async ({ fault, code }) => {
    // Prepare
    risk.scriptNext([fault]);

    // Act
    const faulty = await answer(order());
    const next = await answer(order());

    // Assess
    expect(faulty).toMatchObject({ Response: { Error: { Code: code } } });
    expect(next).toMatchObject({ Response: { RiskLevel: 'pass' } });
  });

  it('draws errors from the configured rates', async () => {
    // Prepare
    risk.setFaults({ throttleRate: 1 });

    // Act
    const result = await answer(order());

    // Assess
    expect(result).toMatchObject({ Response: { Error: { Code: 'RequestLimitExceeded' } } });
  });
});

describe('risk simulator: broken answers and connections', () => {
  it('answers a body cut short for malformed not_json', async () => {
    // Prepare
    risk.scriptNext([{ fault: 'malformed', body: 'not_json' }]);

    // Act
    const response = await assess(order());

    // Assess
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow(SyntaxError);
  });

  it('answers JSON with neither RiskLevel nor Error for malformed no_result', async () => {
    // Prepare
    risk.scriptNext([{ fault: 'malformed', body: 'no_result' }]);

    // Act
    const result = await answer(order());

    // Assess
    expect(result).toEqual({ Response: { RequestId: expect.any(String) } });
  });

  it('never answers a hung request, so the client aborts', async () => {
    // Prepare
    risk.scriptNext([{ fault: 'hang' }]);

    // Act
    const attempt = assess(order(), signed, 300);

    // Assess
    await expect(attempt).rejects.toThrow(/timeout|abort/i);
  });

  it('drops the connection on a reset', async () => {
    // Prepare
    risk.setFaults({ resetRate: 1 });

    // Act
    const attempt = assess(order());

    // Assess
    await expect(attempt).rejects.toThrow(TypeError);
  });

  it('serves faults, rules, scripted faults, counts and reset over the admin API', async () => {
    // Prepare
    const admin = (path: string, method = 'GET', body?: unknown) =>
      fetch(`${risk.url}/admin/${path}`, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(5_000),
      });

    // Act
    const faults = await admin('faults', 'PUT', { latencyMs: { max: 5 } });
    const rules = await admin('rules', 'PUT', { reviewAtOrAbove: 1 });
    const queued = await admin('faults/next', 'POST', [{ fault: 'none' }, { fault: 'reset' }]);
    const reviewed = await answer(order());
    const requests = (await (await admin('requests')).json()) as RiskRequests;
    const badRate = await admin('faults', 'PUT', { hangRate: 5 });
    const reset = await admin('reset', 'POST');

    // Assess
    expect(await faults.json()).toMatchObject({ latencyMs: { min: 0, max: 5 } });
    expect(await rules.json()).toEqual({ reviewAtOrAbove: 1 });
    expect(await queued.json()).toEqual({ queued: 2 });
    expect(reviewed).toMatchObject({ Response: { RiskLevel: 'review' } });
    expect(requests.total).toBe(1);
    expect(badRate.status).toBe(400);
    expect(reset.status).toBe(204);
    expect(risk.faults().latencyMs).toEqual({ min: 0, max: 0 });
  });
});
