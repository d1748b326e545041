import type { Clock } from './ports.ts';
import {
  type VerifiedSignature,
  verifyWebhookSignature,
  WebhookSignatureError,
} from './webhook-signature.ts';

/**
 * Which webhook signing secrets verify a callback, and until when. AWSCURRENT always does. A
 * secret replaced by rotation (AWSPREVIOUS) keeps verifying for a grace period after the
 * rotation finished, so a sender still signing with it is not cut off mid-rotation; the new
 * value of a rotation (AWSPENDING) verifies from its creation, for a shorter while, because a
 * rotation that never finishes must not leave a second secret valid for ever.
 */

export interface SigningSecretVersion {
  readonly value: string;
  /** When Secrets Manager created the version: set by the service, not by any caller. */
  readonly createdAt: Date;
}

/** The signing secret's versions as last read, with what bounds their validity. */
export interface SigningSecretVersions {
  readonly current: SigningSecretVersion;
  readonly previous?: SigningSecretVersion;
  readonly pending?: SigningSecretVersion;
  /** When the rotation recorded making `current` AWSCURRENT, if it recorded it. */
  readonly currentSince?: Date;
}

export interface SigningSecretGrace {
  /** How long AWSPREVIOUS verifies after the rotation that replaced it finished. */
  readonly previousSeconds: number;
  /** How long AWSPENDING verifies after it was created. */
  readonly pendingSeconds: number;
}

/** The signing secret's versions, read with a cache: reading them costs no call per request. */
export interface SigningSecretSource {
  versions(): Promise<SigningSecretVersions>;
  /** Reads them afresh (a caller may ask often: the source decides how often it really reads). */
  refresh(): Promise<void>;
}

/**
 * When the rotation that made `current` current finished. The recorded moment is trusted only
 * between the version's creation and now; otherwise the creation itself stands in, which can only
 * be earlier than the real move, so a missing or implausible record shortens the previous secret's
 * grace and never extends it.
 */
function rotationFinishedAt(versions: SigningSecretVersions, now: Date): Date {
  const created = versions.current.createdAt.getTime();
  const recorded = versions.currentSince?.getTime();
  return recorded !== undefined && recorded >= created && recorded <= now.getTime()
    ? new Date(recorded)
    : versions.current.createdAt;
}

/** The values that verify a signature at `now`, AWSCURRENT first. */
function secretsThatVerify(
  versions: SigningSecretVersions,
  grace: SigningSecretGrace,
  now: Date,
): string[] {
  // Written as "still within" so that an invalid date or duration refuses instead of accepting.
  const within = (since: Date, seconds: number) => now.getTime() - since.getTime() < seconds * 1000;
  const values = [versions.current.value];
  if (versions.previous && within(rotationFinishedAt(versions, now), grace.previousSeconds)) {
    values.push(versions.previous.value);
  }
  if (versions.pending && within(versions.pending.createdAt, grace.pendingSeconds)) {
    values.push(versions.pending.value);
  }
  return [...new Set(values)];
}

export interface VerifyCallbackSignatureDeps {
  readonly secrets: SigningSecretSource;
  readonly clock: Clock;
  readonly grace: SigningSecretGrace;
  readonly toleranceSeconds: number;
  /** Told when no cached secret matched, just before they are read afresh. */
  readonly onMismatch?: () => void;
}

/**
 * settlement-callback's check of a `Stripe-Signature` header: against the secrets valid now, then
 * once more against fresh ones, since the secret may have rotated after it was cached.
 */
export function makeVerifyCallbackSignature(deps: VerifyCallbackSignatureDeps) {
  const verify = async (header: string | undefined, body: string | Buffer) => {
    const now = deps.clock.now();
    return verifyWebhookSignature({
      header,
      body,
      secrets: secretsThatVerify(await deps.secrets.versions(), deps.grace, now),
      nowSeconds: Math.floor(now.getTime() / 1000),
      toleranceSeconds: deps.toleranceSeconds,
    });
  };

  return async function verifyCallbackSignature(
    header: string | undefined,
    body: string | Buffer,
  ): Promise<VerifiedSignature> {
    try {
      return await verify(header, body);
    } catch (error) {
      if (!(error instanceof WebhookSignatureError) || error.code !== 'SIGNATURE_INVALID') {
        throw error;
      }
      deps.onMismatch?.();
      await deps.secrets.refresh();
      return verify(header, body);
    }
  };
}
