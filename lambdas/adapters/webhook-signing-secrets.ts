import type { SigningSecretSource, SigningSecretVersions } from '#domain/webhook-secrets.ts';
import type { SecretsManagerStore, StoredVersion } from './secrets-manager-store.ts';

export interface WebhookSigningSecretsOptions {
  readonly store: Pick<SecretsManagerStore, 'describe' | 'version'>;
  readonly secretId: string;
  /** How long what was read is trusted before it is read again. */
  readonly maxAgeSeconds: number;
  /** Forced refreshes closer together than this are skipped: a burst of mismatches is one read. */
  readonly minRefreshIntervalMs: number;
}

/**
 * The webhook signing secret's AWSCURRENT, AWSPREVIOUS and AWSPENDING versions, with their
 * creation dates and the rotation's record of when AWSCURRENT moved. Read with one DescribeSecret
 * per `maxAgeSeconds`; a version's value never changes, so each is fetched once per instance.
 */
export class WebhookSigningSecrets implements SigningSecretSource {
  private cached: { readonly versions: SigningSecretVersions; readonly readAt: number } | undefined;
  private readonly values = new Map<string, StoredVersion>();
  private lastForcedAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<SigningSecretVersions> | undefined;

  constructor(private readonly options: WebhookSigningSecretsOptions) {}

  async versions(): Promise<SigningSecretVersions> {
    const cached = this.cached;
    if (cached && Date.now() - cached.readAt < this.options.maxAgeSeconds * 1000) {
      return cached.versions;
    }
    return this.read();
  }

  async refresh(): Promise<void> {
    // Callbacks that mismatch at once (several in flight on one instance, as locally) all wait
    // for the one re-read, rather than verify again against the values it is replacing.
    if (this.reading) {
      await this.reading;
      return;
    }
    const now = Date.now();
    if (now - this.lastForcedAt < this.options.minRefreshIntervalMs) return;
    this.lastForcedAt = now;
    await this.read();
  }

  private read(): Promise<SigningSecretVersions> {
    this.reading ??= this.load().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async load(): Promise<SigningSecretVersions> {
    const readAt = Date.now();
    const { stages, promotion } = await this.options.store.describe(this.options.secretId);
    const idOf = (stage: string) =>
      Object.entries(stages).find(([, labels]) => labels.includes(stage))?.[0];
    const [current, previous, pending] = await Promise.all(
      ['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING'].map((stage) => this.versionOf(idOf(stage))),
    );
    if (current === undefined) {
      throw new Error(`Secret ${this.options.secretId} has no AWSCURRENT value`);
    }
    for (const id of this.values.keys()) {
      if (stages[id] === undefined) this.values.delete(id);
    }
    const versions: SigningSecretVersions = {
      current,
      ...(previous ? { previous } : {}),
      ...(pending ? { pending } : {}),
      ...(promotion && promotion.versionId === idOf('AWSCURRENT')
        ? { currentSince: promotion.at }
        : {}),
    };
    this.cached = { versions, readAt };
    return versions;
  }

  private async versionOf(id: string | undefined): Promise<StoredVersion | undefined> {
    if (id === undefined) return undefined;
    const known = this.values.get(id);
    if (known) return known;
    const read = await this.options.store.version(this.options.secretId, id);
    if (read !== undefined) this.values.set(id, read);
    return read;
  }
}
