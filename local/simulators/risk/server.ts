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
import {
  type AssessedOrder,
  type BusinessSecurityData,
  localRiskCredentials,
  type RiskErrorCode,
  type RiskLevel,
  riskAction,
  riskVersion,
} from './contract.ts';
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
import { checkTc3Signature } from './signature.ts';

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
  /** The CAM key pairs it accepts, SecretId → SecretKey; absent, the local pair only. */
  credentials?: Readonly<Record<string, string>>;
}

type ScriptedFaultName = (typeof scriptedFaultNames)[number];

export interface RiskRequests {
  total: number;
  /** Requests per order, for every request whose Details named an orderId. */
  byOrder: Record<string, number>;
  /** Verdicts answered, drawn or by the rules. */
  verdicts: Record<RiskLevel, number>;
  /** Requests refused for their signature or key (`AuthFailure.*`). */
  authFailures: number;
  /** Faults injected into valid requests, drawn or scripted, by their scripted name. */
  faults: Record<Exclude<ScriptedFaultName, 'none'>, number>;
}

function noRequests(): RiskRequests {
  return {
    total: 0,
    byOrder: {},
    verdicts: { pass: 0, review: 0, reject: 0 },
    authFailures: 0,
    faults: {
      internal_error: 0,
      throttle: 0,
      hang: 0,
      malformed: 0,
      reset: 0,
      business_error: 0,
    },
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
  /** Replaces the accepted key pairs (SecretId → SecretKey): a key disabled in CAM, say. */
  setCredentials(credentials: Readonly<Record<string, string>>): void;
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
    setCredentials: (credentials) => engine.setCredentials(credentials),
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
  | { kind: 'business'; dataCode: number }
  | { kind: 'malformed'; body: MalformedBody };

const errorMessages: Partial<Record<RiskErrorCode, string>> = {
  InternalServerError: 'An internal error occurred; try again later.',
  RequestLimitExceeded: 'The request rate exceeds the limit.',
};

/** Tencent Cloud answers errors with HTTP 200 and an Error object, never a 4xx or 5xx. */
function errorAnswer(code: RiskErrorCode, message = errorMessages[code] ?? code) {
  return { Response: { Error: { Code: code, Message: message }, RequestId: randomUUID() } };
}

type Checked =
  | { ok: true; order: AssessedOrder; data: BusinessSecurityData }
  | { ok: false; code: RiskErrorCode; message: string };

/** The verdict, where Tencent puts it: `Response.Data.Value.RiskLevel`, with `Data.Code` 0. */
function verdictAnswer(level: RiskLevel, data: BusinessSecurityData) {
  return {
    Response: {
      Data: {
        Code: 0,
        Message: 'OK',
        Value: {
          UserId: data.UserId ?? '',
          PostTime: data.PostTime,
          AssociateAccount: '',
          UserIp: data.UserIp,
          RiskLevel: level,
          RiskType: level === 'pass' ? [] : [101],
          ConstId: '',
          RiskInformation: '',
        },
        UUid: randomUUID(),
      },
      RequestId: randomUUID(),
    },
  };
}

const businessMessages: Record<number, string> = {
  1002: 'Parameter error.',
  4300: 'The service is not activated.',
  4301: 'No product is created for this account.',
  6000: 'Internal system error.',
};

/** A business failure: HTTP 200, no Error, a non-zero `Data.Code` and no Value. */
function businessFailure(dataCode: number) {
  return {
    Response: {
      Data: { Code: dataCode, Message: businessMessages[dataCode] ?? 'Failed.', Value: null },
      RequestId: randomUUID(),
    },
  };
}

/** Either an answer cut short, or JSON that carries neither a verdict nor an Error. */
function sendMalformed(res: ServerResponse, body: MalformedBody): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    body === 'not_json'
      ? '{"Response":{"Data":{"Co'
      : JSON.stringify({ Response: { RequestId: randomUUID() } }),
  );
}

/** The fields Tencent requires in BusinessSecurityData, and autopay's order in Details. */
function parseBusinessData(body: unknown): Checked {
  const invalid = (message: string): Checked => ({ ok: false, code: 'InvalidParameter', message });
  const data = isRecord(body) ? body.BusinessSecurityData : undefined;
  if (!isRecord(data)) return invalid('BusinessSecurityData is required.');
  const { Account, SceneCode, UserIp, PostTime, UserId, Details } = data;
  if (!isRecord(Account) || !Number.isSafeInteger(Account.AccountType)) {
    return invalid('BusinessSecurityData.Account.AccountType is required.');
  }
  if (typeof SceneCode !== 'string' || SceneCode.length === 0) {
    return invalid('BusinessSecurityData.SceneCode is required.');
  }
  if (typeof UserIp !== 'string' || UserIp.length === 0) {
    return invalid('BusinessSecurityData.UserIp is required.');
  }
  if (!Number.isSafeInteger(PostTime)) return invalid('BusinessSecurityData.PostTime is required.');
  if (Details !== undefined && !Array.isArray(Details)) {
    return invalid('BusinessSecurityData.Details must be a list.');
  }
  const detail = (name: string) => detailOf(Details, name);
  const amount = detail('amount');
  return {
    ok: true,
    data: data as unknown as BusinessSecurityData,
    order: {
      userId: typeof UserId === 'string' ? UserId : '',
      orderId: detail('orderId'),
      amount: amount === undefined ? undefined : Number(amount),
    },
  };
}

function detailOf(details: unknown, name: string): string | undefined {
  if (!Array.isArray(details)) return undefined;
  const found = details.find((entry) => isRecord(entry) && entry.FieldName === name);
  return isRecord(found) && typeof found.FieldValue === 'string' ? found.FieldValue : undefined;
}

class RiskEngine {
  readonly seed: number;
  readonly #configuredFaults: RiskFaults;
  readonly #configuredRules: RiskRules;
  #faults: RiskFaults;
  #rules: RiskRules;
  #keys: ReadonlyMap<string, string>;
  readonly #configuredKeys: ReadonlyMap<string, string>;
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
    this.#configuredKeys = new Map(
      Object.entries(
        options.credentials ?? { [localRiskCredentials.SecretId]: localRiskCredentials.SecretKey },
      ),
    );
    this.#keys = this.#configuredKeys;
  }

  setCredentials(credentials: Readonly<Record<string, string>>): void {
    this.#keys = new Map(Object.entries(credentials));
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
    this.#keys = this.#configuredKeys;
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
    const text = (await readBody(req)) ?? '';
    const body = parseJson(text);
    this.#count(body);
    const checked = this.#check(req, text, body);
    if (!checked.ok) {
      if (checked.code.startsWith('AuthFailure')) this.#requests.authFailures += 1;
      sendJson(res, 200, errorAnswer(checked.code, checked.message));
      return;
    }
    const latencyMs = between(this.#random, this.#faults.latencyMs);
    const fault = this.#decide();
    this.#countFault(fault);
    if (!(await sleep(latencyMs, this.#life.signal))) return;
    this.#answer(req, res, fault, checked);
  }

  /** In Tencent's order: the request line, the signature, the action and version, the body. */
  #check(req: IncomingMessage, text: string, body: unknown): Checked {
    if (req.method !== 'POST' || req.url !== '/') {
      return { ok: false, code: 'InvalidParameter', message: 'Send POST / with X-TC-Action.' };
    }
    const signature = checkTc3Signature({
      method: req.method,
      path: '/',
      headers: req.headers,
      body: text,
      keys: this.#keys,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    if (!signature.ok) return signature;
    const action = req.headers['x-tc-action'];
    if (action !== riskAction) {
      return { ok: false, code: 'InvalidAction', message: `Unknown X-TC-Action ${action}.` };
    }
    const version = req.headers['x-tc-version'];
    if (version !== riskVersion) {
      return { ok: false, code: 'NoSuchVersion', message: `Unknown X-TC-Version ${version}.` };
    }
    return parseBusinessData(body);
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
      case 'business_error':
        return { kind: 'business', dataCode: scripted.dataCode ?? 6000 };
    }
  }

  #malformed(): MalformedBody {
    return pick(this.#random, malformedBodies) ?? 'not_json';
  }

  #answer(
    req: IncomingMessage,
    res: ServerResponse,
    fault: Fault,
    request: Extract<Checked, { ok: true }>,
  ): void {
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
      case 'business':
        sendJson(res, 200, businessFailure(fault.dataCode));
        return;
      case 'none': {
        const level = fault.verdict ?? assessRisk(this.#rules, request.order);
        this.#requests.verdicts[level] += 1;
        sendJson(res, 200, verdictAnswer(level, request.data));
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
      case 'business':
        faults.business_error += 1;
        return;
      default:
        faults[fault.kind] += 1;
    }
  }

  #count(body: unknown): void {
    this.#requests.total += 1;
    const data = isRecord(body) ? body.BusinessSecurityData : undefined;
    const orderId = isRecord(data) ? detailOf(data.Details, 'orderId') : undefined;
    if (orderId !== undefined) {
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
      case 'PUT /admin/credentials':
        if (!isRecord(body) || !Object.values(body).every((key) => typeof key === 'string')) {
          throw new SimulatorError(
            400,
            'invalid_credentials',
            'Send {"<SecretId>": "<SecretKey>"}.',
          );
        }
        this.setCredentials(body as Record<string, string>);
        return { secretIds: Object.keys(body) };
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
