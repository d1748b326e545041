import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { tc3Authorization, tc3Date, tc3Signature } from '../../lambdas/adapters/tc3-signature.ts';

// A CommonJS module whose class is its `default` export, loaded as Node loads it.
const { default: Sign } = createRequire(import.meta.url)(
  'tencentcloud-sdk-nodejs/tencentcloud/common/sign.js',
) as typeof import('tencentcloud-sdk-nodejs/tencentcloud/common/sign.js');

/** The official SDK's TC3 signer (tencentcloud-sdk-nodejs, common/sign.js), for the same inputs. */
function sdkAuthorization(input: {
  host: string;
  payload: unknown;
  timestamp: number;
  secretId: string;
  secretKey: string;
}): string {
  return Sign.sign3({
    method: 'POST',
    url: `https://${input.host}/`,
    payload: input.payload,
    timestamp: input.timestamp,
    service: 'rce',
    secretId: input.secretId,
    secretKey: input.secretKey,
    multipart: false,
    boundary: '',
    headers: { 'Content-Type': 'application/json' },
  });
}

const credentials = {
  secretId: 'AKIDexample0000000000000000000000',
  secretKey: 'example-key-1234',
};

describe('TC3-HMAC-SHA256 signer', () => {
  it.each([
    { name: 'an order', host: 'rce.tencentcloudapi.com', timestamp: 1_764_460_800 },
    {
      name: 'a request just before midnight UTC',
      host: 'rce.tencentcloudapi.com',
      timestamp: 1_764_460_799,
    },
    { name: 'a local simulator host', host: '127.0.0.1', timestamp: 1_700_000_000 },
  ])('signs $name exactly as the official SDK does', ({ host, timestamp }) => {
    // Prepare
    const body = {
      BusinessSecurityData: {
        Account: { AccountType: 10004, OtherAccount: { AccountId: 'f'.repeat(32) } },
        SceneCode: 'e_activity_antirush',
        UserIp: '203.0.113.7',
        PostTime: timestamp - 3,
        UserId: 'agent-咖啡',
        Details: [{ FieldName: 'amount', FieldValue: '450' }],
      },
    };

    // Act
    const ours = tc3Authorization(
      {
        service: 'rce',
        host,
        contentType: 'application/json',
        payload: JSON.stringify(body),
        timestamp,
      },
      credentials,
    );
    const official = sdkAuthorization({ host, payload: body, timestamp, ...credentials });

    // Assess
    expect(ours).toBe(official);
  });

  it('puts the UTC date of the timestamp in the credential scope', () => {
    // Act
    const authorization = tc3Authorization(
      {
        service: 'rce',
        host: 'h',
        contentType: 'application/json',
        payload: '{}',
        timestamp: 1_764_460_799,
      },
      credentials,
    );

    // Assess
    expect(tc3Date(1_764_460_799)).toBe('2025-11-29');
    expect(authorization).toMatch(
      /^TC3-HMAC-SHA256 Credential=AKIDexample0+\/2025-11-29\/rce\/tc3_request, SignedHeaders=content-type;host, Signature=[0-9a-f]{64}$/,
    );
  });

  it('changes the signature when the key, the body or the time changes', () => {
    // Prepare
    const request = {
      service: 'rce',
      host: 'rce.tencentcloudapi.com',
      contentType: 'application/json',
      payload: '{"a":1}',
      timestamp: 1_764_460_800,
    };

    // Act
    const signatures = new Set([
      tc3Signature(request, 'key-1'),
      tc3Signature(request, 'key-2'),
      tc3Signature({ ...request, payload: '{"a":2}' }, 'key-1'),
      tc3Signature({ ...request, timestamp: request.timestamp + 1 }, 'key-1'),
    ]);

    // Assess
    expect(signatures.size).toBe(4);
  });
});
