import { getSecret } from '@aws-lambda-powertools/parameters/secrets';

/** A secret value cached with a TTL, which a caller may force to refresh after an auth failure. */
export interface SecretSource {
  get(): Promise<string>;
  refresh(): Promise<void>;
}

export interface SecretsManagerSourceOptions {
  readonly secretId: string;
  /** How long a fetched value is trusted (Powertools' cache). */
  readonly maxAgeSeconds: number;
  /** Forced refreshes closer together than this are skipped: a burst of 401s is one fetch. */
  readonly minRefreshIntervalMs: number;
}

/** Secrets Manager through Powertools Parameters, which caches per instance. */
export class SecretsManagerSource implements SecretSource {
  private lastForcedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: SecretsManagerSourceOptions) {}

  async get(): Promise<string> {
    return this.fetch(false);
  }

  async refresh(): Promise<void> {
    const now = Date.now();
    if (now - this.lastForcedAt < this.options.minRefreshIntervalMs) return;
    this.lastForcedAt = now;
    await this.fetch(true);
  }

  private async fetch(forceFetch: boolean): Promise<string> {
    const value = await getSecret(this.options.secretId, {
      maxAge: this.options.maxAgeSeconds,
      forceFetch,
      sdkOptions: { VersionStage: 'AWSCURRENT' },
    });
    if (typeof value !== 'string' || value.length === 0) {
      throw new Error(`Secret ${this.options.secretId} has no string value`);
    }
    return value;
  }
}
