import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { AGENT_SCOPE, AGENTS_SCOPE, USER_SCOPE } from '#shared/wiring.ts';

/**
 * The token authorizer used with the stack's Cognito user pool, against tokens shaped as
 * Cognito's access tokens are (client credentials: `sub` = `client_id`, no `aud`), signed by a
 * key the test hands the verifier in place of the pool's JWKS.
 */
const userPoolId = 'us-east-1_autopay';
const issuer = `https://cognito-idp.us-east-1.amazonaws.com/${userPoolId}`;
let handler: typeof import('../../lambdas/handlers/token-authorizer.ts').handler;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

beforeAll(async () => {
  vi.stubEnv('USER_POOL_ID', userPoolId);
  const authorizer = await import('../../lambdas/handlers/token-authorizer.ts');
  handler = authorizer.handler;
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
  authorizer.verifier.cacheJwks({ keys: [jwk as never] });
});

async function accessToken(claims: Record<string, unknown>, expiresIn = '1h'): Promise<string> {
  return new SignJWT({ token_use: 'access', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(privateKey);
}

const request = (routeKey: string, token: string) =>
  handler({ routeKey, headers: { authorization: `Bearer ${token}` } } as never);

describe('the token authorizer of the user pool', () => {
  it("admits an agent's client-credentials token on an agent route, handing its claims on", async () => {
    const token = await accessToken({ sub: 'client-1', client_id: 'client-1', scope: AGENT_SCOPE });
    const answer = await request('POST /v1/orders', token);
    expect(answer.isAuthorized).toBe(true);
    expect(answer.context).toMatchObject({
      sub: 'client-1',
      client_id: 'client-1',
      scope: AGENT_SCOPE,
      token_use: 'access',
    });
  });

  it('refuses a token with none of the route scopes, as the JWT authorizer would', async () => {
    const agent = await accessToken({ sub: 'client-1', client_id: 'client-1', scope: AGENT_SCOPE });
    const user = await accessToken({
      sub: 'u-1',
      client_id: 'app',
      scope: `${USER_SCOPE} ${AGENTS_SCOPE}`,
    });
    expect((await request('POST /v1/agents', agent)).isAuthorized).toBe(false);
    expect((await request('POST /v1/orders', user)).isAuthorized).toBe(false);
    expect((await request('GET /v1/orders/{id}', user)).isAuthorized).toBe(true);
  });

  it('refuses an ID token, an expired token, another issuer and an unknown route', async () => {
    const claims = { sub: 'client-1', client_id: 'client-1', scope: AGENT_SCOPE };
    const idToken = await accessToken({ ...claims, token_use: 'id' });
    const expired = await accessToken(claims, '-1m');
    const foreign = await new SignJWT({ token_use: 'access', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
      .setIssuer('https://issuer.example.com')
      .setExpirationTime('1h')
      .sign(privateKey);
    const valid = await accessToken(claims);
    for (const [name, token, route] of [
      ['id token', idToken, 'POST /v1/orders'],
      ['expired', expired, 'POST /v1/orders'],
      ['foreign', foreign, 'POST /v1/orders'],
      ['unknown route', valid, 'DELETE /v1/orders'],
      ['garbage', 'not-a-jwt', 'POST /v1/orders'],
    ] as const) {
      expect((await request(route, token)).isAuthorized, name).toBe(false);
    }
  });
});
