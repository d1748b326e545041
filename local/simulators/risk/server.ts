import { randomInt, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  between,
  chance,
  checkFaultPatch,
  closeServer,
  createSimulatorServer,
  type FaultPatch,
  FaultScript,
  hangUp,
  isRecord,
  listen,
  mergeFaults,
  parseJson,
  parseScript,
  pick,
  type Random,
  readBody,
  resetConnection,
  resolveFaults,
  SimulatorError,
  seededRandom,
  sendJson,
  serveAdmin,
  sleep,
} from '../faults.ts';
import { type RiskErrorCode, type RiskLevel, type RiskRequest, riskAction } from './contract.ts';
import {
  defaultRiskFaults,
  type MalformedBody,
  malformedBodies,
  type RiskFaults,
  riskFaultPatchSchema,
  type ScriptedRiskFault,
  type scriptedFaultNames,
  scriptedRiskFaultSchema,
} from './fault-settings.ts';
import { assessRisk, checkRules, type RiskRules } from './rules.ts';

// ---------------------------------------------------------------------------------------------
// The simulator's public face.
// ---------------------------------------------------------------------------------------------

export interface RiskSimulatorOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** When given, RISK_FAULTS and RISK_FAULTS_FILE are ignored. */
  faults?: FaultPatch<RiskFaults>;
  rules?: RiskRules;
  /** Fixes every random draw; absent, a random seed (see `seed` on the simulator). */
  seed?: number;
}

type ScriptedFaultName = (typeof scriptedFaultNames)[number];

export interface RiskRequests {
  total: number;
  /** Requests per OrderId, for every request whose body named one. */
  byOrder: Record<string, number>;
  /** Verdicts answered, drawn or by the rules. */
  verdicts: Record<RiskLevel, number>;
  /** Faults injected into valid requests, drawn or scripted, by their scripted name. */
  faults: Record<Exclude<ScriptedFaultName, 'none'>, number>;
}

function noRequests(): RiskRequests {
  return {
    total: 0,
    byOrder: {},
    verdicts: { pass: 0, review: 0, reject: 0 },
    faults: { internal_error: 0, throttle: 0, hang: 0, malformed: 0, reset: 0 },
  };
}

export interface RiskSimulator {
  readonly url: string;
  readonly port: number;
  readonly seed: number;
  setFaults(patch: FaultPatch<RiskFaults>): void;
  faults(): RiskFaults;
  /** Replaces the rules as a whole. */
  setRules(rules: RiskRules): void;
  scriptNext(faults: ScriptedRiskFault[]): void;
  requests(): RiskRequests;
  /** Forgets the counts, and restores the configured faults, rules and seed. */
  reset(): void;
  /** Drops every connection (hung ones too) and stops every timer. */
  stop(): Promise<void>;
}

export async function startRiskSimulator(
  options: RiskSimulatorOptions = {},
): Promise<RiskSimulator> {
  const engine = new RiskEngine(options);
  const server = createSimulatorServer('risk simulator', (req, res) => engine.serve(req, res));
  const port = await listen(server, options.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seed: engine.seed,
    setFaults: (patch) => engine.setFaults(patch),
    faults: () => engine.faults(),
    setRules: (rules) => engine.setRules(rules),
    scriptNext: (faults) => engine.scriptNext(faults),
    requests: () => engine.requests(),
    reset: () => engine.reset(),
    stop: async () => {
      engine.stop();
      await closeServer(server);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Inside the simulator.
// ---------------------------------------------------------------------------------------------

type Fault =
  | { kind: 'none'; verdict?: RiskLevel }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'error'; code: RiskErrorCode }
  | { kind: 'malformed'; body: MalformedBody };

const errorMessages: Record<RiskErrorCode, string> = {
  InternalServerError: 'An internal error occurred; try again later.',
  RequestLimitExceeded: 'The request rate exceeds the limit.',
  InvalidParameter: 'A parameter is missing or invalid.',
  AuthFailure: 'The request is not signed (Authorization: TC3-HMAC-SHA256 ...).',
};

/** Tencent Cloud answers errors with HTTP 200 and an Error object, never a 4xx or 5xx. */
function errorAnswer(code: RiskErrorCode, message = errorMessages[code]) {
  return { Response: { Error: { Code: code, Message: message }, RequestId: randomUUID() } };
}

type Checked =
  | { ok: true; request: RiskRequest }
  | { ok: false; code: RiskErrorCode; message: string };

/**
 * Requests are not authenticated: autopay's adapter does not sign them yet (see
 * docs/GATEWAY.md), and the simulator holds no credentials to verify a signature with.
 */
function checkRequest(req: IncomingMessage, body: unknown): Checked {
  if (req.method !== 'POST' || req.url !== '/') {
    return { ok: false, code: 'InvalidParameter', message: 'Send POST / with X-TC-Action.' };
  }
  const action = req.headers['x-tc-action'];
  if (action !== riskAction) {
    return { ok: false, code: 'InvalidParameter', message: `Unknown X-TC-Action ${action}.` };
  }
  const parsed = parseRiskRequest(body);
  if (typeof parsed === 'string') return { ok: false, code: 'InvalidParameter', message: parsed };
  return { ok: true, request: parsed };
}

/** Either an answer cut short, or JSON that carries neither a RiskLevel nor an Error. */
function sendMalformed(res: ServerResponse, body: MalformedBody): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    body === 'not_json'
      ? '{"Response":{"RiskLev'
      : JSON.stringify({ Response: { RequestId: randomUUID() } }),
  );
}

function parseRiskRequest(body: unknown): RiskRequest | string {
  if (!isRecord(body)) return 'The body must be a JSON object.';
  const { OrderId, AgentId, Amount, Currency, PaymentMethod } = body;
  const text = (value: unknown) => typeof value === 'string' && value.length > 0;
  if (!text(OrderId)) return 'OrderId is required.';
  if (!text(AgentId)) return 'AgentId is required.';
  if (!Number.isSafeInteger(Amount) || (Amount as number) <= 0) {
    return 'Amount must be a positive integer in minor units.';
  }
  if (typeof Currency !== 'string' || !/^[A-Z]{3}$/.test(Currency)) {
    return 'Currency must be three upper-case letters.';
  }
  if (!text(PaymentMethod)) return 'PaymentMethod is required.';
  return body as unknown as RiskRequest;
}

class RiskEngine {
  readonly seed: number;
  readonly #configuredFaults: RiskFaults;
  readonly #configuredRules: RiskRules;
  #faults: RiskFaults;
  #rules: RiskRules;
  #random: Random;
  readonly #script = new FaultScript<ScriptedRiskFault>();
  readonly #life = new AbortController();
  #requests: RiskRequests = noRequests();

  constructor(options: RiskSimulatorOptions) {
    this.seed = options.seed ?? randomInt(2 ** 31);
    this.#configuredFaults = resolveFaults(
      defaultRiskFaults,
      riskFaultPatchSchema,
      options.faults,
      {
        json: 'RISK_FAULTS',
        file: 'RISK_FAULTS_FILE',
      },
    );
    this.#configuredRules = checkRules(options.rules ?? {});
    this.#faults = structuredClone(this.#configuredFaults);
    this.#rules = structuredClone(this.#configuredRules);
    this.#random = seededRandom(this.seed);
  }

  faults(): RiskFaults {
    return structuredClone(this.#faults);
  }

  setFaults(patch: FaultPatch<RiskFaults>): void {
    this.#faults = mergeFaults(this.#faults, checkFaultPatch(riskFaultPatchSchema, patch));
  }

  setRules(rules: RiskRules): void {
    this.#rules = checkRules(rules);
  }

  scriptNext(faults: ScriptedRiskFault[]): void {
    this.#script.push(parseScript(faults, scriptedRiskFaultSchema));
  }

  requests(): RiskRequests {
    return structuredClone(this.#requests);
  }

  reset(): void {
    this.#requests = noRequests();
    this.#script.clear();
    this.#faults = structuredClone(this.#configuredFaults);
    this.#rules = structuredClone(this.#configuredRules);
    this.#random = seededRandom(this.seed);
  }

  stop(): void {
    this.#life.abort();
  }

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url?.startsWith('/admin/')) {
      await serveAdmin(req, res, (route, body) => this.#admin(route, body));
      return;
    }
    const body = parseJson((await readBody(req)) ?? '');
    this.#count(body);
    const checked = checkRequest(req, body);
    if (!checked.ok) {
      sendJson(res, 200, errorAnswer(checked.code, checked.message));
      return;
    }
    const latencyMs = between(this.#random, this.#faults.latencyMs);
    const fault = this.#decide();
    this.#countFault(fault);
    if (!(await sleep(latencyMs, this.#life.signal))) return;
    this.#answer(req, res, fault, checked.request);
  }

  /** Draws on arrival, in the gateway simulator's order: reset, hang, error, throttle, body. */
  #decide(): Fault {
    const scripted = this.#script.take(() => true);
    if (scripted) return this.#fromScript(scripted);
    const faults = this.#faults;
    const random = this.#random;
    if (chance(random, faults.resetRate)) return { kind: 'reset' };
    if (chance(random, faults.hangRate)) return { kind: 'hang' };
    if (chance(random, faults.internalErrorRate)) {
      return { kind: 'error', code: 'InternalServerError' };
    }
    if (chance(random, faults.throttleRate)) return { kind: 'error', code: 'RequestLimitExceeded' };
    if (chance(random, faults.malformedRate)) return { kind: 'malformed', body: this.#malformed() };
    if (chance(random, faults.rejectRate)) return { kind: 'none', verdict: 'reject' };
    if (chance(random, faults.reviewRate)) return { kind: 'none', verdict: 'review' };
    return { kind: 'none' };
  }

  #fromScript(scripted: ScriptedRiskFault): Fault {
    switch (scripted.fault) {
      case 'none':
      case 'hang':
      case 'reset':
        return { kind: scripted.fault };
      case 'internal_error':
        return { kind: 'error', code: 'InternalServerError' };
      case 'throttle':
        return { kind: 'error', code: 'RequestLimitExceeded' };
      case 'malformed':
        return { kind: 'malformed', body: scripted.body ?? this.#malformed() };
    }
  }

  #malformed(): MalformedBody {
    return pick(this.#random, malformedBodies) ?? 'not_json';
  }

  #answer(req: IncomingMessage, res: ServerResponse, fault: Fault, request: RiskRequest): void {
    switch (fault.kind) {
      case 'hang':
        hangUp(res, this.#faults.hangMs, this.#life.signal);
        return;
      case 'reset':
        resetConnection(req);
        return;
      case 'error':
        sendJson(res, 200, errorAnswer(fault.code));
        return;
      case 'malformed':
        sendMalformed(res, fault.body);
        return;
      case 'none': {
        const level = fault.verdict ?? assessRisk(this.#rules, request);
        this.#requests.verdicts[level] += 1;
        sendJson(res, 200, { Response: { RiskLevel: level, RequestId: randomUUID() } });
      }
    }
  }

  #countFault(fault: Fault): void {
    const { faults } = this.#requests;
    switch (fault.kind) {
      case 'none':
        return;
      case 'error':
        faults[fault.code === 'RequestLimitExceeded' ? 'throttle' : 'internal_error'] += 1;
        return;
      default:
        faults[fault.kind] += 1;
    }
  }

  #count(body: unknown): void {
    this.#requests.total += 1;
    const orderId = isRecord(body) ? body.OrderId : undefined;
    if (typeof orderId === 'string') {
      this.#requests.byOrder[orderId] = (this.#requests.byOrder[orderId] ?? 0) + 1;
    }
  }

  #admin(route: string, body: unknown): unknown {
    switch (route) {
      case 'GET /admin/faults':
        return this.faults();
      case 'PUT /admin/faults':
        this.setFaults(checkFaultPatch(riskFaultPatchSchema, body));
        return this.faults();
      case 'PUT /admin/rules':
        this.setRules(checkRules(body));
        return this.#rules;
      case 'POST /admin/faults/next':
        this.#script.push(parseScript(body, scriptedRiskFaultSchema));
        return { queued: this.#script.size };
      case 'GET /admin/requests':
        return this.requests();
      case 'POST /admin/reset':
        this.reset();
        return undefined;
      default:
        throw new SimulatorError(404, 'not_found', `No ${route}.`);
    }
  }
}
