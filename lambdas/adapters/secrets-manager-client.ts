import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { tracer } from '#shared/observability.ts';
import { requestHandlerOptions } from './request-handler.ts';

/**
 * Secrets Manager's client, created once per instance and captured by the tracer; its endpoint
 * may come from the environment, and its timeouts do.
 */
export const secretsManager = tracer.captureAWSv3Client(
  new SecretsManagerClient({ requestHandler: requestHandlerOptions() }),
);
