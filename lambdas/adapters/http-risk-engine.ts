import type { RiskAnswer, RiskEngine, RiskLevel, RiskRequest } from '#domain/payment-ports.ts';

export interface HttpRiskEngineOptions {
  readonly url: string;
  readonly timeoutMs: number;
}

/** Error codes worth asking again for; anything else will not change by retrying. */
const retryableCodes = new Set([
  'InternalServerError',
  'InternalError',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'Timeout',
  'Unreachable',
  'MalformedResponse',
]);

const levels: ReadonlySet<string> = new Set<RiskLevel>(['pass', 'review', 'reject']);

/**
 * A risk engine that speaks the Tencent Cloud API style: an `X-TC-Action` header and answers
 * wrapped in `Response`, with errors as `Response.Error` (often under HTTP 200).
 */
export class HttpRiskEngine implements RiskEngine {
  constructor(private readonly options: HttpRiskEngineOptions) {}

  async assess(request: RiskRequest): Promise<RiskAnswer> {
    let text: string;
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tc-action': 'AssessPaymentRisk' },
        body: JSON.stringify({
          OrderId: request.orderId,
          AgentId: request.agentId,
          Amount: request.amount,
          Currency: request.currency,
          PaymentMethod: request.paymentMethod,
        }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const name = (error as { name?: string } | undefined)?.name;
      const code = name === 'TimeoutError' || name === 'AbortError' ? 'Timeout' : 'Unreachable';
      return { kind: 'error', code, retryable: true };
    }
    return interpret(text);
  }
}

function interpret(text: string): RiskAnswer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'error', code: 'MalformedResponse', retryable: true };
  }
  const response = (body as { Response?: Record<string, unknown> } | undefined)?.Response;
  const requestId = typeof response?.RequestId === 'string' ? response.RequestId : undefined;
  const error = response?.Error as { Code?: unknown } | undefined;
  if (error !== undefined) {
    const code = typeof error.Code === 'string' ? error.Code : 'UnknownError';
    return { kind: 'error', code, requestId, retryable: retryableCodes.has(code) };
  }
  const level = response?.RiskLevel;
  if (typeof level === 'string' && levels.has(level) && requestId !== undefined) {
    return { kind: 'assessed', level: level as RiskLevel, requestId };
  }
  return { kind: 'error', code: 'MalformedResponse', requestId, retryable: true };
}
