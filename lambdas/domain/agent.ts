import type { AgentRestraint, ConfirmationReason, Money, Order } from './order.ts';

/** The action an agent must be trusted with for autopay to pay without asking the user. */
export const AUTO_PAY_ACTION = 'submit_payment';

/** What the user allows one agent to do; limits are minor units of `limitCurrency`. */
export interface AgentProfile {
  readonly agentId: string;
  /** The user who owns the agent (the user's id, a token's `sub` by default). */
  readonly ownerId: string;
  /** While true, the agent's new orders are refused and its unsent ones held. */
  readonly suspended: boolean;
  readonly trustedActions: readonly string[];
  readonly limitCurrency: string;
  readonly perOrderLimit: number;
  readonly dailyLimit: number;
  /** The agent's order token bucket; absent means the defaults (1 per second, burst 10). */
  readonly ratePerSecond?: number | undefined;
  readonly rateBurst?: number | undefined;
}

/** One agent's auto-pay budget for one UTC day: what the daily spend item is kept for. */
export interface AgentDay {
  readonly agentId: string;
  /** UTC day, `YYYY-MM-DD`. */
  readonly day: string;
}

/** What one order took from an agent-day's budget. */
export interface SpendClaim extends AgentDay {
  readonly amount: number;
}

/** A claim on an agent's auto-pay budget for one UTC day, applied atomically with the order. */
export interface DailySpend extends SpendClaim {
  readonly dailyLimit: number;
}

/** What an order took from its agent-day's budget; undefined for an order the user confirmed. */
export function spendClaimOf(
  order: Pick<Order, 'agentId' | 'spendDay' | 'amount'>,
): SpendClaim | undefined {
  return order.spendDay === undefined
    ? undefined
    : { agentId: order.agentId, day: order.spendDay, amount: order.amount };
}

export type AutoPayDecision =
  | { readonly autoPay: true; readonly spend: DailySpend }
  | { readonly autoPay: false; readonly reason: ConfirmationReason };

/**
 * Whether an order may be paid without asking the user. The daily limit is only checked here
 * against the order alone; the running total is enforced by the conditional write of `spend`.
 */
export function decideAutoPay(
  agent: AgentProfile | undefined,
  action: string,
  price: Money,
  now: Date,
): AutoPayDecision {
  const restraint = restraintOf(agent, action, price);
  if (agent === undefined || restraint !== undefined) {
    return { autoPay: false, reason: restraint ?? 'ACTION_NOT_TRUSTED' };
  }
  if (price.amount > agent.dailyLimit) {
    return { autoPay: false, reason: 'OVER_DAILY_LIMIT' };
  }
  return {
    autoPay: true,
    spend: {
      agentId: agent.agentId,
      day: utcDay(now),
      amount: price.amount,
      dailyLimit: agent.dailyLimit,
    },
  };
}

/**
 * The rule of `decideAutoPay` that holds for one order alone, whatever the agent spent today:
 * why the agent may not pay it without asking its user, or undefined when it may. Payment
 * submission asks it again right before the charge, since the user may have changed the agent
 * while the order waited.
 */
export function restraintOf(
  agent: AgentProfile | undefined,
  action: string,
  price: Money,
): AgentRestraint | undefined {
  if (
    agent === undefined ||
    !agent.trustedActions.includes(action) ||
    !agent.trustedActions.includes(AUTO_PAY_ACTION)
  ) {
    return 'ACTION_NOT_TRUSTED';
  }
  if (agent.limitCurrency !== price.currency) {
    return 'LIMIT_CURRENCY_MISMATCH';
  }
  if (price.amount > agent.perOrderLimit) {
    return 'OVER_ORDER_LIMIT';
  }
  return undefined;
}

export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}
