import type { InvocationRecord } from './invocations.ts';
import type { RequestRun } from './pipeline.ts';
import { median } from './stats.ts';

/** Lambda gives a function one vCPU's worth of CPU at this much memory (AWS's Lambda guide). */
export const oneVcpuMb = 1769;

/** The memory sizes the model compares (Lambda accepts 128 to 10,240 MB in 1-MB steps). */
export const candidateMemoryMb = [128, 256, 384, 512, 768, 1024, 1769] as const;

/**
 * No function is given less: each loads the AWS SDK v3 clients and Powertools, and AWS's guide
 * keeps 128 MB for functions that only transform and route events. Not measured here: the
 * REPORT line's Max Memory Used after a deployment is the check.
 */
export const memoryFloorMb = 256;

/**
 * How much later than with a whole vCPU each request, message or stream record may be done, on
 * average: the CPU time it takes, stretched. A caller waits for an HTTP function's answer; a
 * queued message or a change on the stream waits for nobody on the line.
 */
export const latencyBoundMs: Readonly<Record<string, number>> = {
  orderIntake: 50,
  settlementCallback: 50,
  paymentSubmission: 100,
  settlementReconciler: 100,
  notificationFanOut: 100,
  notificationDelivery: 100,
};

/**
 * The modelled duration of one measured invocation at `memoryMb`: its CPU time stretched by the
 * share of a vCPU the memory buys (never faster than the bench machine's core), plus the time it
 * waited, which memory does not change. Billed durations round up to the millisecond.
 */
export function modelledMs(record: InvocationRecord, memoryMb: number): number {
  const cpuScale = Math.max(1, oneVcpuMb / memoryMb);
  const waitMs = Math.max(0, record.wallMs - record.cpuMs);
  return Math.ceil(record.cpuMs * cpuScale + waitMs);
}

export interface MemoryRow {
  readonly memoryMb: number;
  readonly meanMs: number;
  /** Mean time added to each request, message or record against a whole vCPU. */
  readonly addedPerUnitMs: number;
  readonly gbSecondsPerInvocation: number;
}

export interface MemoryChoice {
  readonly functionName: string;
  readonly invocations: number;
  readonly cpuMeanMs: number;
  readonly wallMeanMs: number;
  readonly unitsPerInvocation: number;
  readonly rows: readonly MemoryRow[];
  readonly boundMs: number;
  readonly chosenMb: number;
}

const mean = (values: readonly number[]) =>
  values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;

/**
 * The smallest memory at or above the floor at which each request, message or record is done
 * within the function's bound of its time with a whole vCPU. Below one vCPU the model's GB-s
 * only grow with memory (CPU GB-s stay the same, waiting costs more), so the bound is what stops
 * the descent.
 */
export function chooseMemory(
  functionName: string,
  records: readonly InvocationRecord[],
): MemoryChoice {
  const units = records.reduce((sum, record) => sum + record.units, 0);
  const rows = candidateMemoryMb.map((memoryMb) => {
    const meanMs = mean(records.map((record) => modelledMs(record, memoryMb)));
    const added = records.reduce(
      (sum, record) => sum + modelledMs(record, memoryMb) - modelledMs(record, oneVcpuMb),
      0,
    );
    return {
      memoryMb,
      meanMs,
      addedPerUnitMs: added / Math.max(1, units),
      gbSecondsPerInvocation: (meanMs / 1000) * (memoryMb / 1024),
    };
  });
  const boundMs = latencyBoundMs[functionName] ?? 50;
  const chosen = rows.find((row) => row.memoryMb >= memoryFloorMb && row.addedPerUnitMs <= boundMs);
  return {
    functionName,
    invocations: records.length,
    cpuMeanMs: mean(records.map((record) => record.cpuMs)),
    wallMeanMs: mean(records.map((record) => record.wallMs)),
    unitsPerInvocation: units / Math.max(1, records.length),
    rows,
    boundMs,
    chosenMb: chosen?.memoryMb ?? oneVcpuMb,
  };
}

/** Every run's invocations of one function, pooled. */
export function pooled(runs: readonly RequestRun[], functionName: string): InvocationRecord[] {
  return runs.flatMap((run) => [...(run.invocations[functionName] ?? [])]);
}

/** Median over runs of (a sum over the function's invocations in the run ÷ the run's divisor). */
export function perUnit(
  runs: readonly RequestRun[],
  functionNames: readonly string[],
  divisor: (run: RequestRun) => number,
  measure: (record: InvocationRecord) => number,
): number {
  return median(
    runs.map((run) => {
      const total = functionNames
        .flatMap((name) => run.invocations[name] ?? [])
        .reduce((sum, record) => sum + measure(record), 0);
      return total / Math.max(1, divisor(run));
    }),
  );
}

/** Bytes CloudWatch Logs ingests for one invocation: its lines and Lambda's own. */
export function logBytes(record: InvocationRecord): number {
  return record.lines.reduce((sum, line) => sum + line.bytes, 0) + record.platformBytes;
}

/** Lines one invocation writes, Lambda's START, END and REPORT counted as three when written. */
export function logEvents(record: InvocationRecord): number {
  return record.lines.length + (record.platformBytes > 0 ? 3 : 0);
}

export interface LineSummary {
  readonly functionName: string;
  readonly level: string;
  readonly message: string;
  readonly perUnit: number;
  readonly meanBytes: number;
}

/** What each function writes, by level and message, per unit (paid order or event) over all runs. */
export function lineSummary(
  runs: readonly RequestRun[],
  functionNames: readonly string[],
  units: number,
): LineSummary[] {
  const summary = new Map<
    string,
    { functionName: string; level: string; message: string; count: number; bytes: number }
  >();
  const add = (functionName: string, level: string, message: string, bytes: number) => {
    const key = `${functionName}\u0000${level}\u0000${message}`;
    const entry = summary.get(key) ?? { functionName, level, message, count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += bytes;
    summary.set(key, entry);
  };
  for (const functionName of functionNames) {
    for (const record of pooled(runs, functionName)) {
      for (const line of record.lines) add(functionName, line.level, line.message, line.bytes);
      add(functionName, 'Lambda', 'START, END, REPORT (+XRAY)', record.platformBytes);
    }
  }
  return [...summary.values()].map((entry) => ({
    functionName: entry.functionName,
    level: entry.level,
    message: entry.message,
    perUnit: entry.count / Math.max(1, units),
    meanBytes: entry.bytes / entry.count,
  }));
}
