import { describe, expect, it } from 'vitest';
import { runChaos, SUSPENSION_BURST } from '../../local/tools/chaos.ts';
import { apiFetch } from '../support/contract.ts';

describe('the chaos run, small', () => {
  it('keeps every invariant under every fault at once, users and duplicate deliveries included', async () => {
    // Act: too small to reach every final state and fault, so that check is left to the full run.
    const lines: string[] = [];
    const report = await runChaos({
      orders: 120,
      agents: 6,
      concurrency: 8,
      kills: 2,
      settleTimeoutMs: 120_000,
      stallMs: 50_000,
      coverage: false,
      log: (line) => lines.push(line),
      fetch: apiFetch,
    });

    // Assess
    const output = lines.join('\n');
    for (const check of report.checks) {
      expect(check.violations, `${check.name}\n${output}`).toEqual([]);
    }
    // The run's 120 and its suspension burst, and the orders the retry-loop and flooding agents
    // got placed; placements refused while their agent was suspended made no order.
    expect(report.orders + report.refused).toBeGreaterThan(120 + SUSPENSION_BURST);
    expect(report.refused).toBeGreaterThan(0);
    expect(output).toMatch(/\| chaos-retry-loop .*\| 3 intents, \d+ orders: [0-3] paid at once/);
    expect(output).toMatch(
      /\| chaos-flood .*\| \d+ requests in [\d.]+ s: \d+ admitted, [1-9]\d* refused 429 \|/,
    );
    process.stdout.write(`${lines.slice(-4).join('\n')}\n`);
    // Both hold rows every run: most of each burst is queued when its user acts.
    for (const row of ['held: agent suspended', 'held: agent restrained']) {
      const held = report.faults.find(({ fault }) => fault.startsWith(row));
      expect(held?.count, row).toBeGreaterThan(0);
    }
    expect(report.byStatus.PAID).toBeGreaterThan(0);
    const sameKeyRaces = report.faults.find(({ fault }) => fault.includes('placed twice at once'));
    expect(sameKeyRaces?.count).toBeGreaterThan(0);
    expect(output).toContain('| every history is a legal path | ok |');
    expect(output).toContain('| final state | orders |');
  }, 240_000);
});
