import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { secretsManager } from '#adapters/secrets-manager-client.ts';
import { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import { systemClock } from '#domain/ports.ts';
import { makeRotateSecret, type RotationEvent } from '#domain/rotation.ts';
import { readRotationEnvironment } from '#shared/config.ts';
import { rotatedSecretKinds } from '#shared/gateway-secret-rotation.ts';
import { rotationMetric } from '#shared/metric-names.ts';
import { logger, metrics, tracer } from '#shared/observability.ts';

const environment = readRotationEnvironment();
const store = new SecretsManagerStore(secretsManager);

const rotate = makeRotateSecret({
  store,
  kindOf: rotatedSecretKinds(environment, store),
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
  metrics.addMetric(rotationMetric(event.Step), MetricUnit.Count, 1);
  logger.info('Rotation step done', { outcome });
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
