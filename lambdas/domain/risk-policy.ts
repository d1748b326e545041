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
  /**
   * The engine refused the request itself (`AuthFailure.*`, a parameter, our account): asking
   * again would not help, and every order will fail open until someone fixes it.
   */
  readonly refused?: boolean | undefined;
}

/**
 * Asks the risk engine, retrying what may pass (internal errors, throttling, timeouts, garbled
 * answers) a bounded number of times within the time left; then fails open to `pass`, and says
 * so, so the caller records and counts the bypass. A refused request (a wrong or expired
 * credential, a parameter the engine rejects) is not asked again: it fails open at once, marked
 * `refused`, so that the caller raises it as a fault to fix now rather than a passing outage;
 * the fail-open limit still holds larger orders for review.
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
        ...(answer.retryable ? {} : { refused: true }),
      };
    }
    await sleep(delay);
  }
}
