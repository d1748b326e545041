import type { AgentProfile } from '#domain/agent.ts';

/** Trusted to pay on its own, within 50.00 CNY an order and 200.00 CNY a day. */
export const demoAgent: AgentProfile = {
  agentId: 'demo-agent',
  trustedActions: ['order_coffee', 'submit_payment'],
  limitCurrency: 'CNY',
  perOrderLimit: 5000,
  dailyLimit: 20000,
};

/** May order coffee, but every payment waits for its user's confirmation. */
export const cautiousAgent: AgentProfile = {
  agentId: 'cautious-agent',
  trustedActions: ['order_coffee'],
  limitCurrency: 'CNY',
  perOrderLimit: 5000,
  dailyLimit: 20000,
};

export const seedAgents: readonly AgentProfile[] = [demoAgent, cautiousAgent];
