/**
 * Paths the functions themselves match, kept apart from the wiring table so that a function
 * bundle that needs them does not carry the whole wiring.
 */

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** The gateway's callback path; `{gateway}` is the stage's GATEWAY_NAME. */
export const callbackPath = '/v1/callbacks/{gateway}';

/**
 * What a function serves at its own Lambda function URL (AuthType NONE) instead of an HTTP API
 * route: a caller that holds no token of ours and authenticates each request itself (the gateway's
 * signed webhook), for no API Gateway request charge. Lambda hands the function every path and
 * method sent to the URL, so the function answers anything but this one with 404
 * ROUTE_NOT_FOUND. Locally the same HTTP server as the routes serves it, at the same path.
 */
export interface FunctionUrlSpec {
  readonly method: HttpMethod;
  /** The one path the function serves, with `{name}` path parameters as in a route. */
  readonly path: string;
  /** Nobody is authenticated at the edge: the function checks each request's signature. */
  readonly auth: 'none';
}

/** The callback function's one operation at its URL. */
export const callbackFunctionUrl: FunctionUrlSpec = {
  method: 'POST',
  path: callbackPath,
  auth: 'none',
};

/**
 * A route path as a pattern over a request's path, with the names of its `{name}` parameters in
 * the order of the pattern's groups (a parameter is one whole segment, never empty).
 */
export function pathPattern(path: string): { readonly pattern: RegExp; readonly names: string[] } {
  const names: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      const parameter = /^\{(\w+)\}$/.exec(segment);
      if (parameter?.[1]) {
        names.push(parameter[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { pattern: new RegExp(`^${source}$`), names };
}
