import { SecretsManagerSource } from '#adapters/secret-source.ts';
import { secretsManager } from '#adapters/secrets-manager-client.ts';
import type { EndpointKeySource } from '#domain/webhook-delivery.ts';

/** The key webhook endpoints' secrets derive from, cached as every other secret is. */
export function endpointKeyFrom(environment: {
  WEBHOOK_ENDPOINT_KEY_SECRET_ID: string;
  SECRET_MAX_AGE_SECONDS: number;
}): EndpointKeySource {
  return new SecretsManagerSource({
    client: secretsManager,
    secretId: environment.WEBHOOK_ENDPOINT_KEY_SECRET_ID,
    maxAgeSeconds: environment.SECRET_MAX_AGE_SECONDS,
    minRefreshIntervalMs: 5_000,
  });
}
