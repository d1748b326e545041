import { createHash } from 'node:crypto';
import type { Clock } from './ports.ts';

/** The four steps of the Secrets Manager rotation protocol, in the order they run. */
export const rotationSteps = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof rotationSteps)[number];

export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: RotationStep;
}

export type VersionStage = 'AWSCURRENT' | 'AWSPREVIOUS' | 'AWSPENDING';

/** Secrets Manager as rotation needs it. Every read names its stage or version. */
export interface SecretStore {
  /** Version id → its staging labels. */
  versions(secretId: string): Promise<Readonly<Record<string, readonly string[]>>>;
  /** The value of a version (and stage, when given), or undefined when there is none. */
  value(
    secretId: string,
    selector: { readonly versionId?: string; readonly stage: VersionStage },
  ): Promise<string | undefined>;
  /** Stores `value` as version `token` labelled AWSPENDING; repeating it is harmless. */
  putPending(secretId: string, token: string, value: string): Promise<void>;
  /**
   * Records that `token` is being made AWSCURRENT at `at`: the moment the previous value's grace
   * starts from (docs/ARCHITECTURE.md, §6). Recording it again replaces the record.
   */
  recordPromotion(secretId: string, token: string, at: Date): Promise<void>;
  /** Moves AWSCURRENT to `token` (the old current becomes AWSPREVIOUS) and drops AWSPENDING. */
  promote(secretId: string, token: string, currentVersionId: string): Promise<void>;
}

/**
 * What one kind of secret does at each step. Each must be idempotent for the same token:
 * Secrets Manager retries steps, and a rotation may resume after a failure between them.
 */
export interface SecretKind {
  /** Produces the new value (asking the issuer when it has one). */
  create(token: string, current: string): Promise<string>;
  /** Tells whoever uses the secret on the other side about the new value. */
  set(pending: string, current: string): Promise<void>;
  /** Proves the new value works; throws if it does not. */
  test(pending: string): Promise<void>;
  /** After the move: retires what is older than the previous value, never the previous one. */
  finish(current: string, previous: string): Promise<void>;
}

/** A short, stable, non-reversible name for a secret value, safe to log and compare. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationError';
  }
}

export interface RotationDeps {
  readonly store: SecretStore;
  /** The kind of each secret this function rotates, by secret id (ARN or name). */
  readonly kindOf: (secretId: string) => SecretKind | undefined;
  readonly clock: Clock;
}

/**
 * One step of a rotation. A step for a version that is already current does nothing, so a
 * retried or resumed rotation never rotates twice.
 */
export function makeRotateSecret(deps: RotationDeps) {
  const { store } = deps;

  return async function rotate(event: RotationEvent): Promise<string> {
    const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
    const kind = deps.kindOf(secretId);
    if (kind === undefined) {
      throw new RotationError(`This function does not rotate ${secretId}`);
    }
    const versions = await store.versions(secretId);
    const stages = versions[token];
    if (stages?.includes('AWSCURRENT')) {
      if (step === 'finishSecret') {
        // A finish retried after the move: the clean-up may not have run yet.
        const current = await store.value(secretId, { stage: 'AWSCURRENT' });
        const previous = await store.value(secretId, { stage: 'AWSPREVIOUS' });
        if (current !== undefined && previous !== undefined) await kind.finish(current, previous);
      }
      return `${step}: version already current`;
    }
    if (stages !== undefined && !stages.includes('AWSPENDING')) {
      throw new RotationError(`Version ${token} is not staged for rotation`);
    }
    const current = await store.value(secretId, { stage: 'AWSCURRENT' });
    if (current === undefined) {
      throw new RotationError(`${secretId} has no AWSCURRENT value`);
    }
    const pendingValue = () => store.value(secretId, { versionId: token, stage: 'AWSPENDING' });

    switch (step) {
      case 'createSecret': {
        if ((await pendingValue()) !== undefined) return 'createSecret: already created';
        await store.putPending(secretId, token, await kind.create(token, current));
        return 'createSecret: created';
      }
      case 'setSecret':
        await kind.set(await required(pendingValue()), current);
        return 'setSecret: set';
      case 'testSecret':
        await kind.test(await required(pendingValue()));
        return 'testSecret: passed';
      case 'finishSecret': {
        const pending = await required(pendingValue());
        const currentVersion = Object.entries(versions).find(([, labels]) =>
          labels.includes('AWSCURRENT'),
        )?.[0];
        if (currentVersion === undefined) {
          throw new RotationError(`${secretId} has no AWSCURRENT version`);
        }
        // Recorded before the move, so the record exists whenever the move happened and is never
        // later than it: a retry after a failed move records again, just before moving.
        await store.recordPromotion(secretId, token, deps.clock.now());
        await store.promote(secretId, token, currentVersion);
        await kind.finish(pending, current);
        return 'finishSecret: finished';
      }
    }
  };
}

async function required(value: Promise<string | undefined>): Promise<string> {
  const resolved = await value;
  if (resolved === undefined) {
    throw new RotationError('No AWSPENDING value for this token: run createSecret first');
  }
  return resolved;
}
