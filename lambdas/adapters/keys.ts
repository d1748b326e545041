/** The single-table key layout: one place, so no adapter invents its own. */
export const orderKey = (orderId: string) => ({ pk: `ORDER#${orderId}` });
export const agentKey = (agentId: string) => ({ pk: `AGENT#${agentId}` });
export const spendKey = (agentId: string, day: string) => ({ pk: `AGENT#${agentId}#SPEND#${day}` });
