import { randomUUID } from 'node:crypto';
import type { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import { stripeHostOptions } from '#adapters/stripe-payment-gateway.ts';
import { OpsError } from './commands.ts';

export interface StripeKeyRotation {
  readonly store: SecretsManagerStore;
  /** The gatewayApiKey secret of the target. */
  readonly secretId: string;
  /** Stripe's API by default; the local simulator's Stripe base URL on the local stack. */
  readonly stripeUrl?: string | undefined;
}

/** A query that matches nothing, made with the permission the adapter needs (read PaymentIntents). */
const keyCheckQuery = "metadata['orderId']:'autopay-key-check'";

/**
 * Stripe lets no software create API keys: an operator rolls the key in Stripe's dashboard and
 * hands the new one in here. Steps: stage it as AWSPENDING, prove it against Stripe, then make
 * it AWSCURRENT (the old one becomes AWSPREVIOUS). A key Stripe refuses never becomes current.
 */
export async function rotateStripeApiKey(
  rotation: StripeKeyRotation,
  newKey: string,
): Promise<string> {
  const key = newKey.trim();
  if (!/^(sk|rk)_(test|live)_\S+$/.test(key)) {
    throw new OpsError('Give the new Stripe key (sk_… or rk_…) on standard input.');
  }
  const versions = await rotation.store.versions(rotation.secretId);
  const current = Object.entries(versions).find(([, stages]) => stages.includes('AWSCURRENT'));
  if (current === undefined) throw new OpsError(`${rotation.secretId} has no AWSCURRENT version.`);
  const token = randomUUID();
  await rotation.store.putPending(rotation.secretId, token, key);
  try {
    await checkWithStripe(key, rotation.stripeUrl);
  } catch (error) {
    await rotation.store.dropPending(rotation.secretId, token);
    throw new OpsError(`Stripe refused the new key; nothing changed: ${String(error)}`);
  }
  await rotation.store.recordPromotion(rotation.secretId, token, new Date());
  await rotation.store.promote(rotation.secretId, token, current[0]);
  return (
    `The new Stripe key is AWSCURRENT (version ${token}). The functions pick it up within ` +
    "SECRET_MAX_AGE_SECONDS (or at once on a 401); then expire the old key in Stripe's dashboard."
  );
}

async function checkWithStripe(key: string, stripeUrl: string | undefined): Promise<void> {
  const { default: Stripe } = await import('stripe');
  const stripe = new Stripe(key, { maxNetworkRetries: 1, ...stripeHostOptions(stripeUrl) });
  await stripe.paymentIntents.search({ query: keyCheckQuery, limit: 1 });
}
