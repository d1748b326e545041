/**
 * The single-table key layout: one place, so no adapter invents its own. Each kind of item has
 * its own partition-key prefix, and no prefix starts another, so a prefix names exactly one kind:
 * the IAM policy of each function allows writes only under the prefixes its wiring lists.
 */
export const itemPrefixes = {
  order: 'ORDER#',
  /** An agent's profile: its owner, trust and limits. Only the agents function writes one. */
  agent: 'AGENT#',
  /** The creation of an agent remembered by (user, Idempotency-Key). */
  agentRequest: 'AGENTREQ#',
  /**
   * An agent's spend of one UTC day. Not under AGENT#, so a function that may give back a day's
   * budget cannot also rewrite what the agent is trusted with.
   */
  spend: 'SPEND#',
  breaker: 'BREAKER#',
  /** A user's webhook endpoints, all in one item: the cap is a condition on one write. */
  webhooks: 'WEBHOOKS#',
  /** The operators' switches (the pause of auto-pay or payments). Written by operators only. */
  control: 'CONTROL#',
} as const;

export type ItemKind = keyof typeof itemPrefixes;

export const orderKey = (orderId: string) => ({ pk: `${itemPrefixes.order}${orderId}` });
export const agentKey = (agentId: string) => ({ pk: `${itemPrefixes.agent}${agentId}` });
export const agentRequestKey = (requestId: string) => ({
  pk: `${itemPrefixes.agentRequest}${requestId}`,
});
export const spendKey = (agentId: string, day: string) => ({
  pk: `${itemPrefixes.spend}${agentId}#${day}`,
});
export const breakerKey = (gateway: string) => ({ pk: `${itemPrefixes.breaker}${gateway}` });
export const breakerWindowKey = (gateway: string, epoch: number, windowId: number) => ({
  pk: `${itemPrefixes.breaker}${gateway}#E#${epoch}#W#${windowId}`,
});
export const webhooksKey = (userId: string) => ({ pk: `${itemPrefixes.webhooks}${userId}` });
export const controlKey = (name: string) => ({ pk: `${itemPrefixes.control}${name}` });

/**
 * Key of the listing index, set only on the items it lists: `byOwner` holds a user's agents and
 * their orders (under different partition values), sorted by creation time. An agent's orders
 * are read from its owner's partition: a second index would cost every order a write unit.
 */
export const OWNER_INDEX = 'byOwner';
export const indexAttributes = { owner: 'gsiOwner', sort: 'createdAt' } as const;
export const ownerOrdersPartition = (ownerId: string) => `ORDERS#${ownerId}`;
export const ownerAgentsPartition = (ownerId: string) => `AGENTS#${ownerId}`;
