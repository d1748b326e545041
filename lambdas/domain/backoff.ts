export interface BackoffPolicy {
  readonly baseSeconds: number;
  readonly maxSeconds: number;
}

export const defaultBackoffPolicy: BackoffPolicy = { baseSeconds: 1, maxSeconds: 300 };

/**
 * Delay before delivery `receiveCount + 1`: 1 s, 2 s, 4 s … capped, with "equal jitter" (half
 * fixed, half random) so retries of a burst spread out yet never come back too early.
 */
export function backoffSeconds(
  receiveCount: number,
  policy: BackoffPolicy = defaultBackoffPolicy,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(receiveCount - 1, 0), 30);
  const ceiling = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** exponent);
  return Math.max(1, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}
