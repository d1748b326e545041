import type { AgentProfile } from '#domain/agent.ts';

/**
 * An agent trusted to pay on its own, with a daily limit no scale run reaches, so only the
 * mechanism under test (its token bucket, the breaker) decides; `rate` sets its own bucket.
 */
export function trustedAgent(
  agentId: string,
  rate?: { readonly perSecond: number; readonly burst: number },
): AgentProfile {
  return {
    agentId,
    ownerId: `${agentId}-owner`,
    suspended: false,
    trustedActions: ['order_coffee', 'submit_payment'],
    limitCurrency: 'CNY',
    perOrderLimit: 5000,
    dailyLimit: 1_000_000_000,
    ...(rate ? { ratePerSecond: rate.perSecond, rateBurst: rate.burst } : {}),
  };
}
