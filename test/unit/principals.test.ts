import { describe, expect, it } from 'vitest';
import { type HttpEvent, principalOf, userOf } from '#shared/http.ts';
import { AGENT_SCOPE, AGENTS_SCOPE, CONFIRM_SCOPE, USER_SCOPE } from '#shared/wiring.ts';

/** An event as an authorizer hands it over: the JWT authorizer's, or the token authorizer's. */
function jwtEvent(claims: Record<string, string>, scopes: string[] = []): HttpEvent {
  return { requestContext: { authorizer: { jwt: { claims, scopes } } } } as unknown as HttpEvent;
}
function lambdaEvent(context: Record<string, string>): HttpEvent {
  return { requestContext: { authorizer: { lambda: context } } } as unknown as HttpEvent;
}

describe('who is calling', () => {
  it("reads an agent from a token with the agent scope: its sub is the agent's id", () => {
    const event = jwtEvent({ sub: 'demo-agent', scope: AGENT_SCOPE });
    expect(principalOf(event)).toEqual({ kind: 'agent', agentId: 'demo-agent' });
  });

  it('reads a user from a token with the user scope, from the scopes list or the scope claim', () => {
    expect(principalOf(jwtEvent({ sub: 'demo-user' }, [USER_SCOPE, CONFIRM_SCOPE]))).toEqual({
      kind: 'user',
      userId: 'demo-user',
    });
    expect(principalOf(jwtEvent({ sub: 'u', scope: `${USER_SCOPE} ${AGENTS_SCOPE}` }))).toEqual({
      kind: 'user',
      userId: 'u',
    });
  });

  it("reads the token authorizer's context as the JWT authorizer's claims", () => {
    const event = lambdaEvent({ sub: 'client-1', client_id: 'client-1', scope: AGENT_SCOPE });
    expect(principalOf(event)).toEqual({ kind: 'agent', agentId: 'client-1' });
  });

  it('refuses a token that is both, or neither, with 403', () => {
    for (const scope of [`${AGENT_SCOPE} ${USER_SCOPE}`, CONFIRM_SCOPE, '']) {
      expect(() => principalOf(jwtEvent({ sub: 'x', scope })), scope).toThrow(
        expect.objectContaining({ code: 'FORBIDDEN', status: 403 }),
      );
    }
  });

  it('refuses an agent on a user route, and a token without a subject', () => {
    expect(() => userOf(jwtEvent({ sub: 'demo-agent', scope: AGENT_SCOPE }))).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN' }),
    );
    expect(() => principalOf(jwtEvent({ scope: USER_SCOPE }))).toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED', status: 401 }),
    );
  });
});
