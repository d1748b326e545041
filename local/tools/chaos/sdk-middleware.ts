/**
 * What the chaos run's faults need of the AWS SDK's middleware stack, on the functions' shared
 * clients (the local runtime runs every function in this process).
 */
type Next = (args: unknown) => Promise<unknown>;
type Handler = (args: { input?: Record<string, unknown> }) => Promise<unknown>;

export interface MiddlewareStack {
  add(
    middleware: (next: Next, context: { commandName?: string }) => Handler,
    options: { step: string; name: string; priority?: string },
  ): void;
  remove(name: string): boolean;
}

export interface AnyClient {
  readonly middlewareStack: unknown;
}

export function stackOf(client: AnyClient): MiddlewareStack {
  return client.middlewareStack as MiddlewareStack;
}

/** An error as a dependency failure looks to the function: neither a refusal nor bad input. */
export function serverFault(message: string): Error {
  return Object.assign(new Error(`chaos: ${message}`), {
    name: 'ServiceUnavailable',
    $fault: 'server',
  });
}

/** The `ORDER#` id of a written item or key (plain, or marshalled as `{ S }`), if it is one. */
export function orderIdOfKey(key: Record<string, unknown> | undefined): string | undefined {
  const pk = key?.pk;
  const value = typeof pk === 'string' ? pk : (pk as { S?: string } | undefined)?.S;
  return value?.startsWith('ORDER#') ? value.slice('ORDER#'.length) : undefined;
}
