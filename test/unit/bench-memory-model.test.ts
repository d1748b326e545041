import { describe, expect, it } from 'vitest';
import {
  chooseMemory,
  memoryFloorMb,
  modelledMs,
  oneVcpuMb,
} from '../../local/tools/bench/cost-model.ts';
import type { InvocationRecord } from '../../local/tools/bench/invocations.ts';

const invocation = (cpuMs: number, wallMs: number, units = 1): InvocationRecord => ({
  cpuMs,
  wallMs,
  units,
  lines: [],
  platformBytes: 0,
});

describe('the memory model of the bench', () => {
  it('stretches the CPU time by the share of a vCPU the memory buys and leaves the wait alone', () => {
    // Prepare
    const record = invocation(10, 50);

    // Act
    const atOneVcpu = modelledMs(record, oneVcpuMb);
    const atQuarter = modelledMs(record, oneVcpuMb / 4);
    const atTwoVcpus = modelledMs(record, 2 * oneVcpuMb);

    // Assess
    expect(atOneVcpu).toBe(50);
    expect(atQuarter).toBe(40 + 40);
    expect(atTwoVcpus).toBe(50);
  });

  it('bills whole milliseconds', () => {
    // Act
    const modelled = modelledMs(invocation(0.2, 10.1), oneVcpuMb);

    // Assess
    expect(modelled).toBe(11);
  });

  it('chooses the smallest memory at or above the floor within the bound for an HTTP request', () => {
    // Prepare: 8 ms of CPU adds 8 × (1769 / 256 − 1) ≈ 47 ms at 256 MB, within +50 ms.
    const records = [invocation(8, 100), invocation(8, 120)];

    // Act
    const choice = chooseMemory('orderIntake', records);

    // Assess
    expect(choice.chosenMb).toBe(memoryFloorMb);
    expect(choice.rows.find((row) => row.memoryMb === 128)?.addedPerUnitMs).toBeGreaterThan(50);
  });

  it('goes up when the stretched CPU of a request passes its bound', () => {
    // Prepare: 10 ms of CPU adds ~59 ms at 256 MB and ~36 ms at 384 MB.
    const records = [invocation(10, 100)];

    // Act
    const choice = chooseMemory('settlementCallback', records);

    // Assess
    expect(choice.chosenMb).toBe(384);
  });

  it('shares a batch’s added time among its records', () => {
    // Prepare: 40 ms of CPU for 4 records adds ~59 ms per record at 256 MB, within +100 ms.
    const records = [invocation(40, 400, 4)];

    // Act
    const choice = chooseMemory('paymentSubmission', records);

    // Assess
    expect(choice.unitsPerInvocation).toBe(4);
    expect(choice.chosenMb).toBe(256);
  });

  it('falls back to a whole vCPU when no smaller memory keeps within the bound', () => {
    // Act
    const choice = chooseMemory('orderIntake', [invocation(200, 300)]);

    // Assess
    expect(choice.chosenMb).toBe(oneVcpuMb);
  });
});
