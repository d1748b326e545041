/**
 * Who is calling: an agent (OAuth client credentials; its id is the token's subject) or a user
 * (who owns agents and acts on their orders). The token's scopes say which; the HTTP layer reads
 * them, the use cases only ever see this.
 */
export type Principal =
  | { readonly kind: 'agent'; readonly agentId: string }
  | { readonly kind: 'user'; readonly userId: string };

export const agentPrincipal = (agentId: string): Principal => ({ kind: 'agent', agentId });
export const userPrincipal = (userId: string): Principal => ({ kind: 'user', userId });
