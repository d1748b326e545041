import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ownSignal, sleep } from '../../local/simulators/faults.ts';

describe("the simulators' waits", () => {
  it('add no listener each to the signal they share, and all end when it aborts', async () => {
    // Prepare
    const shared = new AbortController();

    // Act
    const waits = Array.from({ length: 20 }, () => sleep(60_000, shared.signal));
    const listenersWhileWaiting = getEventListeners(shared.signal, 'abort').length;
    shared.abort();
    const elapsed = await Promise.all(waits);

    // Assess
    expect(listenersWhileWaiting).toBe(0);
    expect(elapsed).toEqual(Array.from({ length: 20 }, () => false));
  });

  it('give a request a signal of its own that aborts with the shared one', () => {
    // Prepare
    const shared = new AbortController();

    // Act
    const own = ownSignal(shared.signal);
    const listeners = getEventListeners(shared.signal, 'abort').length;
    shared.abort();

    // Assess
    expect(own).not.toBe(shared.signal);
    expect(listeners).toBe(0);
    expect(own.aborted).toBe(true);
  });
});
