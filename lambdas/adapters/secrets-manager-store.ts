import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { SecretStore, VersionStage } from '#domain/rotation.ts';
import { promotionTags } from '#shared/secret-tags.ts';

/** What DescribeSecret tells about a secret's versions. */
export interface SecretDescription {
  /** Version id → its staging labels. */
  readonly stages: Readonly<Record<string, readonly string[]>>;
  /** The version a rotation last recorded making AWSCURRENT, and when, if one did. */
  readonly promotion?: { readonly versionId: string; readonly at: Date };
}

/** Secrets Manager for rotation: stages are always named and checked with DescribeSecret. */
export class SecretsManagerStore implements SecretStore {
  constructor(private readonly client: SecretsManagerClient) {}

  async describe(secretId: string): Promise<SecretDescription> {
    const described = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    const tags = new Map((described.Tags ?? []).map(({ Key, Value }) => [Key, Value]));
    const versionId = tags.get(promotionTags.versionId);
    const at = new Date(tags.get(promotionTags.at) ?? Number.NaN);
    return {
      stages: described.VersionIdsToStages ?? {},
      ...(versionId && !Number.isNaN(at.getTime()) ? { promotion: { versionId, at } } : {}),
    };
  }

  async versions(secretId: string): Promise<Readonly<Record<string, readonly string[]>>> {
    return (await this.describe(secretId)).stages;
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

  async recordPromotion(secretId: string, token: string, at: Date): Promise<void> {
    // A tag, because a version's value cannot change once written and the move comes after it.
    await this.client.send(
      new TagResourceCommand({
        SecretId: secretId,
        Tags: [
          { Key: promotionTags.versionId, Value: token },
          { Key: promotionTags.at, Value: at.toISOString() },
        ],
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
