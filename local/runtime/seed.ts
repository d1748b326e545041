import type { AgentProfile } from '#domain/agent.ts';

/** Trusted to pay on its own, within 50.00 CNY an order and 200.00 CNY a day. */
export const demoAgent: AgentProfile = {
  agentId: 'demo-agent',
  ownerId: 'demo-user',
  suspended: false,
  trustedActions: ['order_coffee', 'submit_payment'],
  limitCurrency: 'CNY',
  perOrderLimit: 5000,
  dailyLimit: 20000,
};

/** May order coffee, but every payment waits for its user's confirmation. */
export const cautiousAgent: AgentProfile = {
  agentId: 'cautious-agent',
  ownerId: 'demo-user',
  suspended: false,
  trustedActions: ['order_coffee'],
  limitCurrency: 'CNY',
  perOrderLimit: 5000,
  dailyLimit: 20000,
};

/** Another user's agent, trusted as demo-agent is: what demo-user must never see or touch. */
export const otherAgent: AgentProfile = {
  ...demoAgent,
  agentId: 'other-agent',
  ownerId: 'other-user',
};

export const seedAgents: readonly AgentProfile[] = [demoAgent, cautiousAgent, otherAgent];

/** The owner of a seeded agent; the local tools also name owners `<agentId>-owner` for theirs. */
export function ownerOf(agentId: string): string | undefined {
  return seedAgents.find((agent) => agent.agentId === agentId)?.ownerId ?? toolOwnerOf(agentId);
}

/** Agents the local tools seed (chaos, bench) belong to one user per agent, named after it. */
export function toolOwnerOf(agentId: string): string | undefined {
  return /^(chaos|bench)-/.test(agentId) ? `${agentId}-owner` : undefined;
}
