import { jwtVerify, SignJWT } from 'jose';
import { AGENT_SCOPES, USER_SCOPES } from '#shared/wiring.ts';
import { ownerOf } from './seed.ts';

/**
 * The local stand-in for the HTTP API's JWT authorizer. The key is an obviously fake local
 * value: in AWS, tokens come from the user pool (or the provider named by the jwtIssuer context).
 */
const localKey = new TextEncoder().encode('autopay-local-signing-key-not-a-secret');
export const localIssuer = 'autopay-local';
/** The local user's app client: its id is the `client_id` of user tokens, as with Cognito. */
export const localUserAppClientId = 'autopay-user-app';

/**
 * A token shaped as Cognito's access tokens are: `sub`, `client_id`, `scope` (space-separated),
 * `token_use: access`, and no `aud` (so the authorizer's audience check reads `client_id`).
 */
async function signAccessToken(
  subject: string,
  clientId: string,
  scopes: readonly string[],
  ttlSeconds: number,
): Promise<string> {
  return new SignJWT({ client_id: clientId, scope: scopes.join(' '), token_use: 'access' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(localIssuer)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(localKey);
}

/**
 * An agent's token, as the client-credentials grant of its app client gives it: `sub` and
 * `client_id` are both the agent's id, and it holds the agent scopes only.
 */
export function signAgentToken(agentId: string, ttlSeconds = 24 * 3600): Promise<string> {
  return signAccessToken(agentId, agentId, AGENT_SCOPES, ttlSeconds);
}

/** A user's token, from the user's app: `sub` is the user's id; it holds the user scopes. */
export function signUserToken(userId: string, ttlSeconds = 24 * 3600): Promise<string> {
  return signAccessToken(userId, localUserAppClientId, USER_SCOPES, ttlSeconds);
}

/** The token of the user who owns a seeded agent (`npm run token -- <agentId> --user`). */
export function signOwnerToken(agentId: string, ttlSeconds = 24 * 3600): Promise<string> {
  const owner = ownerOf(agentId);
  if (owner === undefined) {
    throw new Error(`${agentId} is not a seeded agent: use --user <userId> for its owner`);
  }
  return signUserToken(owner, ttlSeconds);
}

/** The audiences the local authorizer admits, as the JWT authorizer's audience list. */
export const localAudiences: ReadonlySet<string> = new Set([localUserAppClientId]);

/**
 * The token's claims when its signature, issuer and expiry hold and its `client_id` is the user
 * app's or an agent's (locally every agent's client is admitted, as the pre-token trigger makes
 * agents' tokens pass in AWS); else undefined.
 */
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
      algorithms: ['HS256'],
    });
    if (payload.token_use !== 'access' || typeof payload.client_id !== 'string') {
      return undefined;
    }
    return payload as Record<string, string | number | boolean | string[]>;
  } catch {
    return undefined;
  }
}
