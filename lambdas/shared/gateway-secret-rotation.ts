import { GatewayApiKeyKind, WebhookSecretKind } from '#adapters/gateway-secret-kinds.ts';
import type { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import type { SecretKind } from '#domain/rotation.ts';
import type { RotationEnvironment } from './config.ts';

/*
 * The gateway's secrets as key-rotation rotates them: apart from payment-gateway.ts, so the
 * rotation function loads no table or queue client.
 */

/** Secrets Manager names a secret by ARN; an operator or the local tools may use its name. */
function sameSecret(given: string, configured: string): boolean {
  const name = (id: string) =>
    id
      .split(':secret:')
      .at(-1)
      ?.replace(/-[A-Za-z0-9]{6}$/, '') ?? id;
  return given === configured || name(given) === name(configured);
}

/** The gateway's two secrets and how each rotates, found by the id Secrets Manager gives. */
export function rotatedSecretKinds(
  environment: RotationEnvironment,
  store: SecretsManagerStore,
): (secretId: string) => SecretKind | undefined {
  const kinds: Array<[string, SecretKind]> = [
    [
      environment.GATEWAY_API_KEY_SECRET_ID,
      new GatewayApiKeyKind(environment.GATEWAY_URL, environment.GATEWAY_TIMEOUT_MS),
    ],
    [
      environment.WEBHOOK_SECRET_ID,
      new WebhookSecretKind(environment.GATEWAY_URL, environment.GATEWAY_TIMEOUT_MS, async () => {
        const key = await store.value(environment.GATEWAY_API_KEY_SECRET_ID, {
          stage: 'AWSCURRENT',
        });
        if (key === undefined) throw new Error('The gateway API key has no current value');
        return key;
      }),
    ],
  ];
  return (secretId) => kinds.find(([configured]) => sameSecret(secretId, configured))?.[1];
}
