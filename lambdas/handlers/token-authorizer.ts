import { CognitoJwtVerifier } from 'aws-jwt-verify';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { functionSpecs } from '#shared/wiring.ts';

/**
 * The HTTP API's authorizer when the stack's Cognito user pool is the identity provider. API
 * Gateway's JWT authorizer admits a Cognito access token only if its `client_id` is in an
 * audience list fixed at deployment, and every agent is an app client created at run time:
 * this one admits an access token of any client of the pool, then applies the route's scopes
 * as the JWT authorizer would (at least one of them). The claims reach the function as strings,
 * as the JWT authorizer hands them over.
 */
export type TokenClaims = { readonly [claim: string]: string };

/** Exported so that a test can hand it the keys it would fetch from the pool's JWKS. */
export const verifier = CognitoJwtVerifier.create({
  userPoolId: process.env.USER_POOL_ID ?? '',
  tokenUse: 'access',
  // Any client of the pool: the user's app, or an agent's own client.
  clientId: null,
});

/** Route key → the scopes of which a token must hold one. */
const routeScopes = new Map<string, readonly string[]>(
  Object.values(functionSpecs).flatMap((spec) =>
    spec.routes.map((route) => [`${route.method} ${route.path}`, route.scopes ?? []] as const),
  ),
);

export async function handler(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<TokenClaims>> {
  const denied = { isAuthorized: false, context: {} };
  const match = /^Bearer (\S+)$/i.exec(event.headers?.authorization ?? '');
  const required = routeScopes.get(event.routeKey);
  if (!match?.[1] || required === undefined) {
    return denied;
  }
  try {
    const payload = await verifier.verify(match[1]);
    const scopes = String(payload.scope ?? '').split(' ');
    if (required.length > 0 && !required.some((scope) => scopes.includes(scope))) {
      return denied;
    }
    const context = Object.fromEntries(
      Object.entries(payload).map(([claim, value]) => [
        claim,
        Array.isArray(value) ? `[${value.join(' ')}]` : String(value),
      ]),
    );
    return { isAuthorized: true, context };
  } catch {
    return denied;
  }
}
