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
    // Placements refused while their agent was suspended made no order; the burst placed while
    // the suspension lands comes on top.
    expect(report.orders + report.refused).toBe(120 + SUSPENSION_BURST);
    expect(report.refused).toBeGreaterThan(0);
    expect(report.byStatus.PAID).toBeGreaterThan(0);
    expect(output).toContain('| every history is a legal path | ok |');
    expect(output).toContain('| final state | orders |');
  }, 240_000);
});
