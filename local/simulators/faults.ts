import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import * as z from 'zod';

// ---------------------------------------------------------------------------------------------
// Seeded randomness: every fault draw comes from here, so a fixed seed replays the same faults.
// ---------------------------------------------------------------------------------------------

export type Random = () => number;

/** mulberry32: tiny and fast, and its stream depends on nothing but the seed. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Always draws, even for a rate of 0 or 1, so changing one rate does not shift later draws. */
export function chance(random: Random, rate: number): boolean {
  return random() < rate;
}

export function between(
  random: Random,
  range: { readonly min: number; readonly max: number },
): number {
  return Math.round(range.min + random() * Math.max(0, range.max - range.min));
}

export function pick<T>(random: Random, values: readonly T[]): T | undefined {
  return values[Math.floor(random() * values.length)];
}

// ---------------------------------------------------------------------------------------------
// Fault configuration: defaults, partial updates, and the environment.
// ---------------------------------------------------------------------------------------------

/** A partial fault configuration: nested groups may be given in part, lists only whole. */
export type FaultPatch<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[]
    ? T[K]
    : T[K] extends object
      ? FaultPatch<T[K]>
      : T[K];
};

/** An error a simulator answers with `status`; its admin endpoints map it for the caller. */
export class SimulatorError extends Error {
  override readonly name: string = 'SimulatorError';

  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export class FaultConfigError extends SimulatorError {
  override readonly name: string = 'FaultConfigError';

  constructor(message: string) {
    super(400, 'invalid_request_error', message);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function freezeDeep<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (typeof inner === 'object' && inner !== null) freezeDeep(inner);
  }
  return Object.freeze(value);
}

/** Zod's view of the settings, with the words an operator reads when one is wrong. */
export const faultSettings = {
  /** A duration, a count or a size: a number of at least 0. */
  amount: () =>
    z
      .number({ error: 'must be a number of at least 0.' })
      .min(0, { error: 'must be a number of at least 0.' }),
  /** A probability: a rate of 50 meant as 50 % must fail loudly, not inject every fault. */
  rate: () => faultSettings.amount().max(1, { error: 'is a probability: between 0 and 1.' }),
  range: () => z.strictObject({ min: faultSettings.amount(), max: faultSettings.amount() }),
  flag: () => z.boolean({ error: 'must be true or false.' }),
  text: () => z.string({ error: 'must be a string.' }),
  /** A list replaced whole, never patched item by item. */
  statuses: (example: readonly number[]) =>
    z
      .array(z.number({ error: `must be a non-empty list like ${JSON.stringify(example)}.` }), {
        error: `must be a non-empty list like ${JSON.stringify(example)}.`,
      })
      .min(1, { error: `must be a non-empty list like ${JSON.stringify(example)}.` }),
  integer: (min: number, max: number) => {
    const error = `must be an integer from ${min} to ${max}.`;
    return z.int({ error }).min(min, { error }).max(max, { error });
  },
  name: () =>
    z.string({ error: 'must be a non-empty string.' }).min(1, {
      error: 'must be a non-empty string.',
    }),
  choice: <const T extends readonly [string, ...string[]]>(names: T) =>
    z.enum(names, {
      error: (issue) =>
        `${issue.input === undefined ? 'is required: one' : 'must be one'} of ${names.join(', ')}.`,
    }),
} as const;

/**
 * Checks a value against its schema: a misspelt knob or a rate of 50 (meant as 50 %) fails
 * loudly, naming where it is, instead of silently injecting nothing, or everything.
 */
export function checkSetting<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [where, ...(issue?.path ?? []).map(String)].join('.');
  if (issue?.code === 'unrecognized_keys') {
    throw new FaultConfigError(`${path}.${issue.keys[0]} is not a setting.`);
  }
  if (issue?.code === 'invalid_type' && issue.expected === 'object') {
    throw new FaultConfigError(`${path} must be a JSON object.`);
  }
  throw new FaultConfigError(`${path} ${issue?.message ?? 'is not valid.'}`);
}

/** The schema of a partial update: every setting optional, nested groups too. */
export function faultPatchSchema(settings: { readonly shape: Record<string, z.ZodType> }) {
  const shape = Object.fromEntries(
    Object.entries(settings.shape).map(([key, setting]) => [
      key,
      (setting instanceof z.ZodObject ? setting.partial() : setting).optional(),
    ]),
  );
  return z.strictObject(shape);
}

export function checkFaultPatch<T extends object>(
  schema: z.ZodType,
  patch: unknown,
  where = 'faults',
): FaultPatch<T> {
  return checkSetting(schema, patch, where) as FaultPatch<T>;
}

export function mergeFaults<T extends object>(base: T, patch: FaultPatch<T>): T {
  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    const current = merged[key];
    merged[key] = isRecord(current) && isRecord(value) ? mergeFaults(current, value) : value;
  }
  return merged as T;
}

/** Names of the environment variables that configure one simulator's faults. */
export interface FaultEnvironment {
  /** Holds a JSON patch, e.g. `GATEWAY_FAULTS='{"errorRate":0.2}'`. */
  readonly json: string;
  /** Names a file that holds a JSON patch. */
  readonly file: string;
}

/**
 * Faults given in code win outright: a test that sets its faults must not pick up a developer's
 * shell. Otherwise the file applies over the defaults and the JSON variable over the file.
 */
export function resolveFaults<T extends object>(
  defaults: T,
  patchSchema: z.ZodType,
  given: FaultPatch<T> | undefined,
  environment: FaultEnvironment,
): T {
  const base = structuredClone(defaults);
  if (given !== undefined) {
    return mergeFaults(base, checkFaultPatch<T>(patchSchema, given, 'faults'));
  }
  const fileName = process.env[environment.file];
  const json = process.env[environment.json];
  const layers = [
    ...(fileName
      ? [
          {
            where: `${environment.file} (${fileName})`,
            text: readFaultFile(fileName, environment.file),
          },
        ]
      : []),
    ...(json ? [{ where: environment.json, text: json }] : []),
  ];
  return layers.reduce(
    (faults, layer) =>
      mergeFaults(faults, checkFaultPatch<T>(patchSchema, parseLayer(layer), layer.where)),
    base,
  );
}

function readFaultFile(fileName: string, variable: string): string {
  try {
    return readFileSync(fileName, 'utf8');
  } catch (error) {
    throw new FaultConfigError(`${variable} names ${fileName}, which cannot be read: ${error}`);
  }
}

function parseLayer(layer: { where: string; text: string }): unknown {
  try {
    return JSON.parse(layer.text);
  } catch {
    throw new FaultConfigError(`${layer.where} does not hold valid JSON.`);
  }
}

// ---------------------------------------------------------------------------------------------
// Scripted faults: "the next matching request gets exactly this", for deterministic tests.
// ---------------------------------------------------------------------------------------------

export class FaultScript<F> {
  readonly #queue: F[] = [];

  push(faults: readonly F[]): void {
    this.#queue.push(...faults);
  }

  /** Takes the first queued fault meant for this request; the others keep their turn. */
  take(appliesTo: (fault: F) => boolean): F | undefined {
    const index = this.#queue.findIndex(appliesTo);
    return index === -1 ? undefined : this.#queue.splice(index, 1)[0];
  }

  clear(): void {
    this.#queue.length = 0;
  }

  get size(): number {
    return this.#queue.length;
  }
}

/** Reads a JSON list of scripted faults, checking each item against the simulator's schema. */
export function parseScript<F>(value: unknown, item: z.ZodType<F>): F[] {
  if (!Array.isArray(value)) throw new FaultConfigError('Scripted faults must be a JSON list.');
  return value.map((entry, index) => checkSetting(item, entry, `fault ${index}`));
}

export function oneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  where: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new FaultConfigError(`${where} must be one of ${allowed.join(', ')}.`);
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing both simulators share, including the transport faults themselves.
// ---------------------------------------------------------------------------------------------

/** Far above any real request to a simulator; only a runaway client gets near it. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A signal of one wait or request alone that aborts with `shared`. A simulator's signals live as
 * long as the simulator or its ledger and serve every concurrent wait and webhook request: each
 * one's abort listener on them piled up with the load (past ten, Node warned of a leak).
 * AbortSignal.any follows `shared` without a listener on it.
 */
export function ownSignal(shared: AbortSignal): AbortSignal {
  return AbortSignal.any([shared]);
}

/** Resolves true once the time has passed, false if the signal aborted first. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal: ownSignal(signal) });
    return true;
  } catch {
    return false;
  }
}

/** The body as text, or undefined when it is too large to be a genuine request. */
export async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Never answers. After `ms` the connection is dropped, as a load balancer's idle timeout would;
 * stopping the simulator drops it at once (the signal clears the timer).
 */
export function hangUp(res: ServerResponse, ms: number, signal: AbortSignal): void {
  void sleep(ms, signal).then((elapsed) => {
    if (elapsed) res.destroy();
  });
}

/** Drops the connection without a byte of answer: the client sees a reset socket. */
export function resetConnection(req: IncomingMessage): void {
  req.socket.destroy();
}

/** A server whose unexpected failures become a 500 and a log line, never a crash. */
export function createSimulatorServer(
  name: string,
  serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Server {
  return createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      process.stderr.write(`${name}: ${String(error)}\n`);
      if (!res.headersSent && !res.destroyed) {
        sendJson(res, 500, { error: { type: 'api_error', message: `The ${name} failed.` } });
      }
    });
  });
}

/** Answers an admin request: nothing to say is a 204, a SimulatorError its own status. */
export async function serveAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  handle: (route: string, body: unknown) => unknown,
): Promise<void> {
  const text = (await readBody(req)) ?? '';
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  try {
    const answer = await handle(`${req.method} ${path}`, text === '' ? undefined : parseJson(text));
    if (answer === undefined) {
      res.writeHead(204).end();
    } else {
      sendJson(res, 200, answer);
    }
  } catch (error) {
    if (!(error instanceof SimulatorError)) throw error;
    sendJson(res, error.status, { error: { type: error.type, message: error.message } });
  }
}

export function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (address && typeof address === 'object') resolve(address.port);
      else reject(new Error('The simulator got no port.'));
    });
  });
}

/** Closes the server and every connection on it, hung and keep-alive ones included. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
