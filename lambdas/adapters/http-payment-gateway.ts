import type {
  ChargeRequest,
  GatewayOutcome,
  PaymentGateway,
  PaymentLookup,
  RefundOutcome,
  RefundRequest,
  SettledOutcome,
  TransientOutcome,
  VoidOutcome,
} from '#domain/payment-ports.ts';
import type { SecretSource } from './secret-source.ts';

export interface HttpPaymentGatewayOptions {
  readonly name: string;
  readonly baseUrl: string;
  /** Hard ceiling on one call; past it the outcome of a charge is unknown. */
  readonly timeoutMs: number;
  readonly apiKey: SecretSource;
}

type Exchange =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: Headers;
      readonly body: unknown;
    }
  | TransientOutcome;

/** Errors that mean the connection never opened, so the request cannot have been seen. */
const neverConnected = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The generic JSON payment gateway (docs/GATEWAY.md) over HTTP. Every answer is classified here
 * and nowhere else; nothing is retried beyond one quick retry of a connection that never opened.
 */
export class HttpPaymentGateway implements PaymentGateway {
  readonly name: string;

  constructor(private readonly options: HttpPaymentGatewayOptions) {
    this.name = options.name;
  }

  async charge(request: ChargeRequest): Promise<GatewayOutcome> {
    const exchange = await this.exchange('POST', '/v1/payments', request.idempotencyKey, {
      amount: request.amount,
      currency: request.currency,
      paymentMethod: request.paymentMethod,
      reference: request.idempotencyKey,
    });
    if (exchange.kind !== 'response') return exchange;
    return classifyPayment(exchange.status, exchange.headers, exchange.body);
  }

  async findByIdempotencyKey(idempotencyKey: string): Promise<PaymentLookup> {
    const query = new URLSearchParams({ idempotencyKey }).toString();
    const exchange = await this.exchange('GET', `/v1/payments?${query}`);
    if (exchange.kind !== 'response') return exchange;
    if (exchange.status !== 200) {
      const outcome = classifyPayment(exchange.status, exchange.headers, exchange.body);
      return isTransient(outcome)
        ? outcome
        : { kind: 'unavailable', detail: `lookup ${exchange.status}` };
    }
    const data = (exchange.body as { data?: unknown[] } | undefined)?.data;
    if (!Array.isArray(data)) return { kind: 'unavailable', detail: 'malformed lookup answer' };
    const [payment] = data;
    if (payment === undefined) return { kind: 'not-found' };
    const outcome = classifyPayment(200, exchange.headers, payment);
    if (isTransient(outcome)) return outcome;
    const { amountRefunded } = payment as { amountRefunded?: unknown };
    return typeof amountRefunded === 'number'
      ? { kind: 'found', outcome, amountRefunded }
      : { kind: 'found', outcome };
  }

  async void(paymentId: string): Promise<VoidOutcome> {
    const path = `/v1/payments/${encodeURIComponent(paymentId)}`;
    const exchange = await this.exchange('POST', `${path}/void`);
    if (exchange.kind !== 'response') return exchange;
    if (exchange.status === 409) {
      // Settled before the void: ask what it settled as.
      const current = await this.exchange('GET', path);
      if (current.kind !== 'response') return current;
      return voidOutcomeOf(current.status, current.headers, current.body, 'after a refused void');
    }
    return voidOutcomeOf(exchange.status, exchange.headers, exchange.body, 'void');
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    const exchange = await this.exchange('POST', '/v1/refunds', request.idempotencyKey, {
      paymentId: request.paymentId,
      amount: request.amount,
    });
    if (exchange.kind !== 'response') return exchange;
    const body = exchange.body as {
      id?: unknown;
      status?: unknown;
      failureReason?: unknown;
      error?: { type?: string };
    };
    if (exchange.status === 200 && typeof body?.id === 'string' && body.status === 'SUCCEEDED') {
      return { kind: 'refunded', refundId: body.id };
    }
    if (exchange.status === 200 && typeof body?.id === 'string' && body.status === 'FAILED') {
      // A replay of a refund that succeeded and failed since: the money is back with us.
      const reason = typeof body.failureReason === 'string' ? body.failureReason : 'unknown';
      return { kind: 'failed', refundId: body.id, reason };
    }
    if (exchange.status === 409 && body?.error?.type === 'invalid_state') {
      // The payment cannot be refunded (not captured, or nothing left of it): no retry will.
      return { kind: 'rejected', reason: 'invalid_state' };
    }
    const outcome = classifyPayment(exchange.status, exchange.headers, exchange.body);
    if (isTransient(outcome)) return outcome;
    // Any other answer (a 404 or 400 from a proxy during a deploy, say) is not the gateway
    // refusing: read as a refusal it would end the refund; it is retried within the budgets.
    return {
      kind: 'unavailable',
      detail: `refund ${exchange.status} ${body?.error?.type ?? ''}`.trim(),
    };
  }

  refreshCredentials(): Promise<void> {
    return this.options.apiKey.refresh();
  }

  private async exchange(
    method: 'GET' | 'POST',
    path: string,
    idempotencyKey?: string,
    body?: unknown,
  ): Promise<Exchange> {
    const apiKey = await this.options.apiKey.get();
    const attempt = () =>
      fetch(new URL(path, this.options.baseUrl), {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          accept: 'application/json',
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    let response: Response;
    try {
      response = await attempt().catch(async (error: unknown) => {
        if (!neverConnected.has(causeCode(error))) throw error;
        return attempt();
      });
    } catch (error) {
      return classifyFailure(error, method);
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { kind: 'response', status: response.status, headers: response.headers, body: parsed };
  }
}

/**
 * Only a payment the gateway shows as VOIDED was voided. A payment that settled either way is
 * `settled`; anything else (a 404, a 4xx we did not expect, an unreadable answer) is unknown
 * and retried, since failing the order on it could leave money taken with nobody watching.
 */
function voidOutcomeOf(status: number, headers: Headers, body: unknown, what: string): VoidOutcome {
  const outcome = classifyPayment(status, headers, body);
  if (isTransient(outcome)) return outcome;
  if (status !== 200) return { kind: 'unknown', detail: `${what} answered ${status}` };
  const paymentStatus = (body as { status?: unknown } | undefined)?.status;
  if (paymentStatus === 'VOIDED') return { kind: 'voided' };
  if (outcome.kind === 'succeeded' || outcome.kind === 'declined') {
    return { kind: 'settled', outcome };
  }
  return { kind: 'unknown', detail: `${what}: payment still ${String(paymentStatus)}` };
}

function isTransient(outcome: GatewayOutcome): outcome is TransientOutcome {
  return (
    outcome.kind === 'unauthorized' ||
    outcome.kind === 'throttled' ||
    outcome.kind === 'unavailable' ||
    outcome.kind === 'unknown' ||
    outcome.kind === 'misconfigured'
  );
}

function causeCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : '';
}

function classifyFailure(error: unknown, method: string): TransientOutcome {
  const name = (error as { name?: string } | undefined)?.name ?? '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    // A POST that timed out may have charged; a GET has no effect either way.
    return method === 'POST'
      ? { kind: 'unknown', detail: 'timed out' }
      : { kind: 'unavailable', detail: 'lookup timed out' };
  }
  return { kind: 'unavailable', detail: causeCode(error) || name || 'network error' };
}

function retryAfterSeconds(headers: Headers): number {
  const value = headers.get('retry-after');
  if (value === null) return 1;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? 1 : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function classifyPayment(
  status: number,
  headers: Headers,
  body: unknown,
): SettledOutcome | TransientOutcome {
  if (status === 401 || status === 403) return { kind: 'unauthorized' };
  if (status === 429) return { kind: 'throttled', retryAfterSeconds: retryAfterSeconds(headers) };
  if (status >= 500 || status === 409 || status === 408) {
    return { kind: 'unavailable', detail: `http ${status}` };
  }
  if (status >= 400) {
    const type = (body as { error?: { type?: string } } | undefined)?.error?.type ?? 'rejected';
    return { kind: 'declined', declineCode: `gateway_${type}` };
  }
  const payment = body as { id?: unknown; status?: unknown; declineCode?: unknown } | undefined;
  const paymentId = typeof payment?.id === 'string' ? payment.id : undefined;
  if (paymentId === undefined) {
    // A 2xx we cannot read says nothing certain about the money.
    return { kind: 'unknown', detail: 'malformed payment answer' };
  }
  switch (payment?.status) {
    case 'SUCCESS':
      return { kind: 'succeeded', paymentId };
    case 'PENDING':
      return { kind: 'pending', paymentId };
    case 'FAILED':
    case 'VOIDED':
      return {
        kind: 'declined',
        paymentId,
        declineCode:
          typeof payment.declineCode === 'string'
            ? payment.declineCode
            : String(payment.status).toLowerCase(),
      };
    default:
      return { kind: 'unknown', detail: `unknown payment status ${String(payment?.status)}` };
  }
}
