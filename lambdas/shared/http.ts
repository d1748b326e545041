import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import {
  AutopayError,
  type ErrorCode,
  errorCatalogue,
  RateLimitedError,
  ValidationError,
} from '#domain/errors.ts';
import { agentPrincipal, type Principal, userPrincipal } from '#domain/principal.ts';
import { MAX_BODY_BYTES } from '#domain/schemas.ts';
import { metricNames } from './metric-names.ts';
import { logger, metrics, tracer } from './observability.ts';
import { type FunctionUrlSpec, pathPattern } from './paths.ts';
import { AGENT_SCOPE, USER_SCOPE } from './scopes.ts';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
/**
 * What Lambda hands a function from its function URL: payload 2.0 without API Gateway's parts
 * (`routeKey` and `stage` are `$default`, no `pathParameters`, no authorizer); the request's
 * path is `rawPath` and its method `requestContext.http.method`.
 */
export type FunctionUrlEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

const jsonHeaders = { 'content-type': 'application/json' };

export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResult {
  return { statusCode, headers: { ...jsonHeaders, ...headers }, body: JSON.stringify(body) };
}

/**
 * The token's claims as the authorizer handed them over: the JWT authorizer's `jwt.claims`, or
 * the context of the Lambda authorizer that stands in for it with the stack's Cognito user pool.
 */
function claimsOf(event: HttpEvent): Record<string, unknown> {
  const authorizer = event.requestContext.authorizer as
    | { jwt?: { claims?: Record<string, unknown> }; lambda?: Record<string, unknown> }
    | undefined;
  return authorizer?.jwt?.claims ?? authorizer?.lambda ?? {};
}

/** The token's `sub`, as the authorizer handed it over. */
export function callerOf(event: HttpEvent): string {
  const subject = claimsOf(event).sub;
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new AutopayError('UNAUTHENTICATED');
  }
  return subject;
}

/**
 * The claim that carries a user's id: `sub` by default (Cognito, and most OIDC providers);
 * `USER_ID_CLAIM` names another for a provider whose `sub` is not the stable user id.
 */
const userIdClaim = process.env.USER_ID_CLAIM || 'sub';

/** The scopes a token grants, as API Gateway reads them: `scope` (space-separated) or `scp`. */
export function scopesOf(event: HttpEvent): ReadonlySet<string> {
  const claims = claimsOf(event);
  const listed = event.requestContext.authorizer?.jwt?.scopes ?? [];
  const fromScope = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  // A list claim reaches the function as its text, `[a b]`.
  const fromScp =
    typeof claims.scp === 'string' ? claims.scp.replace(/^\[|\]$/g, '').split(' ') : [];
  return new Set([...listed, ...fromScope, ...fromScp].filter(Boolean));
}

/**
 * Who the JWT authorizer admitted: a user when the token holds the user scope (the user's id from
 * the configured claim), an agent when it holds the agent scope (its id is the token's `sub`, the
 * client id of its client-credentials grant). A token holding both, or neither, is refused.
 */
export function principalOf(event: HttpEvent): Principal {
  const scopes = scopesOf(event);
  const isUser = scopes.has(USER_SCOPE);
  const isAgent = scopes.has(AGENT_SCOPE);
  if (isUser === isAgent) {
    throw new AutopayError('FORBIDDEN', "A token must be either an agent's or a user's.");
  }
  if (isAgent) {
    return agentPrincipal(callerOf(event));
  }
  const userId = claimsOf(event)[userIdClaim];
  if (typeof userId !== 'string' || userId.length === 0) {
    throw new AutopayError('UNAUTHENTICATED');
  }
  return userPrincipal(userId);
}

/** The user behind a user route; an agent's token is refused (the route's scopes already do). */
export function userOf(event: HttpEvent): string {
  const principal = principalOf(event);
  if (principal.kind !== 'user') {
    throw new AutopayError('FORBIDDEN');
  }
  return principal.userId;
}

/**
 * The path parameters of a function URL request for the one operation its function serves, or
 * 404 ROUTE_NOT_FOUND for any other path or method: Lambda hands the function every request sent
 * to its URL, where API Gateway would have answered 404 itself.
 */
export function functionUrlParameters(
  event: FunctionUrlEvent,
  served: Pick<FunctionUrlSpec, 'method' | 'path'>,
): Record<string, string> {
  const { pattern, names } = pathPattern(served.path);
  const found = pattern.exec(event.rawPath);
  if (found === null || event.requestContext.http.method !== served.method) {
    throw new AutopayError('ROUTE_NOT_FOUND');
  }
  try {
    return Object.fromEntries(
      names.map((name, at) => [name, decodeURIComponent(found[at + 1] ?? '')]),
    );
  } catch {
    // A malformed percent-encoding names no parameter value.
    throw new AutopayError('ROUTE_NOT_FOUND');
  }
}

/** The body's exact bytes, as a signature covers them; oversized bodies are refused. */
export function rawBody(event: FunctionUrlEvent): Buffer {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.byteLength > MAX_BODY_BYTES) {
    throw new ValidationError(
      'PAYLOAD_TOO_LARGE',
      `The body is ${bytes.byteLength} bytes; at most ${MAX_BODY_BYTES} are accepted.`,
    );
  }
  return bytes;
}

/**
 * Bytes as JSON, or MALFORMED_JSON. An empty body is malformed unless `whenEmpty` says what it
 * stands for (a route whose body is optional).
 */
export function parseJson(bytes: Buffer, whenEmpty?: { readonly value: unknown }): unknown {
  if (bytes.byteLength === 0) {
    if (whenEmpty) return whenEmpty.value;
    throw new ValidationError('MALFORMED_JSON', 'The request body is empty.');
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ValidationError('MALFORMED_JSON');
  }
}

/** The body as JSON: oversized or malformed bodies are refused before anything else looks. */
export function jsonBody(event: HttpEvent, whenEmpty?: { readonly value: unknown }): unknown {
  return parseJson(rawBody(event), whenEmpty);
}

/** SDK errors that mean "try again", so the caller gets 503 rather than 500. */
function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) {
    return false;
  }
  const candidate = error as { $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = candidate.$metadata?.httpStatusCode ?? 0;
  return candidate.$retryable !== undefined || status === 429 || status >= 500;
}

function errorBody(code: ErrorCode, message: string, requestId: string, details?: object) {
  return { error: { code, message, requestId, ...details } };
}

/**
 * The one place errors become HTTP answers. Our own 4xx errors carry their code, message and
 * details; anything else is logged in full and answered without a word of its internals.
 */
export function httpErrors<E extends FunctionUrlEvent = HttpEvent>(): MiddlewareObj<E, HttpResult> {
  return {
    onError: async (request) => {
      const error = request.error;
      const requestId = request.event.requestContext?.requestId ?? 'unknown';
      if (error instanceof AutopayError && error.exposable) {
        logger.info('Request refused', { code: error.code, status: error.status });
        metrics.addMetric(metricNames.requestRefused, MetricUnit.Count, 1);
        if (error instanceof RateLimitedError) {
          metrics.addMetric(metricNames.orderRateLimited, MetricUnit.Count, 1);
        }
        request.response = json(
          error.status,
          errorBody(error.code, error.message, requestId, error.details),
          error instanceof RateLimitedError
            ? { 'retry-after': String(error.retryAfterSeconds) }
            : {},
        );
        return;
      }
      const code: ErrorCode =
        error instanceof AutopayError
          ? error.code
          : isTransient(error)
            ? 'SERVICE_UNAVAILABLE'
            : 'INTERNAL_ERROR';
      logger.error('Request failed', { code, error: error as Error });
      metrics.addMetric(metricNames.requestFailed, MetricUnit.Count, 1);
      const retryAfter: Record<string, string> =
        code === 'SERVICE_UNAVAILABLE' ? { 'retry-after': '1' } : {};
      request.response = json(
        errorCatalogue[code].status,
        errorBody(code, errorCatalogue[code].message, requestId),
        retryAfter,
      );
    },
  };
}

/** Puts the API request id on every log line of the invocation. */
function requestIdInLogs<E extends FunctionUrlEvent>(): MiddlewareObj<E, HttpResult> {
  return {
    before: async (request) => {
      logger.appendKeys({ requestId: request.event.requestContext?.requestId });
    },
  };
}

export type HttpRoute<E extends FunctionUrlEvent = HttpEvent> = (
  event: E,
  context: Context,
) => Promise<HttpResult>;

/**
 * The middy chain every HTTP function shares: tracing, logging, metrics, then error mapping; for
 * the HTTP API's events, or a function URL's.
 */
export function httpHandler<E extends FunctionUrlEvent = HttpEvent>(route: HttpRoute<E>) {
  return middy<E, HttpResult>(route)
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(requestIdInLogs<E>())
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(httpErrors<E>());
}
