/**
 * A typed client for autopay's HTTP API, for agents and for the user's own app. Its types are
 * generated from docs/openapi.json (client/api-types.ts, `npm run client:types`); openapi-fetch
 * builds the requests from them, so a route added to the document is one short method here.
 *
 * What it does for its caller:
 * - every refusal is thrown as an `AutopayApiError` carrying the API's stable code (answers made
 *   by API Gateway itself, which carry no code, get one by their status: `UNAUTHENTICATED`,
 *   `FORBIDDEN`, `RATE_LIMITED`, `PAYLOAD_TOO_LARGE`, `INTERNAL_ERROR`);
 * - a 429 or 503 is retried after its `Retry-After` (bounded), and a request that got no answer
 *   at all is retried too: every call is safe to repeat (reads, idempotent writes);
 * - the Idempotency-Key of an order is derived from its intent (client/intent.ts) unless the
 *   caller gives one, so a retry of the same order replays it, even from another process;
 *   an agent or a webhook endpoint the user's app creates gets a fresh key per call, which that
 *   call's own retries reuse (give one to replay across processes).
 */
import { randomUUID } from 'node:crypto';
import createClient from 'openapi-fetch';
import type { components, paths } from './api-types.ts';
import {
  type CreateOrderRequest,
  canonicalOrder,
  type IntentOptions,
  intentKey,
} from './intent.ts';

export type { CreateOrderRequest } from './intent.ts';
export type Order = components['schemas']['Order'];
export type OrderStatus = Order['status'];
export type RefundRequest = components['schemas']['RefundRequest'];
type ErrorBody = components['schemas']['Error']['error'];

/** One page of orders, newest first; pass `cursor` back for the next page (absent on the last). */
export type OrderPage = components['schemas']['OrderList'];
export type OrderQuery = NonNullable<paths['/v1/orders']['get']['parameters']['query']>;
export type Agent = components['schemas']['Agent'];
/** An agent as first created: with its OAuth client's credentials, when the API made one. */
export type CreatedAgent = components['schemas']['CreatedAgent'];
export type CreateAgentRequest = components['schemas']['CreateAgentRequest'];
export type PatchAgentRequest = components['schemas']['PatchAgentRequest'];
export type AgentPage = components['schemas']['AgentList'];
export type WebhookEndpoint = components['schemas']['WebhookEndpoint'];
export type CreatedWebhookEndpoint = components['schemas']['CreatedWebhookEndpoint'];
export type CreateWebhookEndpointRequest = components['schemas']['CreateWebhookEndpointRequest'];

/** The API's stable codes, and the ones this client gives to answers that carry none. */
export type ApiErrorCode =
  | ErrorBody['code']
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'NETWORK_ERROR'
  | (string & {});

const codeByStatus: Readonly<Record<number, ApiErrorCode>> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

export class AutopayApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly requestId: string | undefined;
  readonly field: string | undefined;
  readonly currentStatus: OrderStatus | undefined;
  /** Seconds the API asked to wait (`Retry-After`), when it did. */
  readonly retryAfterSeconds: number | undefined;
  /** The API's whole error object, for fields this class does not name. */
  readonly body: Readonly<Record<string, unknown>>;

  constructor(
    status: number,
    code: ApiErrorCode,
    message: string,
    body: Record<string, unknown> = {},
    retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AutopayApiError';
    this.status = status;
    this.code = code;
    this.body = body;
    this.requestId = typeof body.requestId === 'string' ? body.requestId : undefined;
    this.field = typeof body.field === 'string' ? body.field : undefined;
    this.currentStatus =
      typeof body.currentStatus === 'string' ? (body.currentStatus as OrderStatus) : undefined;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  static fromAnswer(response: Response, answer: unknown): AutopayApiError {
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    const error = (answer as { error?: Partial<ErrorBody> } | undefined)?.error;
    if (error?.code !== undefined) {
      return new AutopayApiError(
        response.status,
        error.code,
        error.message ?? error.code,
        error as Record<string, unknown>,
        retryAfter,
      );
    }
    const code =
      codeByStatus[response.status] ?? (response.status >= 500 ? 'INTERNAL_ERROR' : 'HTTP_ERROR');
    const message = (answer as { message?: unknown } | undefined)?.message;
    return new AutopayApiError(
      response.status,
      code,
      typeof message === 'string' ? message : `HTTP ${response.status}`,
      {},
      retryAfter,
    );
  }
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date. */
function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export interface AutopayClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:3000 or the HTTP API's stage URL. */
  readonly baseUrl: string;
  /** The bearer token: an agent's, or the user's app's. */
  readonly token: string;
  /** Retries of a 429, a 503 or a request that got no answer (default 2). */
  readonly maxRetries?: number;
  /** The longest wait before a retry, whatever `Retry-After` says (default 10 s). */
  readonly maxRetryDelayMs?: number;
  readonly fetch?: (request: Request) => Promise<Response>;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface PlaceOptions extends IntentOptions {
  /** A key of the caller's own; by default the key is derived from the order's intent. */
  readonly idempotencyKey?: string;
}

export interface Placed {
  readonly order: Order;
  /** True when the API answered with the order an earlier call placed (nothing new placed). */
  readonly replayed: boolean;
  readonly idempotencyKey: string;
}

export interface Moved {
  readonly order: Order;
  readonly replayed: boolean;
}

interface Answer<T> {
  readonly data?: T;
  readonly error?: unknown;
  readonly response: Response;
}

const retryable = new Set([429, 503]);

export class AutopayClient {
  private readonly http;
  private readonly maxRetries: number;
  private readonly maxRetryDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: AutopayClientOptions) {
    this.http = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      headers: { authorization: `Bearer ${options.token}` },
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.maxRetries = options.maxRetries ?? 2;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Places the order in its canonical form (client/intent.ts) under its intent's key. */
  async placeOrder(order: CreateOrderRequest, options: PlaceOptions = {}): Promise<Placed> {
    const body = canonicalOrder(order);
    const idempotencyKey = options.idempotencyKey ?? intentKey(body, options);
    const { data, response } = await this.send(() =>
      this.http.POST('/v1/orders', {
        params: { header: { 'Idempotency-Key': idempotencyKey } },
        body,
      }),
    );
    return { order: data, replayed: isReplay(response), idempotencyKey };
  }

  async getOrder(orderId: string): Promise<Order> {
    const { data } = await this.send(() =>
      this.http.GET('/v1/orders/{id}', { params: { path: { id: orderId } } }),
    );
    return data;
  }

  /** An agent's own orders; with a user's token, those of the user's agents (or of `agentId`). */
  async listOrders(query: OrderQuery = {}): Promise<OrderPage> {
    const { data } = await this.send(() => this.http.GET('/v1/orders', { params: { query } }));
    return data;
  }

  async confirmOrder(orderId: string): Promise<Moved> {
    const { data, response } = await this.send(() =>
      this.http.POST('/v1/orders/{id}/confirm', { params: { path: { id: orderId } } }),
    );
    return { order: data, replayed: isReplay(response) };
  }

  async cancelOrder(orderId: string): Promise<Moved> {
    const { data, response } = await this.send(() =>
      this.http.POST('/v1/orders/{id}/cancel', { params: { path: { id: orderId } } }),
    );
    return { order: data, replayed: isReplay(response) };
  }

  /** One refund per order, so the default key is the order's: asking again replays. */
  async refundOrder(
    orderId: string,
    body: RefundRequest = {},
    idempotencyKey = `refund_${orderId}`,
  ): Promise<Moved> {
    const { data, response } = await this.send(() =>
      this.http.POST('/v1/orders/{id}/refund', {
        params: { path: { id: orderId }, header: { 'Idempotency-Key': idempotencyKey } },
        body,
      }),
    );
    return { order: data, replayed: isReplay(response) };
  }

  // The user's app: its agents and its webhook endpoints (a user's token, not an agent's).

  /**
   * Creates an agent under a key of the caller's, or under a fresh one that this call's own
   * retries reuse; `created` is false when the key had created it before (no credentials then).
   */
  async createAgent(
    agent: CreateAgentRequest,
    idempotencyKey: string = randomUUID(),
  ): Promise<{ agent: CreatedAgent | Agent; created: boolean; idempotencyKey: string }> {
    const { data, response } = await this.send(() =>
      this.http.POST('/v1/agents', {
        params: { header: { 'Idempotency-Key': idempotencyKey } },
        body: agent,
      }),
    );
    return { agent: data, created: !isReplay(response), idempotencyKey };
  }

  async listAgents(query: { limit?: number; cursor?: string } = {}): Promise<AgentPage> {
    const { data } = await this.send(() => this.http.GET('/v1/agents', { params: { query } }));
    return data;
  }

  async getAgent(agentId: string): Promise<Agent> {
    const { data } = await this.send(() =>
      this.http.GET('/v1/agents/{agentId}', { params: { path: { agentId } } }),
    );
    return data;
  }

  async updateAgent(agentId: string, changes: PatchAgentRequest): Promise<Agent> {
    const { data } = await this.send(() =>
      this.http.PATCH('/v1/agents/{agentId}', { params: { path: { agentId } }, body: changes }),
    );
    return data;
  }

  /** Refuses the agent's new orders and holds its unsent ones; safe to repeat. */
  async suspendAgent(agentId: string): Promise<Agent> {
    const { data } = await this.send(() =>
      this.http.POST('/v1/agents/{agentId}/suspend', { params: { path: { agentId } } }),
    );
    return data;
  }

  async resumeAgent(agentId: string): Promise<Agent> {
    const { data } = await this.send(() =>
      this.http.POST('/v1/agents/{agentId}/resume', { params: { path: { agentId } } }),
    );
    return data;
  }

  /** Registers an endpoint; its answer (and a replay of its key) carries the signing secret. */
  async createWebhookEndpoint(
    endpoint: CreateWebhookEndpointRequest,
    idempotencyKey: string = randomUUID(),
  ): Promise<{ endpoint: CreatedWebhookEndpoint; created: boolean; idempotencyKey: string }> {
    const { data, response } = await this.send(() =>
      this.http.POST('/v1/webhook-endpoints', {
        params: { header: { 'Idempotency-Key': idempotencyKey } },
        body: endpoint,
      }),
    );
    return { endpoint: data, created: !isReplay(response), idempotencyKey };
  }

  async listWebhookEndpoints(): Promise<WebhookEndpoint[]> {
    const { data } = await this.send(() => this.http.GET('/v1/webhook-endpoints'));
    return data.data;
  }

  /** Stops every delivery to the endpoint; one deleted already is WEBHOOK_ENDPOINT_NOT_FOUND. */
  async deleteWebhookEndpoint(id: string): Promise<void> {
    await this.send(() =>
      this.http.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id } } }),
    );
  }

  /** Runs one request, retrying what may be retried, and throws the API's refusal. */
  private async send<T>(
    request: () => Promise<Answer<T>>,
  ): Promise<{ data: T; response: Response }> {
    for (let attempt = 0; ; attempt++) {
      let answer: Answer<T>;
      try {
        answer = await request();
      } catch (cause) {
        if (attempt < this.maxRetries) {
          await this.sleep(Math.min(this.maxRetryDelayMs, 250 * 2 ** attempt));
          continue;
        }
        throw Object.assign(
          new AutopayApiError(0, 'NETWORK_ERROR', `no answer from the API: ${String(cause)}`),
          { cause },
        );
      }
      const { data, error, response } = answer;
      if (response.ok && (data !== undefined || response.status === 204)) {
        return { data: data as T, response };
      }
      const refusal = AutopayApiError.fromAnswer(response, error);
      if (!retryable.has(response.status) || attempt >= this.maxRetries) throw refusal;
      const waitMs = (refusal.retryAfterSeconds ?? 2 ** attempt) * 1000;
      await this.sleep(Math.min(this.maxRetryDelayMs, waitMs));
    }
  }
}

const isReplay = (response: Response) => response.headers.get('idempotent-replayed') === 'true';
