import { describe, expect, it } from 'vitest';
import { type BreakerPolicy, CircuitBreaker } from '#domain/circuit-breaker.ts';
import { FixedClock } from '../fakes/in-memory.ts';
import { InMemoryBreakerStore } from '../fakes/payments.ts';

const policy: BreakerPolicy = {
  windowMs: 10_000,
  failureRate: 0.5,
  minimumVolume: 20,
  openMs: 30_000,
  probeLeaseMs: 10_000,
  cacheMs: 1_000,
};

function twoInstances() {
  const store = new InMemoryBreakerStore();
  const clock = new FixedClock(new Date('2026-11-23T09:30:00.000Z'));
  const transitions: string[] = [];
  const listen = (from: string, to: string) => transitions.push(`${from}->${to}`);
  const a = new CircuitBreaker(store, 'gw', clock, policy, listen);
  const b = new CircuitBreaker(store, 'gw', clock, policy, listen);
  return { store, clock, a, b, transitions };
}

describe('circuit breaker', () => {
  it('writes nothing while every call succeeds', async () => {
    const { store, a } = twoInstances();
    for (let i = 0; i < 50; i++) {
      await a.permit();
      await a.record(true, false);
    }
    expect(store.writes).toBe(0);
    expect(store.state).toBe('closed');
  });

  it('stays closed below the minimum volume, however bad the rate', async () => {
    const { store, a } = twoInstances();
    for (let i = 0; i < 19; i++) await a.record(false, false);
    expect(store.state).toBe('closed');
  });

  it('opens at half failures over the window, counting both instances', async () => {
    // Prepare: 10 successes and 9 failures, split over two instances.
    const { store, a, b, clock, transitions } = twoInstances();
    await a.record(false, false);
    clock.advance(1);
    for (let i = 0; i < 10; i++) await b.record(true, false);
    for (let i = 0; i < 8; i++) await a.record(false, false);
    expect(store.state).toBe('closed');

    // Act: the 20th call is a failure: 10 of 20.
    await b.record(false, false);

    // Assess
    expect(store.state).toBe('open');
    expect(transitions).toEqual(['closed->open']);
  });

  it('keeps the breaker closed when successes outweigh failures', async () => {
    const { store, a, b, clock } = twoInstances();
    await a.record(false, false);
    clock.advance(1);
    for (let i = 0; i < 30; i++) await b.record(true, false);
    for (let i = 0; i < 9; i++) await a.record(false, false);
    expect(store.state).toBe('closed');
  });

  it('refuses calls while open, lets one probe through after the open period, and closes on its success', async () => {
    // Prepare
    const { store, a, b, clock, transitions } = twoInstances();
    for (let i = 0; i < 20; i++) await a.record(false, false);
    expect(store.state).toBe('open');
    clock.advance(2);

    // Act & Assess: open holds for 30 s on both instances.
    await expect(a.permit()).resolves.toMatchObject({ allowed: false });
    await expect(b.permit()).resolves.toMatchObject({ allowed: false });
    clock.advance(30);
    const probeA = await a.permit();
    const probeB = await b.permit();
    expect(probeA).toEqual({ allowed: true, probe: true });
    expect(probeB).toMatchObject({ allowed: false });
    expect(store.state).toBe('half_open');

    await a.record(true, true);
    expect(store.state).toBe('closed');
    clock.advance(2);
    await expect(b.permit()).resolves.toEqual({ allowed: true, probe: false });
    expect(transitions).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
  });

  it('reopens when the probe fails', async () => {
    const { store, a, clock } = twoInstances();
    for (let i = 0; i < 20; i++) await a.record(false, false);
    clock.advance(31);
    await a.permit();
    await a.record(false, true);
    expect(store.state).toBe('open');
    clock.advance(2);
    await expect(a.permit()).resolves.toMatchObject({ allowed: false });
  });

  it('gives the probe to another instance when the first probe never reports', async () => {
    const { a, b, clock } = twoInstances();
    for (let i = 0; i < 20; i++) await a.record(false, false);
    clock.advance(31);
    await expect(a.permit()).resolves.toEqual({ allowed: true, probe: true });
    clock.advance(11);
    await expect(b.permit()).resolves.toEqual({ allowed: true, probe: true });
  });

  it('does not trip again on the failures counted before it opened', async () => {
    const { store, a, clock } = twoInstances();
    for (let i = 0; i < 20; i++) await a.record(false, false);
    clock.advance(31);
    await a.permit();
    await a.record(true, true);
    expect(store.state).toBe('closed');
    clock.advance(1.5);
    await a.record(false, false);
    expect(store.state).toBe('closed');
  });
});
