import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** A secret value cached with a TTL, which a caller may force to refresh after an auth failure. */
export interface SecretSource {
  get(): Promise<string>;
  refresh(): Promise<void>;
}

export interface SecretsManagerSourceOptions {
  /** The function's own client, so every Secrets Manager call goes through one place. */
  readonly client: SecretsManagerClient;
  readonly secretId: string;
  /** How long a fetched value is trusted (Powertools' cache). */
  readonly maxAgeSeconds: number;
  /** Forced refreshes closer together than this are skipped: a burst of 401s is one fetch. */
  readonly minRefreshIntervalMs: number;
}

/** The AWSCURRENT value of a Secrets Manager secret, through Powertools Parameters. */
export class SecretsManagerSource implements SecretSource {
  private readonly provider: SecretsProvider;
  private lastForcedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: SecretsManagerSourceOptions) {
    this.provider = new SecretsProvider({ awsSdkV3Client: options.client });
  }

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
    const value = await this.provider.get(this.options.secretId, {
      maxAge: this.options.maxAgeSeconds,
      forceFetch,
      // Named: a read without a stage may not return AWSCURRENT in every implementation.
      sdkOptions: { VersionStage: 'AWSCURRENT' },
    });
    if (typeof value !== 'string' || value.length === 0) {
      throw new Error(`Secret ${this.options.secretId} has no string value`);
    }
    return value;
  }
}
