import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { SecretStore, VersionStage } from '#domain/rotation.ts';

/** Secrets Manager for rotation: stages are always named and checked with DescribeSecret. */
export class SecretsManagerStore implements SecretStore {
  constructor(private readonly client: SecretsManagerClient) {}

  async versions(secretId: string): Promise<Readonly<Record<string, readonly string[]>>> {
    const described = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return described.VersionIdsToStages ?? {};
  }

  async value(
    secretId: string,
    selector: { readonly versionId?: string; readonly stage: VersionStage },
  ): Promise<string | undefined> {
    try {
      const result = await this.client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          VersionStage: selector.stage,
          ...(selector.versionId ? { VersionId: selector.versionId } : {}),
        }),
      );
      return result.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async putPending(secretId: string, token: string, value: string): Promise<void> {
    await this.client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        ClientRequestToken: token,
        SecretString: value,
        VersionStages: ['AWSPENDING'],
      }),
    );
  }

  async promote(secretId: string, token: string, currentVersionId: string): Promise<void> {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token,
        RemoveFromVersionId: currentVersionId,
      }),
    );
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: token,
      }),
    );
  }
}
