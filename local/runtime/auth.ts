import { jwtVerify, SignJWT } from 'jose';

/**
 * The local stand-in for the HTTP API's JWT authorizer. The key is an obviously fake local
 * value: in AWS, tokens come from the identity provider named by the jwtIssuer context.
 */
const localKey = new TextEncoder().encode('autopay-local-signing-key-not-a-secret');
export const localIssuer = 'autopay-local';
export const localAudience = 'autopay';

/**
 * A token for `agentId`. An agent's own token carries the `orders` scope; the user's app, which
 * may confirm the agent's orders, also carries the scopes given in `extraScopes`.
 */
export async function signLocalToken(
  agentId: string,
  extraScopes: readonly string[] = [],
  ttlSeconds = 24 * 3600,
): Promise<string> {
  return new SignJWT({ scope: ['orders', ...extraScopes].join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(agentId)
    .setIssuer(localIssuer)
    .setAudience(localAudience)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(localKey);
}

/** The token's claims when its signature, issuer, audience and expiry all hold; else undefined. */
export async function verifyLocalToken(
  authorization: string | undefined,
): Promise<Record<string, string | number | boolean | string[]> | undefined> {
  const match = /^Bearer (\S+)$/i.exec(authorization ?? '');
  if (!match?.[1]) {
    return undefined;
  }
  try {
    const { payload } = await jwtVerify(match[1], localKey, {
      issuer: localIssuer,
      audience: localAudience,
      algorithms: ['HS256'],
    });
    return payload as Record<string, string | number | boolean | string[]>;
  } catch {
    return undefined;
  }
}
