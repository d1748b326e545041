import { createHash } from 'node:crypto';
import { unixNow } from '../faults.ts';
import type { GatewayApiKey, GatewayNewApiKey, GatewayWebhookSecret } from './contract.ts';
import { newId } from './ledger.ts';

/** The first 16 hex digits of SHA-256(secret), as autopay's rotation computes it too. */
function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

/** An API key or a webhook signing secret held by the gateway. */
interface Credential {
  readonly id: string;
  readonly secret: string;
  readonly fingerprint: string;
  readonly created: number;
  /** The Idempotency-Key of the `POST /v1/keys` that made it, if one did. */
  readonly idempotencyKey?: string;
  retired: boolean;
}

/**
 * The API keys, or the webhook secrets. Retired entries are kept until a reset, so their ids stay
 * known (a repeated DELETE answers 200) and a replayed creation answers the same key.
 */
export class Credentials {
  #all: Credential[] = [];

  constructor(readonly prefix: string) {}

  active(): Credential[] {
    return this.#all.filter((entry) => !entry.retired);
  }

  byId(id: string): Credential | undefined {
    return this.#all.find((entry) => entry.id === id);
  }

  activeBySecret(secret: string): Credential | undefined {
    return this.#all.find((entry) => !entry.retired && entry.secret === secret);
  }

  byIdempotencyKey(key: string): Credential | undefined {
    return this.#all.find((entry) => entry.idempotencyKey === key);
  }

  add(secret: string, idempotencyKey?: string): Credential {
    const entry: Credential = {
      id: newId(this.prefix),
      secret,
      fingerprint: fingerprint(secret),
      created: unixNow(),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      retired: false,
    };
    this.#all.push(entry);
    return entry;
  }

  retire(entry: Credential): void {
    entry.retired = true;
  }

  /** Makes `secrets` exactly the active set: entries already active keep their id. */
  replace(secrets: readonly string[]): void {
    const wanted = new Set(secrets);
    for (const entry of this.active()) if (!wanted.has(entry.secret)) this.retire(entry);
    for (const secret of wanted) if (!this.activeBySecret(secret)) this.add(secret);
  }

  forgetRetired(): void {
    this.#all = this.active();
  }

  counts(): { active: number; retired: number } {
    const active = this.active().length;
    return { active, retired: this.#all.length - active };
  }
}

/** At most this many API keys are valid at once: the current one and its successor. */
export const MAX_VALID_API_KEYS = 2;
export const WEBHOOK_SECRET_LENGTH = { min: 16, max: 200 } as const;

export function keyView(entry: Credential): GatewayApiKey {
  return { id: entry.id, fingerprint: entry.fingerprint, created: entry.created, active: true };
}

export function newKeyView(entry: Credential): GatewayNewApiKey {
  const { id, secret, fingerprint, created } = entry;
  return { id, secret, fingerprint, created };
}

export function secretView(entry: Credential): GatewayWebhookSecret {
  return { id: entry.id, fingerprint: entry.fingerprint, created: entry.created };
}

export const defaultGatewayApiKeys: readonly string[] = ['sk_local_gateway_key_not_secret'];
export const defaultWebhookSecrets: readonly string[] = ['whsec_autopay_local'];
