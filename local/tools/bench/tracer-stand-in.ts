/*
 * What the bench bundles in place of `@aws-lambda-powertools/tracer` (and its `/middleware`)
 * to measure how much of a function's cold start the Tracer and the X-Ray SDK it loads account
 * for. Never deployed: it traces nothing. It has the members the functions call, doing what the
 * Tracer does where tracing is off.
 */

export class Tracer {
  readonly provider = {
    captureAsyncFunc: <T>(_name: string, work: (subsegment: undefined) => T): T => work(undefined),
  };

  isTracingEnabled(): boolean {
    return false;
  }

  putAnnotation(_key: string, _value: string): void {}

  captureAWSv3Client<T>(client: T): T {
    return client;
  }
}

/** A middy middleware that does nothing (middy refuses one without a step). */
export function captureLambdaHandler(_tracer: Tracer, _options?: unknown) {
  return { before: () => {} };
}
