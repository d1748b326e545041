import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyResultV2,
} from 'aws-lambda';
import { pathPattern, type RouteSpec } from '#shared/wiring.ts';
import { verifyLocalToken } from './auth.ts';
import { type LambdaHandler, lambdaContext } from './lambda-context.ts';

/** API Gateway's own limit on a request body (HTTP API: 10 MB); functions set tighter ones. */
const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface LocalRoute extends RouteSpec {
  readonly functionName: string;
  readonly timeoutSeconds: number;
  readonly handler: LambdaHandler<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyResultV2>;
}

/** Lambda's limit on a synchronous invocation's payload (6 MB), which a function URL applies. */
const FUNCTION_URL_MAX_BODY_BYTES = 6 * 1024 * 1024;

/**
 * A function served at its own function URL in AWS. Locally it shares the API's port: every
 * request under its path's fixed part (`/v1/callbacks/...`, any method) goes to it, as every
 * request to its URL does in AWS, and the function answers the ones it does not serve.
 */
export interface LocalFunctionUrl {
  readonly path: string;
  readonly functionName: string;
  readonly timeoutSeconds: number;
  readonly handler: LambdaHandler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>;
}

/** Extra paths the local API serves itself, such as the OpenAPI document. */
export type StaticResponder = (path: string) => { type: string; body: string } | undefined;

interface CompiledRoute {
  readonly route: LocalRoute;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

function compile(route: LocalRoute): CompiledRoute {
  return { route, ...pathPattern(route.path) };
}

/**
 * A local stand-in for API Gateway's HTTP API: it matches the route, runs the JWT check the
 * authorizer would, builds a payload 2.0 event, invokes the handler and writes its answer.
 * Answers it gives itself copy API Gateway's (`{"message": "Unauthorized"}` and the like).
 */
export function startLocalHttpApi(
  routes: readonly LocalRoute[],
  port: number,
  extra: StaticResponder = () => undefined,
  functionUrls: readonly LocalFunctionUrl[] = [],
): Promise<Server> {
  const compiled = routes.map(compile);
  const server = createServer((req, res) => {
    serve(compiled, functionUrls, extra, req, res).catch((error: unknown) => {
      process.stderr.write(`local API: ${String(error)}\n`);
      if (!res.headersSent) gatewayAnswer(res, 500, 'Internal Server Error');
    });
  });
  // Keep-alive sockets would hold the process open after Ctrl-C.
  server.keepAliveTimeout = 1_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function gatewayAnswer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ message }));
}

async function readBody(
  req: IncomingMessage,
  limit = GATEWAY_MAX_BODY_BYTES,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) {
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function serve(
  routes: readonly CompiledRoute[],
  functionUrls: readonly LocalFunctionUrl[],
  extra: StaticResponder,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const fixed = method === 'GET' ? extra(url.pathname) : undefined;
  if (fixed) {
    res.writeHead(200, { 'content-type': fixed.type });
    res.end(fixed.body);
    return;
  }
  const functionUrl = functionUrls.find((candidate) => isUnder(candidate.path, url.pathname));
  if (functionUrl) {
    await serveFunctionUrl(functionUrl, req, res, url);
    return;
  }
  const match = routes
    .filter((candidate) => candidate.route.method === method)
    .map((candidate) => ({ candidate, found: candidate.pattern.exec(url.pathname) }))
    .find(({ found }) => found !== null);
  if (!match?.found) {
    gatewayAnswer(res, 404, 'Not Found');
    return;
  }
  const { route, names } = match.candidate;
  const body = await readBody(req);
  if (body === undefined) {
    gatewayAnswer(res, 413, 'Request Entity Too Large');
    return;
  }
  const headers = normaliseHeaders(req);
  let claims: Record<string, string> = {};
  let granted: string[] = [];
  if (route.auth === 'jwt') {
    const verified = await verifyLocalToken(headers.authorization);
    if (verified === undefined) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ message: 'Unauthorized' }));
      return;
    }
    granted = scopesOf(verified);
    const required = route.scopes ?? [];
    if (required.length > 0 && !required.some((scope) => granted.includes(scope))) {
      // API Gateway's answer when a valid token holds none of the route's scopes.
      gatewayAnswer(res, 403, 'Forbidden');
      return;
    }
    // API Gateway hands every claim over as a string; a list becomes its JSON-like text.
    claims = Object.fromEntries(
      Object.entries(verified).map(([name, value]) => [name, claimText(value)]),
    );
  }
  let pathParameters: Record<string, string>;
  try {
    pathParameters = Object.fromEntries(
      names.map((name, index) => [name, decodeURIComponent(match.found?.[index + 1] ?? '')]),
    );
  } catch {
    // A malformed percent-encoding: API Gateway refuses such a path itself.
    gatewayAnswer(res, 400, 'Bad Request');
    return;
  }
  const event = toEvent(req, url, route, headers, body, pathParameters, claims, granted);
  await invoke(res, route, event);
}

/** Whether a path falls under a function URL's path: its part before the first parameter. */
function isUnder(servedPath: string, path: string): boolean {
  const parameterAt = servedPath.indexOf('{');
  if (parameterAt < 0) return path === servedPath;
  const mount = servedPath.slice(0, parameterAt);
  return path.startsWith(mount) || path === mount.replace(/\/$/, '');
}

/** A function URL takes any method and path: no route match, no authorizer, Lambda's own event. */
async function serveFunctionUrl(
  functionUrl: LocalFunctionUrl,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const body = await readBody(req, FUNCTION_URL_MAX_BODY_BYTES);
  if (body === undefined) {
    gatewayAnswer(res, 413, 'Request Entity Too Large');
    return;
  }
  await invoke(res, functionUrl, toFunctionUrlEvent(req, url, normaliseHeaders(req), body));
}

async function invoke<E>(
  res: ServerResponse,
  target: {
    readonly functionName: string;
    readonly timeoutSeconds: number;
    readonly handler: LambdaHandler<E, APIGatewayProxyResultV2>;
  },
  event: E,
): Promise<void> {
  const context = lambdaContext(target.functionName, target.timeoutSeconds);
  let result: APIGatewayProxyResultV2;
  try {
    result = await target.handler(event, context);
  } catch (error) {
    // An unhandled error in a function is API Gateway's plain 500, as in AWS.
    process.stderr.write(`${target.functionName} threw: ${String(error)}\n`);
    gatewayAnswer(res, 500, 'Internal Server Error');
    return;
  }
  writeResult(res, result);
}

/** The scopes a token grants: `scope` (space-separated) or `scp` (a list), as authorizers read them. */
function scopesOf(claims: Record<string, unknown>): string[] {
  const scope = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  const scp = Array.isArray(claims.scp) ? claims.scp.map(String) : [];
  return [...new Set([...scope, ...scp].filter(Boolean))];
}

/** A claim as API Gateway passes it to a function: numbers and booleans as text, lists as `[a b]`. */
function claimText(value: unknown): string {
  return Array.isArray(value) ? `[${value.map(String).join(' ')}]` : String(value);
}

function normaliseHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
    }
  }
  return headers;
}

function isTextual(contentType: string | undefined): boolean {
  return (
    contentType === undefined ||
    /^(text\/|application\/(json|[\w.+-]*\+json|x-www-form-urlencoded|xml))/i.test(contentType)
  );
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  route: LocalRoute,
  headers: Record<string, string>,
  body: Buffer,
  pathParameters: Record<string, string>,
  claims: Record<string, string>,
  scopes: readonly string[],
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const now = new Date();
  const textual = isTextual(headers['content-type']);
  const query = Object.fromEntries(url.searchParams.entries());
  const routeKey = `${route.method} ${route.path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: route.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      authorizer: {
        principalId: '',
        integrationLatency: 0,
        // The token's scopes, as API Gateway lists them for a route that requires scopes.
        jwt: { claims, scopes: [...scopes] },
      },
    },
    ...(body.byteLength > 0
      ? { body: textual ? body.toString('utf8') : body.toString('base64') }
      : {}),
    isBase64Encoded: body.byteLength > 0 && !textual,
  };
}

/**
 * The event Lambda builds for a function URL request: payload 2.0 with `$default` for routeKey
 * and stage, `anonymous` for the account of an AuthType NONE caller, no path parameters and no
 * authorizer; the body base64-encoded unless it is text.
 */
function toFunctionUrlEvent(
  req: IncomingMessage,
  url: URL,
  headers: Record<string, string>,
  body: Buffer,
): APIGatewayProxyEventV2 {
  const now = new Date();
  const textual = isTextual(headers['content-type']);
  const query = Object.fromEntries(url.searchParams.entries());
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.byteLength > 0
      ? { body: textual ? body.toString('utf8') : body.toString('base64') }
      : {}),
    isBase64Encoded: body.byteLength > 0 && !textual,
  };
}

/** API Gateway's reading of a payload 2.0 result, including its shorthand for plain values. */
function writeResult(res: ServerResponse, result: APIGatewayProxyResultV2): void {
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(typeof result === 'string' ? result : JSON.stringify(result));
    return;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    headers[name] = String(value);
  }
  if (result.cookies?.length) {
    headers['set-cookie'] = result.cookies;
  }
  res.writeHead(result.statusCode ?? 200, headers);
  const body = result.body ?? '';
  res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}
