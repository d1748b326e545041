import { randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  checkFaultPatch,
  closeServer,
  createSimulatorServer,
  type FaultPatch,
  hangUp,
  listen,
  mergeFaults,
  parseJson,
  parseScript,
  readBody,
  resetConnection,
  resolveFaults,
  SimulatorError,
  sendJson,
  serveAdmin,
  sleep,
} from '../faults.ts';
import { type AdminControls, answerAdmin } from './admin.ts';
import { type Answer, failure, type GatewayWork, idempotencyKey, type Route } from './api.ts';
import { Background } from './background.ts';
import { CallbackSender } from './callbacks.ts';
import type { GatewayPayment, Ledger } from './contract.ts';
import { FaultDraws, type TransportFault } from './fault-drawing.ts';
import {
  defaultGatewayFaults,
  type GatewayFaults,
  gatewayFaultPatchSchema,
  type ScriptedGatewayFault,
  scriptedGatewayFaultSchema,
} from './fault-settings.ts';
import { credentialRoutes } from './key-management.ts';
import { Credentials, defaultGatewayApiKeys, defaultWebhookSecrets } from './keys.ts';
import { GatewayBook } from './ledger.ts';
import { PaymentsApi } from './payments.ts';
import { RefundsApi } from './refunds.ts';
import { formParams, StripeApi, stripeOrderKey } from './stripe-api.ts';
// ---------------------------------------------------------------------------------------------
// The simulator's public face.
// ---------------------------------------------------------------------------------------------

export interface GatewaySimulatorOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** Where the Stripe API subset listens (stripe-api.ts); 0 or absent: a free port. */
  stripePort?: number;
  /** The valid API keys at the start; `/v1/keys` lists and revokes them like any other. */
  apiKeys?: string[];
  callbackUrl?: string;
  /**
   * Every secret signs every callback, so autopay can rotate its secret without a gap; each is a
   * registered entry of `/v1/webhook-secrets`.
   */
  webhookSecrets?: string[];
  /** When given, GATEWAY_FAULTS and GATEWAY_FAULTS_FILE are ignored. */
  faults?: FaultPatch<GatewayFaults>;
  /** Fixes every random draw; absent, a random seed (see `seed` on the simulator). */
  seed?: number;
}

export interface GatewaySimulator {
  readonly url: string;
  readonly port: number;
  /** The Stripe API subset's base URL, for the official SDK's host, port and protocol options. */
  readonly stripeUrl: string;
  readonly seed: number;
  ledger(): Ledger;
  setFaults(patch: FaultPatch<GatewayFaults>): void;
  faults(): GatewayFaults;
  scriptNext(faults: ScriptedGatewayFault[]): void;
  /**
   * Charges for these orders (the idempotency key on the simulator's API, `metadata[orderId]` on
   * Stripe's) take no fault until a reset: a harness's way to make a given order's charge land.
   */
  spareCharges(orderIds: string[]): void;
  setCallbackUrl(url: string | undefined): void;
  /** Replaces the registered signing secrets; those already registered keep their ids. */
  setWebhookSecrets(secrets: string[]): void;
  /**
   * Replaces the valid API keys, as a key rotation at the gateway would: keys left out are
   * revoked, keys already valid keep their ids.
   */
  setApiKeys(keys: string[]): void;
  /** Settles a PENDING payment and resolves once its callbacks are delivered or given up. */
  settle(paymentId: string, status: 'SUCCESS' | 'FAILED'): Promise<void>;
  /**
   * Work the simulator will still do by itself: settlements and late captures waiting for their
   * time, and callbacks not yet delivered or given up. 0 once it will send nothing more unasked.
   */
  inFlight(): number;
  /** Forgets every payment, refund and count, and restores the configured faults and seed. */
  reset(): void;
  /** Drops every connection (hung ones too), stops every timer and callback. */
  stop(): Promise<void>;
}

export async function startGatewaySimulator(
  options: GatewaySimulatorOptions = {},
): Promise<GatewaySimulator> {
  const gateway = new Gateway(options);
  const server = createSimulatorServer('gateway simulator', (req, res) => gateway.serve(req, res));
  const stripeServer = createSimulatorServer('gateway simulator (Stripe)', (req, res) =>
    gateway.serveStripe(req, res),
  );
  const port = await listen(server, options.port ?? 0);
  const stripePort = await listen(stripeServer, options.stripePort ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    stripeUrl: `http://127.0.0.1:${stripePort}`,
    port,
    seed: gateway.seed,
    ledger: () => gateway.ledger(),
    setFaults: (patch) => gateway.setFaults(patch),
    faults: () => gateway.faults(),
    scriptNext: (faults) => gateway.scriptNext(faults),
    spareCharges: (orderIds) => gateway.spareCharges(orderIds),
    setCallbackUrl: (url) => gateway.setCallbackUrl(url),
    setWebhookSecrets: (secrets) => gateway.setWebhookSecrets(secrets),
    setApiKeys: (keys) => gateway.setApiKeys(keys),
    settle: (paymentId, status) => gateway.settle(paymentId, status),
    inFlight: () => gateway.inFlight(),
    reset: () => gateway.reset(),
    stop: async () => {
      gateway.stop();
      await Promise.all([closeServer(server), closeServer(stripeServer)]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Inside the simulator.
// ---------------------------------------------------------------------------------------------

class Gateway implements AdminControls {
  readonly seed: number;
  readonly #configuredFaults: GatewayFaults;
  #faults: GatewayFaults;
  readonly #draws: FaultDraws;
  readonly #routes: readonly Route[];
  readonly #apiKeys = new Credentials('key');
  readonly #webhookSecrets = new Credentials('whs');
  /** Aborted by stop(): ends latency waits and hangs. */
  readonly #life = new AbortController();
  readonly #background = new Background();
  readonly #book = new GatewayBook();
  readonly #callbacks: CallbackSender;
  readonly #payments: PaymentsApi;
  readonly #stripe: StripeApi;
  readonly #stripeRoutes: readonly Route[];

  constructor(options: GatewaySimulatorOptions) {
    this.seed = options.seed ?? randomInt(2 ** 31);
    this.#configuredFaults = resolveFaults(
      defaultGatewayFaults,
      gatewayFaultPatchSchema,
      options.faults,
      {
        json: 'GATEWAY_FAULTS',
        file: 'GATEWAY_FAULTS_FILE',
      },
    );
    this.#faults = structuredClone(this.#configuredFaults);
    this.#draws = new FaultDraws(this.seed, () => this.#faults);
    this.#apiKeys.replace(options.apiKeys ?? defaultGatewayApiKeys);
    this.#webhookSecrets.replace(options.webhookSecrets ?? defaultWebhookSecrets);
    this.#callbacks = new CallbackSender({
      book: this.#book,
      draws: this.#draws,
      faults: () => this.#faults,
      secrets: this.#webhookSecrets,
      background: this.#background,
    });
    this.setCallbackUrl(options.callbackUrl);
    const work: GatewayWork = {
      book: this.#book,
      draws: this.#draws,
      faults: () => this.#faults,
      // A payment made through the Stripe API has its events in Stripe's shapes.
      announce: (events) =>
        this.#callbacks.announce(events.flatMap((event) => this.#stripe.render(event))),
      later: (ms, work) => this.#background.later(ms, work),
    };
    this.#payments = new PaymentsApi(work);
    this.#stripe = new StripeApi(work, this.#payments);
    // The key and secret management routes too, so a local rotation works whichever API is used.
    this.#stripeRoutes = [
      ...this.#stripe.routes(),
      ...credentialRoutes(this.#apiKeys, this.#webhookSecrets),
    ];
    this.#routes = [
      ...this.#payments.routes(),
      ...new RefundsApi(work).routes(),
      ...credentialRoutes(this.#apiKeys, this.#webhookSecrets),
    ];
  }

  // -- configuration -----------------------------------------------------------------------

  faults(): GatewayFaults {
    return structuredClone(this.#faults);
  }

  setFaults(patch: FaultPatch<GatewayFaults>): void {
    this.#faults = mergeFaults(this.#faults, checkFaultPatch(gatewayFaultPatchSchema, patch));
  }

  /** Queues the faults and says how many wait now. */
  scriptNext(faults: ScriptedGatewayFault[]): number {
    return this.#draws.scriptNext(parseScript(faults, scriptedGatewayFaultSchema));
  }

  spareCharges(orderIds: string[]): void {
    this.#draws.spare(orderIds);
  }

  setCallbackUrl(url: string | undefined): void {
    if (url !== undefined && !URL.canParse(url)) {
      throw new SimulatorError(400, 'invalid_request_error', `${url} is not a URL.`);
    }
    this.#callbacks.url = url;
  }

  setWebhookSecrets(secrets: string[]): void {
    this.#webhookSecrets.replace(secrets);
  }

  setApiKeys(keys: string[]): void {
    this.#apiKeys.replace(keys);
  }

  reset(): void {
    this.#background.restart();
    this.#book.clear();
    this.#apiKeys.forgetRetired();
    this.#webhookSecrets.forgetRetired();
    this.#draws.reset();
    this.#faults = structuredClone(this.#configuredFaults);
  }

  stop(): void {
    this.#life.abort();
    this.#background.stop();
  }

  ledger(): Ledger {
    const keys = this.#apiKeys.counts();
    return this.#book.ledger({ active: keys.active, revoked: keys.retired });
  }

  async settle(paymentId: string, status: 'SUCCESS' | 'FAILED'): Promise<void> {
    const payment = this.#book.payments.get(paymentId);
    if (payment === undefined) {
      throw new SimulatorError(404, 'not_found', `No payment ${paymentId}.`);
    }
    if (payment.status === status) return;
    if (payment.status !== 'PENDING') {
      throw new SimulatorError(409, 'invalid_state', `Payment ${paymentId} is ${payment.status}.`);
    }
    await this.#payments.settle(payment, status);
  }

  payment(id: string): GatewayPayment | undefined {
    return this.#book.payments.get(id);
  }

  inFlight(): number {
    return this.#background.inFlight;
  }

  // -- serving -----------------------------------------------------------------------------

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/admin/')) {
      await serveAdmin(req, res, (route, body) => answerAdmin(this, route, body));
      return;
    }
    await this.#serveApi(req, res, url, {
      routes: this.#routes,
      parse: (text) => (text === undefined ? undefined : parseJson(text)),
      unmatched: () => failure(404, 'not_found', `No route ${req.method} ${url.pathname}.`),
      unauthorized: () => failure(401, 'authentication_error', 'Send Authorization: Bearer <key>.'),
      orderKey: () => idempotencyKey(req),
    });
  }

  /** Stripe's API subset: form-encoded bodies, Stripe's errors, the same keys, ledger and faults. */
  async serveStripe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    await this.#serveApi(req, res, url, {
      routes: this.#stripeRoutes,
      parse: (text) =>
        req.headers['content-type']?.startsWith('application/json')
          ? text === undefined
            ? undefined
            : parseJson(text)
          : formParams(req.method === 'GET' ? url.search.slice(1) : text),
      unmatched: () =>
        failure(
          404,
          'invalid_request_error',
          `Unrecognized request URL (${req.method}: ${url.pathname}).`,
        ),
      unauthorized: () => failure(401, 'invalid_request_error', 'Invalid API Key provided.'),
      orderKey: stripeOrderKey,
      basicAuth: true,
    });
  }

  async #serveApi(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    face: {
      routes: readonly Route[];
      parse: (text: string | undefined) => unknown;
      unmatched: () => Answer;
      unauthorized: () => Answer;
      /** The order a request is for, from its parsed body or its headers. */
      orderKey: (body: unknown) => string | undefined;
      basicAuth?: boolean;
    },
  ): Promise<void> {
    const match = this.#match(face.routes, req.method ?? 'GET', url.pathname);
    this.#book.count(match?.route.name ?? 'unmatched');
    if (match === undefined) {
      this.#write(res, face.unmatched());
      return;
    }
    if (!this.#authorized(req, face.basicAuth === true)) {
      this.#write(res, face.unauthorized());
      return;
    }
    const body = face.parse(await readBody(req));
    const prepared = match.route.prepare({ req, url, pathId: match.pathId, body });
    if (typeof prepared !== 'function') {
      this.#write(res, prepared);
      return;
    }
    const decision = this.#draws.decide(match.route.kind, face.orderKey(body));
    if (!(await sleep(decision.latencyMs, this.#life.signal))) return;
    if (decision.transport) {
      this.#injectTransportFault(decision.transport, req, res);
      return;
    }
    this.#write(res, prepared(decision));
  }

  #match(
    routes: readonly Route[],
    method: string,
    path: string,
  ): { route: Route; pathId: string } | undefined {
    for (const route of routes) {
      const found = route.method === method ? route.pattern.exec(path) : null;
      if (found) return { route, pathId: decodeURIComponent(found[1] ?? '') };
    }
    return undefined;
  }

  /** `Bearer <key>`; Stripe's API also takes the key as HTTP Basic user name (`curl -u key:`). */
  #authorized(req: IncomingMessage, basicAuth: boolean): boolean {
    const header = req.headers.authorization ?? '';
    const key = header.startsWith('Bearer ')
      ? header.slice('Bearer '.length)
      : basicAuth && header.startsWith('Basic ')
        ? Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8').split(':')[0]
        : undefined;
    return key !== undefined && this.#apiKeys.activeBySecret(key) !== undefined;
  }

  #write(res: ServerResponse, answer: Answer): void {
    if (answer === 'hang') {
      hangUp(res, this.#faults.hangMs, this.#life.signal);
    } else {
      sendJson(res, answer.status, answer.body, answer.headers);
    }
  }

  #injectTransportFault(fault: TransportFault, req: IncomingMessage, res: ServerResponse): void {
    switch (fault.kind) {
      case 'hang':
        this.#write(res, 'hang');
        return;
      case 'reset':
        resetConnection(req);
        return;
      case 'error':
        this.#write(
          res,
          failure(fault.status, 'api_error', 'The gateway failed; nothing was done.'),
        );
        return;
      case 'throttle':
        sendJson(
          res,
          429,
          { error: { type: 'rate_limit_error', message: 'Too many requests; nothing was done.' } },
          { 'Retry-After': String(fault.retryAfterSeconds) },
        );
    }
  }
}
