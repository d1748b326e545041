import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** A secret value cached with a TTL, which a caller may force to refresh after an auth failure. */
export interface SecretSource {
  get(): Promise<string>;
  refresh(): Promise<void>;
}

export type VersionStage = 'AWSCURRENT' | 'AWSPREVIOUS' | 'AWSPENDING';

export interface SecretsManagerSourceOptions {
  /** The function's own client, so every Secrets Manager call goes through one place. */
  readonly client: SecretsManagerClient;
  readonly secretId: string;
  /** Always named: a read without a stage may not return AWSCURRENT in every implementation. */
  readonly stage?: VersionStage;
  /** How long a fetched value is trusted (Powertools' cache). */
  readonly maxAgeSeconds: number;
  /** Forced refreshes closer together than this are skipped: a burst of 401s is one fetch. */
  readonly minRefreshIntervalMs: number;
}

/**
 * One stage of a Secrets Manager secret through Powertools Parameters. Each source has its own
 * provider, because Powertools keys its cache by secret name only, not by version stage.
 */
export class SecretsManagerSource implements SecretSource {
  private readonly provider: SecretsProvider;
  private lastForcedAt = Number.NEGATIVE_INFINITY;
  /** Powertools caches values, not absences: a missing stage is remembered here instead. */
  private missingUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: SecretsManagerSourceOptions) {
    this.provider = new SecretsProvider({ awsSdkV3Client: options.client });
  }

  async get(): Promise<string> {
    return this.fetch(false);
  }

  /** The value, or undefined while this stage does not exist. */
  async tryGet(): Promise<string | undefined> {
    if (Date.now() < this.missingUntil) return undefined;
    try {
      return await this.fetch(false);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.missingUntil = Date.now() + this.options.maxAgeSeconds * 1000;
      return undefined;
    }
  }

  async refresh(): Promise<void> {
    const now = Date.now();
    if (now - this.lastForcedAt < this.options.minRefreshIntervalMs) return;
    this.lastForcedAt = now;
    this.missingUntil = Number.NEGATIVE_INFINITY;
    try {
      await this.fetch(true);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async fetch(forceFetch: boolean): Promise<string> {
    const value = await this.provider.get(this.options.secretId, {
      maxAge: this.options.maxAgeSeconds,
      forceFetch,
      sdkOptions: { VersionStage: this.options.stage ?? 'AWSCURRENT' },
    });
    if (typeof value !== 'string' || value.length === 0) {
      throw new Error(`Secret ${this.options.secretId} has no string value`);
    }
    return value;
  }
}

/**
 * The webhook signing secrets a callback may be signed with: AWSCURRENT, and AWSPREVIOUS and
 * AWSPENDING while a rotation overlaps them. A stage that does not exist is simply absent.
 */
export class WebhookSecrets {
  private readonly sources: SecretsManagerSource[];

  constructor(options: Omit<SecretsManagerSourceOptions, 'stage'>) {
    this.sources = (['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING'] as const).map(
      (stage) => new SecretsManagerSource({ ...options, stage }),
    );
  }

  async list(): Promise<string[]> {
    const values = await Promise.all(this.sources.map((source) => source.tryGet()));
    return [...new Set(values.filter((value): value is string => value !== undefined))];
  }

  async refresh(): Promise<void> {
    await Promise.all(this.sources.map((source) => source.refresh()));
  }
}

/** Only "no such version" means a stage is absent; anything else must surface. */
function isNotFound(error: unknown): boolean {
  const cause = (error as { cause?: { name?: string } }).cause;
  return (cause?.name ?? (error as { name?: string }).name) === 'ResourceNotFoundException';
}
