import { dynamodb } from '#adapters/aws-clients.ts';
import { DynamoDbBreakerStore } from '#adapters/dynamodb-breaker.ts';
import { HttpPaymentGateway } from '#adapters/http-payment-gateway.ts';
import { SecretsManagerSource } from '#adapters/secret-source.ts';
import { secretsManager } from '#adapters/secrets-manager-client.ts';
import { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import { type StripePayer, StripePaymentGateway } from '#adapters/stripe-payment-gateway.ts';
import { WebhookSigningSecrets } from '#adapters/webhook-signing-secrets.ts';
import { CircuitBreaker } from '#domain/circuit-breaker.ts';
import type { PaymentGateway } from '#domain/payment-ports.ts';
import { systemClock } from '#domain/ports.ts';
import { makeVerifyCallbackSignature } from '#domain/webhook-secrets.ts';
import { breakerPolicyOf, type CallbackEnvironment, type PaymentEnvironment } from './config.ts';
import { breakerMoves, signatureMismatch } from './domain-events.ts';
import { stripeGatewayName } from './gateway-names.ts';

/**
 * The payment gateway (the payment service provider, not API Gateway) as every function that calls
 * it is configured: one place, one way. GATEWAY_NAME picks the adapter per stage.
 */
export function paymentGatewayFrom(environment: {
  GATEWAY_NAME: string;
  GATEWAY_URL: string;
  GATEWAY_TIMEOUT_MS: number;
  GATEWAY_API_KEY_SECRET_ID: string;
  SECRET_MAX_AGE_SECONDS: number;
  STRIPE_PAYERS?: Readonly<Record<string, StripePayer>>;
}): PaymentGateway {
  const settings = {
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
  };
  return environment.GATEWAY_NAME === stripeGatewayName
    ? new StripePaymentGateway({ ...settings, payers: environment.STRIPE_PAYERS ?? {} })
    : new HttpPaymentGateway(settings);
}

/** The breaker in front of the gateway, its state shared by every instance through the table. */
export function gatewayBreakerFrom(environment: PaymentEnvironment): CircuitBreaker {
  return new CircuitBreaker(
    new DynamoDbBreakerStore(dynamodb, environment.TABLE_NAME),
    environment.GATEWAY_NAME,
    systemClock,
    breakerPolicyOf(environment),
    breakerMoves(environment.GATEWAY_NAME),
  );
}

/**
 * The check of the gateway's signed callbacks: against the signing secrets valid now, then once
 * more against fresh ones (webhook-secrets.ts), read through a cache of the secret's versions.
 */
export function callbackSignatureCheckFrom(environment: CallbackEnvironment) {
  return makeVerifyCallbackSignature({
    secrets: new WebhookSigningSecrets({
      store: new SecretsManagerStore(secretsManager),
      secretId: environment.WEBHOOK_SECRET_ID,
      maxAgeSeconds: environment.SECRET_MAX_AGE_SECONDS,
      // A burst of mismatches is one read.
      minRefreshIntervalMs: 5_000,
    }),
    clock: systemClock,
    grace: {
      previousSeconds: environment.WEBHOOK_PREVIOUS_GRACE_SECONDS,
      pendingSeconds: environment.WEBHOOK_PENDING_GRACE_SECONDS,
    },
    toleranceSeconds: environment.WEBHOOK_TOLERANCE_SECONDS,
    onMismatch: signatureMismatch,
  });
}
