import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';
import { lambdaLogging } from '#shared/wiring.ts';
import type { LocalHandler } from '../../runtime/local-runtime.ts';

/** One invocation while it runs: the CPU its callbacks used and what it wrote. */
interface Invocation {
  readonly functionName: string;
  cpuMicros: number;
  depth: number;
  cpuStartMicros: number;
  /** Async resources (promises, timers, sockets) created on its behalf, each seen by the hooks. */
  resources: number;
  lines: LogLine[];
}

interface LogLine {
  readonly kind: 'application' | 'emf';
  readonly bytes: number;
  readonly level: string;
  readonly message: string;
}

/** What one finished invocation measured. */
export interface InvocationRecord {
  /** Its callbacks' CPU time, less the hooks' own cost for the async resources it created. */
  readonly cpuMs: number;
  readonly wallMs: number;
  /** What it handled: 1 for an HTTP request, else the records of its batch. */
  readonly units: number;
  readonly lines: readonly LogLine[];
  /**
   * Lambda's own START, END and REPORT (with its XRAY line) for this invocation, in bytes: none
   * when the stage ships system logs from WARN up (`lambdaLogging`).
   */
  readonly platformBytes: number;
}

/** The AWS account and region of the function ARNs the bench hands its handlers. */
const arnPrefix = 'arn:aws:lambda:us-east-1:123456789012:function:';

/**
 * A physical name as long as CloudFormation gives the service stack's functions:
 * `<stack>-<construct logical id><8 hex>-<12 characters>`, at most 64 characters.
 */
function physicalName(functionName: string): string {
  const stem = `Autopay-prod-Service-Functions${functionName}${randomBytes(4).toString('hex').toUpperCase()}`;
  return `${stem.slice(0, 51)}-${randomBytes(6).toString('hex')}`;
}

function threadCpuMicros(): number {
  const usage = process.threadCpuUsage();
  return usage.user + usage.system;
}

/**
 * Lambda's own lines for one invocation in the Text log format (infra sets no LoggingConfig, so
 * Text is what a stage ships with), with the XRAY line active tracing adds to REPORT. Max Memory
 * Used is unknown here and written with three digits.
 */
function platformLines(requestId: string, durationMs: number, memoryMb: number): number {
  const trace = `1-${randomBytes(4).toString('hex')}-${randomBytes(12).toString('hex')}`;
  const lines = [
    `START RequestId: ${requestId} Version: $LATEST\n`,
    `END RequestId: ${requestId}\n`,
    `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\t` +
      `Billed Duration: ${Math.ceil(durationMs)} ms\tMemory Size: ${memoryMb} MB\t` +
      `Max Memory Used: 100 MB\t\nXRAY TraceId: ${trace}\tSegmentId: ${randomBytes(8).toString('hex')}\tSampled: true\t\n`,
  ];
  return lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0);
}

function recordsOf(event: unknown): number {
  const records = (event as { Records?: unknown } | undefined)?.Records;
  return Array.isArray(records) ? records.length : 1;
}

function classify(line: string): LogLine {
  const bytes = Buffer.byteLength(line);
  try {
    const parsed = JSON.parse(line) as { _aws?: unknown; level?: unknown; message?: unknown };
    if (parsed._aws !== undefined) return { kind: 'emf', bytes, level: 'EMF', message: 'metrics' };
    return {
      kind: 'application',
      bytes,
      level: typeof parsed.level === 'string' ? parsed.level : '?',
      message: typeof parsed.message === 'string' ? parsed.message : '?',
    };
  } catch {
    return { kind: 'application', bytes, level: 'TEXT', message: line.slice(0, 40) };
  }
}

/**
 * Measures every invocation of the local functions where the local platform calls them: its
 * wall time from call to settlement, the CPU time of the main thread spent in its own callbacks
 * (async_hooks before/after, read with process.threadCpuUsage, so another invocation's or an
 * in-process emulator's work is not counted), and every line it writes to stdout or stderr, as
 * CloudWatch Logs would ingest it. Lines are taken off the process's streams while recording.
 */
export class InvocationMeter {
  readonly records = new Map<string, InvocationRecord[]>();
  /** Invocations started and not yet settled, whether recording or not. */
  inFlight = 0;
  readonly #store = new AsyncLocalStorage<Invocation>();
  readonly #owners = new Map<number, Invocation>();
  readonly #hook = createHook({
    init: (asyncId) => {
      const invocation = this.#store.getStore();
      if (invocation) {
        invocation.resources += 1;
        this.#owners.set(asyncId, invocation);
      }
    },
    before: (asyncId) => {
      const invocation = this.#owners.get(asyncId);
      if (invocation && invocation.depth++ === 0) invocation.cpuStartMicros = threadCpuMicros();
    },
    after: (asyncId) => {
      const invocation = this.#owners.get(asyncId);
      if (invocation && --invocation.depth === 0) {
        invocation.cpuMicros += threadCpuMicros() - invocation.cpuStartMicros;
      }
    },
  });
  #recording = false;
  #restore: Array<() => void> = [];
  /** CPU µs the hooks add per async resource, measured by `calibrate`. */
  hookMicrosPerResource = 0;

  constructor(private readonly memoryOf: (functionName: string) => number) {}

  /** Starts taking the functions' output off stdout and stderr (until `uninstall`). */
  install(): void {
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        const invocation = this.#store.getStore();
        if (!invocation) return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
        if (this.#recording) {
          const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
          for (const line of text.split('\n'))
            if (line.length > 0) invocation.lines.push(classify(line));
        }
        const callback = rest.find((argument) => typeof argument === 'function') as
          | (() => void)
          | undefined;
        callback?.();
        return true;
      }) as typeof stream.write;
      this.#restore.push(() => {
        stream.write = original as typeof stream.write;
      });
    }
  }

  uninstall(): void {
    for (const restore of this.#restore.splice(0)) restore();
    this.stop();
  }

  /**
   * Measures what the hooks cost per async resource: the same promise-heavy work inside an
   * invocation's store, with the hooks on and off, on this thread's CPU clock.
   */
  async calibrate(rounds = 5, promises = 20_000): Promise<void> {
    const work = async () => {
      for (let index = 0; index < promises; index += 1) await Promise.resolve(index);
    };
    const timed = async (hooked: boolean) => {
      if (hooked) this.#hook.enable();
      const invocation: Invocation = {
        functionName: 'calibration',
        cpuMicros: 0,
        depth: 0,
        cpuStartMicros: 0,
        resources: 0,
        lines: [],
      };
      const started = threadCpuMicros();
      await this.#store.run(invocation, work);
      const spent = threadCpuMicros() - started;
      this.#hook.disable();
      this.#owners.clear();
      return { spent, resources: invocation.resources };
    };
    const samples: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const plain = await timed(false);
      const hooked = await timed(true);
      samples.push(Math.max(0, hooked.spent - plain.spent) / Math.max(1, hooked.resources));
    }
    samples.sort((a, b) => a - b);
    this.hookMicrosPerResource = samples[Math.floor(samples.length / 2)] ?? 0;
  }

  /** Records invocations (and enables the CPU hooks) until `stop`. */
  start(): void {
    this.records.clear();
    this.#recording = true;
    this.#hook.enable();
  }

  stop(): void {
    this.#recording = false;
    this.#hook.disable();
    this.#owners.clear();
  }

  /** The handler as the local platform calls it, measured, with a context of AWS's shape. */
  wrap = (functionName: string, handler: LocalHandler): LocalHandler => {
    const name = physicalName(functionName);
    return async (event, context) => {
      const memoryMb = this.memoryOf(functionName);
      const awsContext = {
        ...(context as Context),
        functionName: name,
        invokedFunctionArn: `${arnPrefix}${name}`,
        memoryLimitInMB: String(memoryMb),
      };
      const invocation: Invocation = {
        functionName,
        cpuMicros: 0,
        depth: 1,
        cpuStartMicros: threadCpuMicros(),
        resources: 0,
        lines: [],
      };
      const started = performance.now();
      this.inFlight += 1;
      let settled: Promise<unknown>;
      try {
        settled = this.#store.run(invocation, () => handler(event, awsContext));
      } finally {
        invocation.depth -= 1;
        invocation.cpuMicros += threadCpuMicros() - invocation.cpuStartMicros;
      }
      try {
        return await settled;
      } finally {
        const wallMs = performance.now() - started;
        this.inFlight -= 1;
        if (this.#recording) {
          const list = this.records.get(functionName) ?? [];
          list.push({
            cpuMs:
              Math.max(
                0,
                invocation.cpuMicros - invocation.resources * this.hookMicrosPerResource,
              ) / 1000,
            wallMs,
            units: recordsOf(event),
            lines: invocation.lines,
            platformBytes:
              lambdaLogging.systemLogLevel === 'WARN'
                ? 0
                : platformLines(awsContext.awsRequestId, wallMs, memoryMb),
          });
          this.records.set(functionName, list);
        }
      }
    };
  };
}
