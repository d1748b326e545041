import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { defaultGatewayFaults } from '../simulators/gateway/fault-settings.ts';
import { defaultRiskFaults } from '../simulators/risk/fault-settings.ts';
import {
  type LocalRuntime,
  localCallbackUrl,
  localStripeApiKey,
  localWebhookSecret,
  projectRoot,
} from './local-runtime.ts';

/** Where `npm start` says, for scripts, what runs where and which faults are on. */
export const endpointsFile = join(projectRoot, '.local', 'endpoints.json');

/** A start that cannot go on, for a reason a person can fix: said in one line, no stack trace. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** The local API's port from PORT (or AUTOPAY_PORT), 3000 when neither is set. */
export function apiPortFrom(environment: NodeJS.ProcessEnv): number {
  const raw = environment.PORT ?? environment.AUTOPAY_PORT ?? '3000';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new StartupError(`PORT must be a port number (0-65535), not ${JSON.stringify(raw)}`);
  }
  return port;
}

export function portInUse(port: number): StartupError {
  return new StartupError(
    `port ${port} is in use; set PORT to another one (PORT=${port + 1} npm start), or stop what holds it`,
  );
}

/**
 * Fails before the emulators start when the API's port is taken, so the answer comes at once.
 * The port is let go again at once: the local API binds it a few seconds later.
 */
export async function ensurePortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? portInUse(port) : error),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** The leaves of `current` that differ from `defaults`: the faults a run has switched on. */
export function activeFaults(current: object, defaults: object): Record<string, unknown> {
  const active: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(current)) {
    const fallback = (defaults as Record<string, unknown>)[key];
    if (isPlainObject(value) && isPlainObject(fallback)) {
      const nested = activeFaults(value, fallback);
      if (Object.keys(nested).length > 0) active[key] = nested;
    } else if (JSON.stringify(value) !== JSON.stringify(fallback)) {
      active[key] = value;
    }
  }
  return active;
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface LocalEndpoints {
  readonly api: string;
  readonly openapi: string;
  /** Where the gateway simulator posts its signed events, and the local secret that signs them. */
  readonly callbacks: { readonly url: string; readonly secret: string };
  readonly gateway: { readonly url: string; readonly ledger: string; readonly faults: object };
  /**
   * The simulator's Stripe API (base URL for the stripe SDK's host/port/protocol) and its local
   * key; `active` when the functions use it (GATEWAY=stripe).
   */
  readonly stripe: { readonly url: string; readonly apiKey: string; readonly active: boolean };
  readonly risk: { readonly url: string; readonly faults: object };
  readonly dynamodb: string;
  readonly sqs: string;
  readonly secretsManager: string;
}

/** The faults are in GATEWAY_FAULTS / RISK_FAULTS form: only what differs from the defaults. */
export function endpointsOf(
  stack: Pick<
    LocalRuntime,
    'apiUrl' | 'gateway' | 'risk' | 'dynamodbEndpoint' | 'sqsEndpoint' | 'secretsManagerEndpoint'
  >,
): LocalEndpoints {
  return {
    api: stack.apiUrl,
    openapi: `${stack.apiUrl}/openapi.json`,
    callbacks: { url: localCallbackUrl(stack.apiUrl), secret: localWebhookSecret },
    gateway: {
      url: stack.gateway.url,
      ledger: `${stack.gateway.url}/admin/ledger`,
      faults: activeFaults(stack.gateway.faults(), defaultGatewayFaults),
    },
    stripe: {
      url: stack.gateway.stripeUrl,
      apiKey: localStripeApiKey,
      // Set by the local runtime from GATEWAY for every function.
      active: process.env.GATEWAY_NAME === 'stripe',
    },
    risk: { url: stack.risk.url, faults: activeFaults(stack.risk.faults(), defaultRiskFaults) },
    dynamodb: stack.dynamodbEndpoint,
    sqs: stack.sqsEndpoint,
    secretsManager: stack.secretsManagerEndpoint,
  };
}

export function writeEndpoints(file: string, endpoints: LocalEndpoints): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(endpoints, null, 2)}\n`);
}

/** The faults line of the start-up text: the JSON a script can pass back as GATEWAY_FAULTS. */
export function faultsLine(variable: string, faults: object, example: object): string {
  return Object.keys(faults).length === 0
    ? `none (e.g. ${variable}='${JSON.stringify(example)}' npm start)`
    : `${variable}='${JSON.stringify(faults)}'`;
}

/** Runs `start`; a StartupError ends the process with its one line, anything else as it is. */
export async function startOrExplain<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (!(error instanceof StartupError)) throw error;
    process.stderr.write(`npm start: ${error.message}\n`);
    process.exit(1);
  }
}
