import { HttpPaymentGateway } from '#adapters/http-payment-gateway.ts';
import { SecretsManagerSource } from '#adapters/secret-source.ts';
import { secretsManager } from '#adapters/secrets-manager-client.ts';

/**
 * The payment gateway (the payment service provider, not API Gateway) as every function that calls
 * it is configured: one place, one way.
 */
export function paymentGatewayFrom(environment: {
  GATEWAY_NAME: string;
  GATEWAY_URL: string;
  GATEWAY_TIMEOUT_MS: number;
  GATEWAY_API_KEY_SECRET_ID: string;
  SECRET_MAX_AGE_SECONDS: number;
}): HttpPaymentGateway {
  return new HttpPaymentGateway({
    name: environment.GATEWAY_NAME,
    baseUrl: environment.GATEWAY_URL,
    timeoutMs: environment.GATEWAY_TIMEOUT_MS,
    apiKey: new SecretsManagerSource({
      client: secretsManager,
      secretId: environment.GATEWAY_API_KEY_SECRET_ID,
      maxAgeSeconds: environment.SECRET_MAX_AGE_SECONDS,
      // A burst of 401s is one fetch.
      minRefreshIntervalMs: 5_000,
    }),
  });
}
