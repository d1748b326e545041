import { describe, expect, it } from 'vitest';
import { runChaos, SUSPENSION_BURST } from '../../local/tools/chaos.ts';
import { apiFetch } from '../support/contract.ts';

// A file of its own: the functions read their environment once per process, as on Lambda, so
// one test file runs one local stack.
describe('the chaos run, small, on Stripe', () => {
  it('keeps every invariant with the pipeline speaking Stripe through the official SDK', async () => {
    // Act
    const lines: string[] = [];
    const report = await runChaos({
      gateway: 'stripe',
      orders: 60,
      agents: 4,
      concurrency: 8,
      kills: 1,
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
    // The run's 60 and its suspension burst, and the retry-loop and flooding agents' orders;
    // placements refused while their agent was suspended made no order.
    expect(report.orders + report.refused).toBeGreaterThan(60 + SUSPENSION_BURST);
    // Both hold rows every run: most of each burst is queued when its user acts.
    for (const row of ['held: agent suspended', 'held: agent restrained']) {
      const held = report.faults.find(({ fault }) => fault.startsWith(row));
      expect(held?.count, row).toBeGreaterThan(0);
    }
    expect(report.byStatus.PAID).toBeGreaterThan(0);
    expect(output).toContain(
      '| captured - refunded = amount when PAID or owing a failed refund, 0 otherwise | ok |',
    );
  }, 240_000);
});
