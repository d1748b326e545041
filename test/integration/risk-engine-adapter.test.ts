import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { businessSecurityData, HttpRiskEngine } from '#adapters/http-risk-engine.ts';
import type { SecretSource } from '#adapters/secret-source.ts';
import type { RiskRequest } from '#domain/payment-ports.ts';
import { localRiskCredentials } from '../../local/simulators/risk/contract.ts';
import { type RiskSimulator, startRiskSimulator } from '../../local/simulators/risk/server.ts';

const localSecret = JSON.stringify(localRiskCredentials);
const wrongSecret = JSON.stringify({ ...localRiskCredentials, SecretKey: 'a-wrong-key' });

/** A secret source that answers `values` in turn, one more on each refresh. */
class SecretSequence implements SecretSource {
  refreshes = 0;
  constructor(private readonly values: readonly string[]) {}
  async get(): Promise<string> {
    return this.values[Math.min(this.refreshes, this.values.length - 1)] ?? '';
  }
  async refresh(): Promise<void> {
    this.refreshes++;
  }
}

const request: RiskRequest = {
  orderId: 'ord_r',
  agentId: 'demo-agent',
  amount: 450,
  currency: 'CNY',
  paymentMethod: 'wallet',
  clientIp: '203.0.113.7',
  placedAt: '2026-11-29T12:00:00.000Z',
};

let risk: RiskSimulator;

function engine(
  options: { credentials?: SecretSource; nowSeconds?: () => number; timeoutMs?: number } = {},
) {
  return new HttpRiskEngine({
    url: risk.url,
    region: 'ap-guangzhou',
    sceneCode: 'e_activity_antirush',
    // Well inside the simulated hang (2 s), with room for a loaded machine on every other call.
    timeoutMs: options.timeoutMs ?? 1_500,
    credentials: options.credentials ?? new SecretSequence([localSecret]),
    ...(options.nowSeconds ? { nowSeconds: options.nowSeconds } : {}),
  });
}

beforeAll(async () => {
  risk = await startRiskSimulator({ seed: 5, faults: { hangMs: 2_000 } });
});

beforeEach(() => {
  risk.reset();
});

afterAll(async () => {
  await risk?.stop();
});

describe('Tencent Cloud RCE adapter (risk simulator, signature checked)', () => {
  it('sends the order as ManageMarketingRisk BusinessSecurityData, in Tencent field names', () => {
    // Act
    const body = businessSecurityData(request, 'e_activity_antirush');

    // Assess
    expect(body).toEqual({
      BusinessSecurityData: {
        Account: {
          AccountType: 10004,
          OtherAccount: { AccountId: expect.stringMatching(/^[0-9a-f]{32}$/) },
        },
        SceneCode: 'e_activity_antirush',
        UserIp: '203.0.113.7',
        PostTime: 1_795_953_600,
        UserId: 'demo-agent',
        Details: [
          { FieldName: 'orderId', FieldValue: 'ord_r' },
          { FieldName: 'amount', FieldValue: '450' },
          { FieldName: 'currency', FieldValue: 'CNY' },
          { FieldName: 'paymentMethod', FieldValue: 'wallet' },
        ],
      },
    });
  });

  it.each([
    [{}, 'pass'],
    [{ reviewAtOrAbove: 400 }, 'review'],
    [{ rejectAtOrAbove: 400 }, 'reject'],
    [{ byAgent: { 'demo-agent': 'reject' as const } }, 'reject'],
  ] as const)('reads Response.Data.Value.RiskLevel for the rules %o', async (rules, level) => {
    // Prepare
    risk.setRules(rules);

    // Act
    const answer = await engine().assess(request);

    // Assess
    expect(answer).toEqual({ kind: 'assessed', level, requestId: expect.any(String) });
    expect(risk.requests().byOrder).toEqual({ ord_r: 1 });
  });

  it.each([
    ['internal_error', 'InternalServerError'],
    ['throttle', 'RequestLimitExceeded'],
    ['malformed', 'MalformedResponse'],
    ['hang', 'Timeout'],
    ['reset', 'Unreachable'],
  ] as const)('classifies %s as the retryable error %s', async (fault, code) => {
    // Prepare
    risk.scriptNext([{ fault }]);

    // Act
    const answer = await engine().assess(request);

    // Assess
    expect(answer).toMatchObject({ kind: 'error', code, retryable: true });
  });

  it.each([
    [6000, true],
    [1002, false],
    [4300, false],
    [4301, false],
  ] as const)(
    'reads a non-zero Data.Code %i in an HTTP 200 as a business failure (retryable: %s)',
    async (dataCode, retryable) => {
      // Prepare
      risk.scriptNext([{ fault: 'business_error', dataCode }]);

      // Act
      const answer = await engine().assess(request);

      // Assess
      expect(answer).toEqual({
        kind: 'error',
        code: `DataCode${dataCode}`,
        requestId: expect.any(String),
        retryable,
      });
    },
  );

  it('refreshes the key pair once on AuthFailure and uses the replaced one', async () => {
    // Prepare
    const credentials = new SecretSequence([wrongSecret, localSecret]);

    // Act
    const answer = await engine({ credentials }).assess(request);

    // Assess
    expect(answer).toMatchObject({ kind: 'assessed', level: 'pass' });
    expect(credentials.refreshes).toBe(1);
    expect(risk.requests()).toMatchObject({ total: 2, authFailures: 1 });
  });

  it('answers a wrong key with AuthFailure.SignatureFailure, not retryable, after one refresh', async () => {
    // Prepare
    const credentials = new SecretSequence([wrongSecret]);

    // Act
    const answer = await engine({ credentials }).assess(request);

    // Assess
    expect(answer).toEqual({
      kind: 'error',
      code: 'AuthFailure.SignatureFailure',
      requestId: expect.any(String),
      retryable: false,
    });
    expect(credentials.refreshes).toBe(1);
    expect(risk.requests().total).toBe(2);
  });

  it('answers a clock six minutes slow with AuthFailure.SignatureExpire', async () => {
    // Act
    const answer = await engine({ nowSeconds: () => Math.floor(Date.now() / 1000) - 360 }).assess(
      request,
    );

    // Assess
    expect(answer).toMatchObject({
      kind: 'error',
      code: 'AuthFailure.SignatureExpire',
      retryable: false,
    });
  });
});
