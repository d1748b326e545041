import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Secrets Manager's client, created once per instance; its endpoint may come from the environment. */
export const secretsManager = new SecretsManagerClient({});
