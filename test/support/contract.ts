import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { openApiFile } from '../../local/tools/openapi.ts';

/**
 * Holds the answers of the local API to what docs/openapi.json promises: every end-to-end call
 * goes through `apiFetch`, so an answer the document does not describe (an undocumented status,
 * a body off its schema, a header off its own) fails the test that received it.
 */

interface MediaType {
  readonly schema?: object;
}
interface HeaderDoc {
  readonly schema?: object;
  readonly $ref?: string;
}
interface ResponseDoc {
  readonly $ref?: string;
  readonly headers?: Readonly<Record<string, HeaderDoc>>;
  readonly content?: Readonly<Record<string, MediaType>>;
}
interface OpenApiDocument {
  readonly paths: Readonly<
    Record<string, Readonly<Record<string, { responses: Record<string, ResponseDoc> }>>>
  >;
}

const documentId = 'https://autopay.invalid/openapi.json';
const document = JSON.parse(readFileSync(openApiFile, 'utf8')) as OpenApiDocument;

const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
addFormats.default(ajv);
// The document is added whole so that its `#/components/...` references resolve; its top-level
// fields, and OpenAPI's `example` beside JSON Schema's keywords, annotate without validating.
ajv.addVocabulary([
  'openapi',
  'info',
  'servers',
  'tags',
  'paths',
  'webhooks',
  'components',
  'example',
]);
ajv.addSchema({ ...document, $id: documentId });

const pointer = (...segments: string[]) =>
  segments.map((segment) => segment.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

function resolveRef<T>(node: T & { $ref?: string }): T {
  if (node.$ref === undefined) return node;
  const target = node.$ref
    .replace(/^#\//, '')
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], document);
  return target as T;
}

function validatorAt(path: string, dataVar: string): (data: unknown) => string | undefined {
  const validate = ajv.getSchema(`${documentId}#/${encodeURI(path)}`);
  if (validate === undefined) throw new Error(`no schema at ${path}`);
  return (data) => (validate(data) ? undefined : ajv.errorsText(validate.errors, { dataVar }));
}

const templates = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
}));

/**
 * The fixed part of each path served at a function URL (a path item with its own `servers`):
 * every request under it reaches that function, which answers what it does not serve itself.
 */
const functionUrlMounts = Object.entries(document.paths)
  .filter(([, item]) => 'servers' in item)
  .map(([template]) =>
    template.includes('{') ? template.slice(0, template.indexOf('{')) : template,
  );

function underFunctionUrl(pathname: string): boolean {
  return functionUrlMounts.some(
    (mount) => pathname.startsWith(mount) || pathname === mount.replace(/\/$/, ''),
  );
}

const notJson = Symbol('not JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return notJson;
  }
}

/** What is wrong with this answer to `method url` by the document; undefined when nothing is. */
export function contractViolation(
  method: string,
  url: string,
  status: number,
  headers: Headers,
  bodyText: string,
): string | undefined {
  const { pathname } = new URL(url);
  const found = templates.find(({ pattern }) => pattern.test(pathname));
  const lowerMethod = method.toLowerCase();
  const operation = found && document.paths[found.template]?.[lowerMethod];
  if (!found || !operation) {
    // The document's description: API Gateway answers an unknown route itself, and a function
    // behind a function URL answers 404 ROUTE_NOT_FOUND.
    if (status !== 404) return `${method} ${pathname}, no operation, answered ${status}, not 404`;
    const body = parseJson(bodyText);
    if (underFunctionUrl(pathname)) {
      const problem = validatorAt('components/schemas/Error', 'body')(body);
      if (problem) return `${method} ${pathname}, no operation at a function URL, 404 ${problem}`;
      const { code } = (body as { error: { code: string } }).error;
      return code === 'ROUTE_NOT_FOUND'
        ? undefined
        : `${method} ${pathname}, no operation at a function URL, answered 404 ${code}`;
    }
    const problem = validatorAt('components/schemas/GatewayMessage', 'body')(body);
    return problem ? `${method} ${pathname}, no operation, answered 404 ${problem}` : undefined;
  }
  const where = `${method} ${found.template} answered ${status}`;
  const documented = operation.responses[String(status)];
  if (documented === undefined) {
    return `${where}, a status the document does not list (${Object.keys(operation.responses).join(', ')})`;
  }
  const response = resolveRef(documented);
  const responsePointer =
    documented.$ref !== undefined
      ? documented.$ref.replace(/^#\//, '')
      : pointer('paths', found.template, lowerMethod, 'responses', String(status));

  for (const [name, header] of Object.entries(response.headers ?? {})) {
    const value = headers.get(name);
    if (value === null) continue;
    const headerPointer =
      header.$ref !== undefined
        ? `${header.$ref.replace(/^#\//, '')}/schema`
        : `${responsePointer}/${pointer('headers', name, 'schema')}`;
    const problem = validatorAt(headerPointer, name)(value);
    if (problem) return `${where} with header ${name}: ${value}, off its schema: ${problem}`;
  }

  const contentType = headers.get('content-type')?.split(';')[0]?.trim() ?? '';
  const media = response.content ?? {};
  if (Object.keys(media).length === 0) {
    return bodyText === '' ? undefined : `${where} with a body the document does not describe`;
  }
  if (media[contentType] === undefined) {
    return `${where} as ${contentType || 'no content type'}, not ${Object.keys(media).join(', ')}`;
  }
  const body = parseJson(bodyText);
  if (body === notJson) return `${where} with a body that is not JSON: ${bodyText.slice(0, 200)}`;
  const schemaPointer = `${responsePointer}/${pointer('content', contentType, 'schema')}`;
  const problem = validatorAt(schemaPointer, 'body')(body);
  return problem ? `${where} off its schema: ${problem}\n${bodyText.slice(0, 1000)}` : undefined;
}

/** `fetch` against the local API, failing the calling test on an answer the document lacks. */
export async function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, init);
  const bodyText = await response.clone().text();
  const violation = contractViolation(
    init.method ?? 'GET',
    url,
    response.status,
    response.headers,
    bodyText,
  );
  if (violation !== undefined) {
    throw new Error(`docs/openapi.json does not describe this answer: ${violation}`);
  }
  return response;
}

/** A user's refund of an order through the local API, with the reason every test gives. */
export function askRefund(
  apiUrl: string,
  orderId: string,
  token: string,
  idempotencyKey: string,
): Promise<Response> {
  return apiFetch(`${apiUrl}/v1/orders/${orderId}/refund`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
    },
    body: JSON.stringify({ reason: 'The coffee shop was closed' }),
  });
}

/** `apiFetch` for clients that fetch with a Request, as the typed client (openapi-fetch) does. */
export async function apiFetchRequest(request: Request): Promise<Response> {
  const body = request.body === null ? undefined : await request.text();
  return apiFetch(request.url, {
    method: request.method,
    headers: request.headers,
    ...(body !== undefined ? { body } : {}),
  });
}
