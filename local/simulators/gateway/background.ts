import { sleep } from '../faults.ts';

/**
 * Work the simulator does by itself once a request is answered: settlements, late captures and
 * callbacks. A reset abandons the old ledger's work, so none of it reaches the new one.
 */
export class Background {
  #epoch = new AbortController();
  #inFlight = 0;

  /** Aborts when the work under way is abandoned. */
  get signal(): AbortSignal {
    return this.#epoch.signal;
  }

  /** Work started and not yet finished or abandoned. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Runs `work` after `ms` unless the work under way is abandoned first. */
  later(ms: number, work: () => Promise<void>): void {
    const epoch = this.#epoch.signal;
    void this.track(sleep(ms, epoch).then((elapsed) => (elapsed ? work() : undefined)));
  }

  async track(work: Promise<void>): Promise<void> {
    this.#inFlight += 1;
    try {
      await work;
    } finally {
      this.#inFlight -= 1;
    }
  }

  /** Abandons the work under way; work added from now on runs. */
  restart(): void {
    this.#epoch.abort();
    this.#epoch = new AbortController();
  }

  stop(): void {
    this.#epoch.abort();
  }
}
