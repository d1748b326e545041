import type { RiskEngine, RiskLevel, RiskRequest } from './payment-ports.ts';

export interface RiskPolicy {
  /** Answers asked for before the check fails open. */
  readonly maxAttempts: number;
  /** Pause before the n-th retry is n times this. */
  readonly retryDelayMs: number;
  /** Time an invocation must still have after a retry, for the gateway call that follows. */
  readonly reserveMs: number;
  /** Above this amount (minor units) a bypassed check holds the order instead of paying. */
  readonly failOpenLimit: number;
}

export const defaultRiskPolicy: RiskPolicy = {
  maxAttempts: 3,
  retryDelayMs: 100,
  reserveMs: 5_000,
  failOpenLimit: 5_000,
};

/** The outcome of the risk check, with what the order must record about it. */
export interface RiskVerdict {
  readonly level: RiskLevel;
  /** True when the engine never answered and the check failed open. */
  readonly bypassed: boolean;
  readonly requestId?: string | undefined;
  readonly errorCode?: string | undefined;
  readonly attempts: number;
}

/**
 * Asks the risk engine, retrying what may pass (internal errors, throttling, timeouts, garbled
 * answers) a bounded number of times within the time left; then fails open to `pass`, and says
 * so, so the caller records and counts the bypass.
 */
export async function checkRisk(
  engine: RiskEngine,
  request: RiskRequest,
  policy: RiskPolicy,
  remainingMs: () => number,
  sleep: (ms: number) => Promise<void>,
): Promise<RiskVerdict> {
  for (let attempt = 1; ; attempt++) {
    const answer = await engine.assess(request);
    if (answer.kind === 'assessed') {
      return {
        level: answer.level,
        bypassed: false,
        requestId: answer.requestId,
        attempts: attempt,
      };
    }
    const delay = policy.retryDelayMs * attempt;
    const mayRetry =
      answer.retryable && attempt < policy.maxAttempts && remainingMs() - delay > policy.reserveMs;
    if (!mayRetry) {
      return {
        level: 'pass',
        bypassed: true,
        requestId: answer.requestId,
        errorCode: answer.code,
        attempts: attempt,
      };
    }
    await sleep(delay);
  }
}
