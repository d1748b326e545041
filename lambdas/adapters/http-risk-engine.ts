import { createHash } from 'node:crypto';
import type { RiskAnswer, RiskEngine, RiskLevel, RiskRequest } from '#domain/payment-ports.ts';
import type { SecretSource } from './secret-source.ts';
import { type Tc3Credentials, tc3Authorization } from './tc3-signature.ts';

/** Tencent Cloud's risk engine (RCE): the action, its API version and its service name. */
export const rceAction = 'ManageMarketingRisk';
export const rceVersion = '2020-11-03';
export const rceService = 'rce';

export interface HttpRiskEngineOptions {
  /** `https://rce.tencentcloudapi.com` in the cloud; the simulator's URL locally. */
  readonly url: string;
  /** X-TC-Region, e.g. `ap-guangzhou`. */
  readonly region: string;
  /** The scene created in the RCE console that autopay's payments are judged under. */
  readonly sceneCode: string;
  readonly timeoutMs: number;
  /** A JSON secret `{"SecretId": "...", "SecretKey": "..."}` (a CAM API key pair). */
  readonly credentials: SecretSource;
  /** Unix seconds now; a test may fix it. */
  readonly nowSeconds?: () => number;
}

/** Error codes worth asking again for: the engine failed, throttled us, or did not answer. */
const retryableCodes = new Set([
  'InternalError',
  'InternalServerError',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'Timeout',
  'Unreachable',
  'MalformedResponse',
]);

/**
 * `Response.Data.Code` values (a business failure inside an HTTP 200): 6000 is the engine's
 * internal error and may pass; 1002 (a parameter), 4300 (service not activated) and 4301 (no
 * product created for the account) are refusals that no retry changes.
 */
const retryableDataCodes = new Set([6000]);

const levels: ReadonlySet<string> = new Set<RiskLevel>(['pass', 'review', 'reject']);

/**
 * `AccountType` 10004: a mainland phone number's MD5. autopay holds no phone number or OpenID of
 * an agent's user, so it sends the agent's id in `UserId` and the MD5 of that id as the account:
 * Tencent tags such an account with RiskType 3 (invalid account) and judges on the rest
 * (docs/GATEWAY.md, "Risk engine").
 */
const phoneMd5AccountType = 10004;

/**
 * The risk check as Tencent Cloud's RCE `ManageMarketingRisk` (API 3.0, version 2020-11-03),
 * signed with TC3-HMAC-SHA256. Errors come back under HTTP 200 as `Response.Error`, business
 * failures as a non-zero `Response.Data.Code`, the verdict as `Response.Data.Value.RiskLevel`.
 * An `AuthFailure.*` refreshes the credentials from Secrets Manager and asks once more: a key
 * replaced by an operator is picked up at once.
 */
export class HttpRiskEngine implements RiskEngine {
  private readonly host: string;

  constructor(private readonly options: HttpRiskEngineOptions) {
    this.host = new URL(options.url).hostname;
  }

  async assess(request: RiskRequest): Promise<RiskAnswer> {
    const answer = await this.call(request);
    if (answer.kind === 'error' && answer.code.startsWith('AuthFailure')) {
      await this.options.credentials.refresh();
      return this.call(request);
    }
    return answer;
  }

  private async call(request: RiskRequest): Promise<RiskAnswer> {
    let text: string;
    let status: number;
    try {
      const credentials = parseCredentials(await this.options.credentials.get());
      const timestamp = this.options.nowSeconds?.() ?? Math.floor(Date.now() / 1000);
      const payload = JSON.stringify(businessSecurityData(request, this.options.sceneCode));
      const contentType = 'application/json';
      const authorization = tc3Authorization(
        { service: rceService, host: this.host, contentType, payload, timestamp },
        credentials,
      );
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          authorization,
          'content-type': contentType,
          'x-tc-action': rceAction,
          'x-tc-version': rceVersion,
          'x-tc-timestamp': String(timestamp),
          'x-tc-region': this.options.region,
        },
        body: payload,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      const name = (error as { name?: string } | undefined)?.name;
      const code = name === 'TimeoutError' || name === 'AbortError' ? 'Timeout' : 'Unreachable';
      return { kind: 'error', code, retryable: true };
    }
    return interpret(status, text);
  }
}

/** The request body: `BusinessSecurityData`, with the order itself in `Details`. */
export function businessSecurityData(request: RiskRequest, sceneCode: string) {
  return {
    BusinessSecurityData: {
      Account: {
        AccountType: phoneMd5AccountType,
        OtherAccount: { AccountId: md5Hex(request.agentId) },
      },
      SceneCode: sceneCode,
      // Required by Tencent; an order placed before intake recorded addresses has none.
      UserIp: request.clientIp ?? '0.0.0.0',
      PostTime: Math.floor(Date.parse(request.placedAt) / 1000),
      UserId: request.agentId,
      Details: [
        { FieldName: 'orderId', FieldValue: request.orderId },
        { FieldName: 'amount', FieldValue: String(request.amount) },
        { FieldName: 'currency', FieldValue: request.currency },
        { FieldName: 'paymentMethod', FieldValue: request.paymentMethod },
      ],
    },
  };
}

function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

function parseCredentials(secret: string): Tc3Credentials {
  const parsed = JSON.parse(secret) as { SecretId?: unknown; SecretKey?: unknown };
  if (typeof parsed.SecretId !== 'string' || typeof parsed.SecretKey !== 'string') {
    throw new Error('The risk engine secret needs SecretId and SecretKey');
  }
  return { secretId: parsed.SecretId, secretKey: parsed.SecretKey };
}

interface TencentResponse {
  readonly RequestId?: unknown;
  readonly Error?: { readonly Code?: unknown; readonly Message?: unknown };
  readonly Data?: {
    readonly Code?: unknown;
    readonly Message?: unknown;
    readonly Value?: { readonly RiskLevel?: unknown } | null;
  };
}

function interpret(status: number, text: string): RiskAnswer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    const code = status >= 500 ? `HttpStatus${status}` : 'MalformedResponse';
    return { kind: 'error', code, retryable: true };
  }
  const response = (body as { Response?: TencentResponse } | undefined)?.Response;
  const requestId = typeof response?.RequestId === 'string' ? response.RequestId : undefined;
  if (response?.Error !== undefined) {
    const code = typeof response.Error.Code === 'string' ? response.Error.Code : 'UnknownError';
    return { kind: 'error', code, requestId, retryable: retryableCodes.has(code) };
  }
  const data = response?.Data;
  if (typeof data?.Code === 'number' && data.Code !== 0) {
    return {
      kind: 'error',
      code: `DataCode${data.Code}`,
      requestId,
      retryable: retryableDataCodes.has(data.Code),
    };
  }
  const level = data?.Value?.RiskLevel;
  if (data?.Code === 0 && typeof level === 'string' && levels.has(level) && requestId) {
    return { kind: 'assessed', level: level as RiskLevel, requestId };
  }
  return { kind: 'error', code: 'MalformedResponse', requestId, retryable: true };
}
