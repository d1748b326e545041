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
 *   caller gives one, so a retry of the same order replays it, even from another process.
 */
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

/**
 * Routes the API serves or is about to serve that docs/openapi.json does not describe yet,
 * written from their documented shape; each entry goes once `npm run client:types` brings it.
 */
interface PendingRoutes {
  '/v1/orders': {
    get: {
      parameters: {
        query?: { status?: OrderStatus; limit?: number; cursor?: string };
      };
      responses: {
        200: { content: { 'application/json': OrderPage } };
      };
    };
  };
}

/** One page of the caller's orders, newest first; `nextCursor` is absent on the last page. */
export interface OrderPage {
  readonly orders: Order[];
  readonly nextCursor?: string;
}

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
    this.http = createClient<paths & PendingRoutes>({
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

  async listOrders(query: { status?: OrderStatus; limit?: number; cursor?: string } = {}) {
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
      if (response.ok && data !== undefined) return { data, response };
      const refusal = AutopayApiError.fromAnswer(response, error);
      if (!retryable.has(response.status) || attempt >= this.maxRetries) throw refusal;
      const waitMs = (refusal.retryAfterSeconds ?? 2 ** attempt) * 1000;
      await this.sleep(Math.min(this.maxRetryDelayMs, waitMs));
    }
  }
}

const isReplay = (response: Response) => response.headers.get('idempotent-replayed') === 'true';
