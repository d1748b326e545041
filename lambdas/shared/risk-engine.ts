import { HttpRiskEngine } from '#adapters/http-risk-engine.ts';
import { SecretsManagerSource } from '#adapters/secret-source.ts';
import { secretsManager } from '#adapters/secrets-manager-client.ts';
import type { PaymentEnvironment } from './config.ts';

/** Tencent Cloud's risk engine as payment submission calls it, its key pair from Secrets Manager. */
export function riskEngineFrom(environment: PaymentEnvironment): HttpRiskEngine {
  return new HttpRiskEngine({
    url: environment.RISK_ENGINE_URL,
    region: environment.RISK_REGION,
    sceneCode: environment.RISK_SCENE_CODE,
    timeoutMs: environment.RISK_TIMEOUT_MS,
    credentials: new SecretsManagerSource({
      client: secretsManager,
      secretId: environment.RISK_CREDENTIALS_SECRET_ID,
      maxAgeSeconds: environment.SECRET_MAX_AGE_SECONDS,
      // A burst of AuthFailures is one fetch.
      minRefreshIntervalMs: 5_000,
    }),
  });
}
