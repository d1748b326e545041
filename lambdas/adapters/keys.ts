/** The single-table key layout: one place, so no adapter invents its own. */
export const orderKey = (orderId: string) => ({ pk: `ORDER#${orderId}` });
export const agentKey = (agentId: string) => ({ pk: `AGENT#${agentId}` });
export const spendKey = (agentId: string, day: string) => ({ pk: `AGENT#${agentId}#SPEND#${day}` });
export const breakerKey = (gateway: string) => ({ pk: `BREAKER#${gateway}` });
export const breakerWindowKey = (gateway: string, epoch: number, windowId: number) => ({
  pk: `BREAKER#${gateway}#E#${epoch}#W#${windowId}`,
});
