import { describe, expect, it } from 'vitest';
import { runChaos } from '../../local/chaos.ts';

describe('the chaos run, small', () => {
  it('loses no order, charges nobody twice and makes only legal moves under every fault at once', async () => {
    // Act
    const lines: string[] = [];
    const report = await runChaos({
      orders: 120,
      agents: 6,
      concurrency: 8,
      kills: 2,
      settleTimeoutMs: 120_000,
      log: (line) => lines.push(line),
    });

    // Assess
    for (const check of report.checks) {
      expect(check.violations, check.name).toEqual([]);
    }
    expect(report.orders).toBe(120);
    expect(report.byStatus.PAID).toBeGreaterThan(0);
    expect(lines.join('\n')).toContain('| no history holds an illegal transition | ok |');
  }, 240_000);
});
