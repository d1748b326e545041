/*
 * The OAuth scopes of autopay's tokens, in a module of their own: the HTTP functions check them
 * on every request, and importing them from the wiring would put its whole table into every
 * function's bundle. The wiring re-exports them.
 */

/**
 * The identifier of the resource server the scopes belong to. Cognito names a custom scope
 * `<resource server>/<scope>`; any other OIDC provider is set up to issue the same strings.
 */
export const RESOURCE_SERVER = 'autopay';

/** An agent's own scope: it places orders and reads its own. A user's app never holds it. */
export const AGENT_SCOPE = `${RESOURCE_SERVER}/agent`;

/**
 * The scope that makes a token a user's: it reads the orders of the user's agents. An agent's
 * token never holds it nor any other user scope.
 */
export const USER_SCOPE = `${RESOURCE_SERVER}/user`;

/**
 * The scope of the user's own app to confirm an order. An agent that may not pay on its own must
 * not be able to approve its own order either.
 */
export const CONFIRM_SCOPE = `${RESOURCE_SERVER}/orders.confirm`;

/** The scope that lets the user (never the agent) ask for an order's money back. */
export const REFUND_SCOPE = `${RESOURCE_SERVER}/orders.refund`;

/** The scope that lets the user create, change, suspend and resume their agents. */
export const AGENTS_SCOPE = `${RESOURCE_SERVER}/agents.manage`;

/** The scope that lets the user register, list and delete their webhook endpoints. */
export const WEBHOOKS_SCOPE = `${RESOURCE_SERVER}/webhooks.manage`;

/** Every scope the user's own app holds. */
export const USER_SCOPES: readonly string[] = [
  USER_SCOPE,
  CONFIRM_SCOPE,
  REFUND_SCOPE,
  AGENTS_SCOPE,
  WEBHOOKS_SCOPE,
];

/** Every scope an agent's token holds. */
export const AGENT_SCOPES: readonly string[] = [AGENT_SCOPE];
