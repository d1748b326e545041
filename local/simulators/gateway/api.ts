/** What the gateway's API answers, and how a route turns a request into it. */
import type { IncomingMessage } from 'node:http';
import type { GatewayEvent } from './contract.ts';
import type { Decision, FaultDraws, RouteKind } from './fault-drawing.ts';
import type { GatewayFaults } from './fault-settings.ts';
import type { GatewayBook } from './ledger.ts';

export type Answer = { status: number; body: unknown; headers?: Record<string, string> } | 'hang';
export type Operation = (decision: Decision) => Answer;

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  pathId: string;
  body: unknown;
}

export interface Route {
  name: string;
  method: string;
  pattern: RegExp;
  kind: RouteKind;
  /** Rejects a bad request at once, before any fault, or says what to do once faults pass. */
  prepare: (context: RequestContext) => Answer | Operation;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function ok(body: unknown, headers?: Record<string, string>): Answer {
  return { status: 200, body, ...(headers ? { headers } : {}) };
}

export function failure(status: number, type: string, message: string): Answer {
  return { status, body: { error: { type, message } } };
}

export function notFound(id: string): Answer {
  return failure(404, 'not_found', `No payment ${id}.`);
}

export const replayed = { 'Idempotent-Replayed': 'true' };

export function idempotencyKey(req: IncomingMessage): string | undefined {
  const key = req.headers['idempotency-key'];
  return typeof key === 'string' && key.length > 0 && key.length <= 255 ? key : undefined;
}

export function keyRequired(): Answer {
  return failure(400, 'invalid_request_error', 'The Idempotency-Key header is required.');
}

export function route(
  method: string,
  path: string,
  kind: RouteKind,
  prepare: Route['prepare'],
): Route {
  const pattern = new RegExp(`^${path.replace('{id}', '([^/]+)')}$`);
  return { name: `${method} ${path}`, method, pattern, kind, prepare };
}

/**
 * A management route answers from `prepare`, never with an operation, so it skips the fault
 * stage: no latency, no transport fault, no scripted fault taken (not even `route: any`).
 */
export function manage(
  method: string,
  path: string,
  answer: (context: RequestContext) => Answer,
): Route {
  return route(method, path, 'manage', answer);
}

/** What the payments and refunds APIs share with the simulator around them. */
export interface GatewayWork {
  readonly book: GatewayBook;
  readonly draws: FaultDraws;
  /** The faults in force now, not a copy. */
  faults(): GatewayFaults;
  /** Sends the events as callbacks, in order, under the callback faults. */
  announce(events: readonly GatewayEvent[]): Promise<void>;
  /** Runs `work` after `ms` unless a reset or stop comes first. */
  later(ms: number, work: () => Promise<void>): void;
}
