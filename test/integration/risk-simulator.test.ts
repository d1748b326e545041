import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Tc3Credentials, tc3Authorization } from '../../lambdas/adapters/tc3-signature.ts';
import { localRiskCredentials } from '../../local/simulators/risk/contract.ts';
import type { ScriptedRiskFault } from '../../local/simulators/risk/fault-settings.ts';
import {
  type RiskRequests,
  type RiskSimulator,
  startRiskSimulator,
} from '../../local/simulators/risk/server.ts';
import { levelOf, rceClient } from '../support/rce.ts';

const localPair: Tc3Credentials = {
  secretId: localRiskCredentials.SecretId,
  secretKey: localRiskCredentials.SecretKey,
};

let risk: RiskSimulator;
let orders = 0;

/** A ManageMarketingRisk body as autopay sends it: the order in Details. */
function order(overrides: { orderId?: string; userId?: string; amount?: unknown } = {}) {
  orders += 1;
  return {
    BusinessSecurityData: {
      Account: { AccountType: 10004, OtherAccount: { AccountId: 'a'.repeat(32) } },
      SceneCode: 'e_activity_antirush',
      UserIp: '203.0.113.7',
      PostTime: Math.floor(Date.now() / 1000),
      UserId: overrides.userId ?? 'agent-coffee',
      Details: [
        { FieldName: 'orderId', FieldValue: overrides.orderId ?? `order-${orders}` },
        { FieldName: 'amount', FieldValue: String(overrides.amount ?? 1_250) },
      ],
    },
  };
}

const orderIdOf = (body: ReturnType<typeof order>) =>
  body.BusinessSecurityData.Details[0]?.FieldValue ?? '';

interface Signing {
  readonly credentials?: Tc3Credentials;
  readonly timestamp?: number;
  readonly headers?: Record<string, string>;
}

/** Posts a body signed as autopay's adapter signs it, unless told otherwise. */
function assess(body: unknown, signing: Signing = {}, timeoutMs = 5_000): Promise<Response> {
  const payload = JSON.stringify(body);
  const timestamp = signing.timestamp ?? Math.floor(Date.now() / 1000);
  const contentType = 'application/json';
  const authorization = tc3Authorization(
    { service: 'rce', host: '127.0.0.1', contentType, payload, timestamp },
    signing.credentials ?? localPair,
  );
  return fetch(`${risk.url}/`, {
    method: 'POST',
    headers: {
      authorization,
      'content-type': contentType,
      'x-tc-action': 'ManageMarketingRisk',
      'x-tc-version': '2020-11-03',
      'x-tc-timestamp': String(timestamp),
      'x-tc-region': 'ap-guangzhou',
      ...signing.headers,
    },
    body: payload,
    signal: AbortSignal.timeout(timeoutMs),
  });
}

async function answer(body: unknown, signing?: Signing): Promise<unknown> {
  const response = await assess(body, signing);
  expect(response.status).toBe(200);
  return response.json();
}

const verdict = (level: string) => ({
  Response: { Data: { Code: 0, Value: { RiskLevel: level } } },
});

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
    const body = await answer(order({ amount, userId: agent }));

    // Assess
    expect(body).toEqual({
      Response: {
        Data: {
          Code: 0,
          Message: 'OK',
          Value: expect.objectContaining({
            RiskLevel: level,
            UserId: agent,
            UserIp: '203.0.113.7',
            RiskType: expect.any(Array),
          }),
          UUid: expect.any(String),
        },
        RequestId: expect.any(String),
      },
    });
  });

  it('applies rules replaced at run time, and restores the configured ones on reset', async () => {
    // Prepare
    risk.setRules({ byAgent: { 'agent-coffee': 'review' } });

    // Act
    const replaced = await answer(order());
    risk.reset();
    const restored = await answer(order());

    // Assess
    expect(replaced).toMatchObject(verdict('review'));
    expect(restored).toMatchObject(verdict('pass'));
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
      byOrder: { [orderIdOf(repeated)]: 2, [`order-${orders}`]: 1 },
      verdicts: { pass: 3, review: 0, reject: 0 },
      authFailures: 0,
      faults: {
        internal_error: 0,
        throttle: 0,
        hang: 0,
        malformed: 0,
        reset: 0,
        business_error: 0,
      },
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
    const byRules = await answer(order({ amount: 10_000 }));
    const passed = await answer(order());

    // Assess
    expect(rejected).toMatchObject(verdict('reject'));
    expect(reviewed).toMatchObject(verdict('review'));
    expect(byRules).toMatchObject(verdict('review'));
    expect(passed).toMatchObject(verdict('pass'));
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
  it.each<{ name: string; signing: Signing; body: unknown; code: string }>([
    {
      name: 'another action',
      signing: { headers: { 'x-tc-action': 'DescribeRisk' } },
      body: order(),
      code: 'InvalidAction',
    },
    {
      name: 'another version',
      signing: { headers: { 'x-tc-version': '2019-07-22' } },
      body: order(),
      code: 'NoSuchVersion',
    },
    {
      name: 'a missing SceneCode',
      signing: {},
      body: { BusinessSecurityData: { ...order().BusinessSecurityData, SceneCode: undefined } },
      code: 'InvalidParameter',
    },
    { name: 'no BusinessSecurityData', signing: {}, body: {}, code: 'InvalidParameter' },
    {
      name: 'a wrong SecretKey',
      signing: { credentials: { ...localPair, secretKey: 'not-the-key' } },
      body: order(),
      code: 'AuthFailure.SignatureFailure',
    },
    {
      name: 'an unknown SecretId',
      signing: { credentials: { ...localPair, secretId: 'AKIDunknown' } },
      body: order(),
      code: 'AuthFailure.SecretIdNotFound',
    },
    {
      name: 'a timestamp six minutes old',
      signing: { timestamp: Math.floor(Date.now() / 1000) - 360 },
      body: order(),
      code: 'AuthFailure.SignatureExpire',
    },
    {
      name: 'no Authorization header',
      signing: { headers: { authorization: '' } },
      body: order(),
      code: 'AuthFailure.InvalidAuthorization',
    },
    {
      name: 'a signed header changed after signing',
      signing: { headers: { 'content-type': 'application/json; charset=utf-8' } },
      body: order(),
      code: 'AuthFailure.SignatureFailure',
    },
  ])('answers $code for $name', async ({ signing, body, code }) => {
    // Act
    const result = await answer(body, signing);

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
    expect(next).toMatchObject(verdict('pass'));
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

  it('answers JSON with neither Data nor Error for malformed no_result', async () => {
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
    const attempt = assess(order(), {}, 300);

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
    expect(reviewed).toMatchObject(verdict('review'));
    expect(requests.total).toBe(1);
    expect(badRate.status).toBe(400);
    expect(reset.status).toBe(204);
    expect(risk.faults().latencyMs).toEqual({ min: 0, max: 0 });
  });
});

describe('risk simulator: requests signed by the official Tencent Cloud SDK', () => {
  it('accepts ManageMarketingRisk signed by tencentcloud-sdk-nodejs with the local key pair', async () => {
    // Prepare
    const client = rceClient(risk.port, localPair);

    // Act
    const result = await client.ManageMarketingRisk(order({ amount: 10_000 }));

    // Assess
    expect(levelOf(result)).toBe('review');
    expect(result.RequestId).toEqual(expect.any(String));
  });

  it('refuses the same request signed with a wrong SecretKey: AuthFailure.SignatureFailure', async () => {
    // Prepare
    const client = rceClient(risk.port, { ...localPair, secretKey: 'a-wrong-secret-key' });

    // Act
    const attempt = client.ManageMarketingRisk(order());

    // Assess
    await expect(attempt).rejects.toMatchObject({
      code: 'AuthFailure.SignatureFailure',
      requestId: expect.any(String),
    });
    expect(risk.requests()).toMatchObject({
      verdicts: { pass: 0, review: 0, reject: 0 },
      authFailures: 1,
    });
  });

  it('refuses every key once the pair is replaced, as after a key disabled in CAM', async () => {
    // Prepare
    risk.setCredentials({ AKIDreplacement: 'replacement-key' });
    const client = rceClient(risk.port, localPair);

    // Act
    const attempt = client.ManageMarketingRisk(order());

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'AuthFailure.SecretIdNotFound' });
  });
});
