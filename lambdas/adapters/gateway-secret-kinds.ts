import { randomBytes } from 'node:crypto';
import { fingerprint, RotationError, type SecretKind } from '#domain/rotation.ts';

interface ManagedEntry {
  readonly id: string;
  readonly fingerprint: string;
}

/** The gateway's key and webhook-secret management API (docs/GATEWAY.md). */
class GatewayManagement {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async call(
    apiKey: string,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: { body?: unknown; idempotencyKey?: string } = {},
  ): Promise<{ status: number; body: unknown }> {
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(options.body ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async list(apiKey: string, path: string): Promise<ManagedEntry[]> {
    const { status, body } = await this.call(apiKey, 'GET', path);
    if (status !== 200) throw new RotationError(`GET ${path} answered ${status}`);
    return ((body as { data?: ManagedEntry[] }).data ?? []).map(({ id, fingerprint }) => ({
      id,
      fingerprint,
    }));
  }

  /** Removes every entry but the ones whose values are kept. */
  async retireAllBut(apiKey: string, path: string, keep: readonly string[]): Promise<void> {
    const kept = new Set(keep.map(fingerprint));
    for (const entry of await this.list(apiKey, path)) {
      if (kept.has(entry.fingerprint)) continue;
      const { status } = await this.call(apiKey, 'DELETE', `${path}/${entry.id}`);
      if (status !== 200 && status !== 404) {
        throw new RotationError(`DELETE ${path}/${entry.id} answered ${status}`);
      }
    }
  }
}

/**
 * The gateway API key: the gateway issues it. At most two keys are valid at once, so the
 * current and the previous one stay valid through a rotation and only older ones are revoked.
 */
export class GatewayApiKeyKind implements SecretKind {
  private readonly gateway: GatewayManagement;

  constructor(baseUrl: string, timeoutMs: number) {
    this.gateway = new GatewayManagement(baseUrl, timeoutMs);
  }

  async create(token: string, current: string): Promise<string> {
    const attempt = () =>
      this.gateway.call(current, 'POST', '/v1/keys', { idempotencyKey: `rotation-${token}` });
    let answer = await attempt();
    if (answer.status === 409) {
      // Both slots are taken: the one that is not current is two generations old by now.
      await this.gateway.retireAllBut(current, '/v1/keys', [current]);
      answer = await attempt();
    }
    const secret = (answer.body as { secret?: unknown } | undefined)?.secret;
    if (answer.status !== 200 || typeof secret !== 'string') {
      throw new RotationError(`The gateway did not issue a key (${answer.status})`);
    }
    return secret;
  }

  async set(): Promise<void> {
    // The gateway issued the key itself: there is nobody else to tell.
  }

  async test(pending: string): Promise<void> {
    const { status } = await this.gateway.call(pending, 'GET', '/v1/keys');
    if (status !== 200) throw new RotationError(`The new key is refused (${status})`);
  }

  async finish(current: string, previous: string): Promise<void> {
    await this.gateway.retireAllBut(current, '/v1/keys', [current, previous]);
  }
}

/**
 * The webhook signing secret: generated here, registered with the gateway, which then signs
 * with every registered secret, so callbacks verify throughout the overlap.
 */
export class WebhookSecretKind implements SecretKind {
  private readonly gateway: GatewayManagement;

  constructor(
    baseUrl: string,
    timeoutMs: number,
    private readonly apiKey: () => Promise<string>,
  ) {
    this.gateway = new GatewayManagement(baseUrl, timeoutMs);
  }

  async create(): Promise<string> {
    return `whsec_${randomBytes(32).toString('base64url')}`;
  }

  async set(pending: string): Promise<void> {
    const { status } = await this.gateway.call(await this.apiKey(), 'POST', '/v1/webhook-secrets', {
      body: { secret: pending },
    });
    if (status !== 200) throw new RotationError(`The gateway did not take the secret (${status})`);
  }

  async test(pending: string): Promise<void> {
    const registered = await this.gateway.list(await this.apiKey(), '/v1/webhook-secrets');
    if (!registered.some((entry) => entry.fingerprint === fingerprint(pending))) {
      throw new RotationError('The gateway does not sign with the new secret');
    }
  }

  async finish(current: string, previous: string): Promise<void> {
    await this.gateway.retireAllBut(await this.apiKey(), '/v1/webhook-secrets', [
      current,
      previous,
    ]);
  }
}
