import type { BreakerSnapshot, BreakerState, BreakerStore } from './payment-ports.ts';
import type { Clock } from './ports.ts';

export interface BreakerPolicy {
  /** Length of the tumbling window the failure rate is measured over. */
  readonly windowMs: number;
  /** Share of failures at or above which the breaker opens. */
  readonly failureRate: number;
  /** Calls a window needs before its rate means anything. */
  readonly minimumVolume: number;
  /** How long the breaker stays open before one probe may go through. */
  readonly openMs: number;
  /** How long a half-open probe holds its lease before another instance may probe. */
  readonly probeLeaseMs: number;
  /** How long an instance trusts the shared state it last read. */
  readonly cacheMs: number;
}

export const defaultBreakerPolicy: BreakerPolicy = {
  windowMs: 10_000,
  failureRate: 0.5,
  minimumVolume: 20,
  openMs: 30_000,
  probeLeaseMs: 10_000,
  cacheMs: 1_000,
};

export type Permit =
  | { readonly allowed: true; readonly probe: boolean }
  | { readonly allowed: false; readonly retryInMs: number };

export type BreakerListener = (from: BreakerState, to: BreakerState) => void;

/**
 * A circuit breaker whose state lives in shared storage, so every instance of every function
 * sees one breaker per gateway. A healthy gateway costs no writes: successes stay in memory
 * until a failure in the same window makes the rate worth computing.
 */
export class CircuitBreaker {
  private snapshot: BreakerSnapshot | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private epoch = 0;
  private unflushed = { windowId: -1, successes: 0, failures: 0 };

  constructor(
    private readonly store: BreakerStore,
    private readonly gateway: string,
    private readonly clock: Clock,
    private readonly policy: BreakerPolicy = defaultBreakerPolicy,
    private readonly onTransition: BreakerListener = () => {},
  ) {}

  async permit(): Promise<Permit> {
    const now = this.clock.now().getTime();
    const state = await this.current(now);
    if (state.state === 'closed') {
      return { allowed: true, probe: false };
    }
    const reopensAt = state.openedAt + this.policy.openMs;
    if (state.state === 'open' && now < reopensAt) {
      return { allowed: false, retryInMs: reopensAt - now };
    }
    if (state.state === 'half_open' && now < state.probeUntil) {
      return { allowed: false, retryInMs: state.probeUntil - now };
    }
    const leaseUntil = now + this.policy.probeLeaseMs;
    const acquired = await this.store.acquireProbe(this.gateway, now, leaseUntil, state.openedAt);
    this.invalidate();
    if (!acquired) {
      return { allowed: false, retryInMs: this.policy.probeLeaseMs };
    }
    if (state.state === 'open') this.onTransition('open', 'half_open');
    return { allowed: true, probe: true };
  }

  /** Records how a call that `permit` allowed went; `success` means the gateway answered. */
  async record(success: boolean, probe: boolean): Promise<void> {
    const now = this.clock.now().getTime();
    if (probe) {
      const moved = success
        ? await this.store.close(this.gateway)
        : await this.store.open(this.gateway, 'half_open', now);
      this.invalidate();
      if (moved) this.onTransition('half_open', success ? 'closed' : 'open');
      return;
    }
    const windowId = Math.floor(now / this.policy.windowMs);
    if (this.unflushed.windowId !== windowId) {
      this.unflushed = { windowId, successes: 0, failures: 0 };
    }
    if (success) this.unflushed.successes++;
    else this.unflushed.failures++;

    const state = await this.current(now);
    const failuresSeen = state.windowId === windowId && state.windowFailures > 0;
    if (success && !failuresSeen) {
      return;
    }
    const { successes, failures } = this.unflushed;
    this.unflushed = { windowId, successes: 0, failures: 0 };
    const totals = await this.store.count(this.gateway, state.epoch, windowId, successes, failures);
    const volume = totals.successes + totals.failures;
    const tripped =
      volume >= this.policy.minimumVolume && totals.failures / volume >= this.policy.failureRate;
    if (tripped && state.state === 'closed') {
      if (await this.store.open(this.gateway, 'closed', now)) {
        this.onTransition('closed', 'open');
      }
      this.invalidate();
    }
  }

  private async current(now: number): Promise<BreakerSnapshot> {
    if (this.snapshot === undefined || now - this.fetchedAt >= this.policy.cacheMs) {
      const windowId = Math.floor(now / this.policy.windowMs);
      this.snapshot = await this.store.read(this.gateway, windowId, this.epoch);
      this.epoch = this.snapshot.epoch;
      this.fetchedAt = now;
    }
    return this.snapshot;
  }

  private invalidate(): void {
    this.snapshot = undefined;
  }
}
