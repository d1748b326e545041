import * as z from 'zod';
import { checkSetting, faultSettings } from '../faults.ts';
import { type AssessedOrder, type RiskLevel, riskLevels } from './contract.ts';

const { choice } = faultSettings;

export interface RiskRules {
  reviewAtOrAbove?: number;
  rejectAtOrAbove?: number;
  /** By UserId (autopay sends the agent's id); wins over the amount thresholds. */
  byAgent?: Record<string, RiskLevel>;
}

/** A threshold is an amount of the order, so an integer in minor units, like the amount itself. */
const threshold = () => {
  const error = 'must be an amount in minor units: an integer of at least 0.';
  return z.int({ error }).min(0, { error });
};

const riskRulesSchema = z.strictObject({
  reviewAtOrAbove: threshold().optional(),
  rejectAtOrAbove: threshold().optional(),
  byAgent: z
    .record(z.string(), choice(riskLevels), { error: 'must map agent ids to levels.' })
    .optional(),
}) satisfies z.ZodType<RiskRules>;

export function checkRules(value: unknown): RiskRules {
  return checkSetting(riskRulesSchema, value, 'rules');
}

/** The agent's own rule first, then the higher threshold, then the lower one. */
export function assessRisk(rules: RiskRules, order: AssessedOrder): RiskLevel {
  const forAgent = rules.byAgent?.[order.userId];
  if (forAgent !== undefined) return forAgent;
  const amount = order.amount ?? 0;
  if (rules.rejectAtOrAbove !== undefined && amount >= rules.rejectAtOrAbove) {
    return 'reject';
  }
  if (rules.reviewAtOrAbove !== undefined && amount >= rules.reviewAtOrAbove) {
    return 'review';
  }
  return 'pass';
}
