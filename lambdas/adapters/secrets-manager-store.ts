import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
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

export interface StoredVersion {
  readonly value: string;
  /** Set by Secrets Manager when the version was written. */
  readonly createdAt: Date;
}

/**
 * Secrets Manager as rotation and the signing-secret reader use it. Every read names its version
 * or its stage: a read naming neither may not return AWSCURRENT in every implementation.
 */
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
    return (await this.read(secretId, selector))?.SecretString;
  }

  /** A version's value and creation date, or undefined when there is no such version. */
  async version(secretId: string, versionId: string): Promise<StoredVersion | undefined> {
    const result = await this.read(secretId, { versionId });
    if (result?.SecretString === undefined || result.CreatedDate === undefined) return undefined;
    return { value: result.SecretString, createdAt: result.CreatedDate };
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

  /** Takes AWSPENDING off a version that will never be promoted (a key that failed its test). */
  async dropPending(secretId: string, token: string): Promise<void> {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: token,
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

  private async read(
    secretId: string,
    selector: { readonly versionId?: string; readonly stage?: VersionStage },
  ): Promise<GetSecretValueCommandOutput | undefined> {
    try {
      return await this.client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          ...(selector.stage ? { VersionStage: selector.stage } : {}),
          ...(selector.versionId ? { VersionId: selector.versionId } : {}),
        }),
      );
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }
}
