import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { GatewayApiKeyKind, WebhookSecretKind } from '#adapters/gateway-secret-kinds.ts';
import { secretsManager } from '#adapters/secrets-manager-client.ts';
import { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import { systemClock } from '#domain/ports.ts';
import { makeRotateSecret, type RotationEvent, type SecretKind } from '#domain/rotation.ts';
import { readRotationEnvironment } from '#shared/config.ts';
import { logger, metrics, tracer } from '#shared/observability.ts';

const environment = readRotationEnvironment();
const store = new SecretsManagerStore(secretsManager);

/** Secrets Manager names a secret by ARN; an operator or the local tools may use its name. */
function sameSecret(given: string, configured: string): boolean {
  const name = (id: string) =>
    id
      .split(':secret:')
      .at(-1)
      ?.replace(/-[A-Za-z0-9]{6}$/, '') ?? id;
  return given === configured || name(given) === name(configured);
}

const kinds: Array<[string, SecretKind]> = [
  [
    environment.GATEWAY_API_KEY_SECRET_ID,
    new GatewayApiKeyKind(environment.GATEWAY_URL, environment.GATEWAY_TIMEOUT_MS),
  ],
  [
    environment.WEBHOOK_SECRET_ID,
    new WebhookSecretKind(environment.GATEWAY_URL, environment.GATEWAY_TIMEOUT_MS, async () => {
      const key = await store.value(environment.GATEWAY_API_KEY_SECRET_ID, { stage: 'AWSCURRENT' });
      if (key === undefined) throw new Error('The gateway API key has no current value');
      return key;
    }),
  ],
];

const rotate = makeRotateSecret({
  store,
  kindOf: (secretId) => kinds.find(([configured]) => sameSecret(secretId, configured))?.[1],
  clock: systemClock,
});

/** key-rotation: one step of the Secrets Manager rotation protocol per invocation. */
export const handler = middy(async (event: RotationEvent) => {
  // Never the values: the secret's id, the token and the step say all an operator needs.
  logger.appendKeys({
    secretId: event.SecretId,
    step: event.Step,
    token: event.ClientRequestToken,
  });
  const outcome = await rotate(event);
  metrics.addMetric(`Rotation_${event.Step}`, MetricUnit.Count, 1);
  logger.info('Rotation step done', { outcome });
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
