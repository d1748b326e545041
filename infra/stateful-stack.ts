import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { type SecretName, secretNames, type TableSpec } from '../lambdas/shared/wiring.ts';

export interface StatefulStackProps extends StackProps {
  readonly stage: string;
  readonly table: TableSpec;
}

/**
 * What must outlive any deployment of the code: the orders table, the secrets and their key. It
 * lives in its own stack so that the service stack can be destroyed and recreated without
 * touching the data.
 */
export class StatefulStack extends Stack {
  readonly table: dynamodb.Table;
  readonly secretsKey: kms.Key;
  readonly secrets: ReadonlyMap<SecretName, secretsmanager.Secret>;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);

    this.table = new dynamodb.Table(this, 'Orders', {
      partitionKey: { name: props.table.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: props.table.ttlAttribute,
      // Every change with both images: the notifications are read from it, not written.
      stream: dynamodb.StreamViewType[props.table.stream],
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: props.stage === 'prod',
    });
    for (const index of props.table.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }

    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description:
        'Encrypts the autopay gateway API key, webhook signing secret, risk engine key pair and webhook endpoint key',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The initial values are random placeholders: the first rotation, or an operator, sets the
    // real gateway key and the Tencent Cloud key pair; no secret value appears in the template.
    this.secrets = new Map(
      secretNames.map((name) => [
        name,
        new secretsmanager.Secret(this, `${name[0]?.toUpperCase()}${name.slice(1)}`, {
          description: `autopay ${props.stage}: ${name}`,
          encryptionKey: this.secretsKey,
          generateSecretString: placeholderOf(name),
          removalPolicy: RemovalPolicy.RETAIN,
        }),
      ]),
    );
  }
}

/**
 * A random value in the secret's shape: the risk engine's is the JSON key pair the adapter reads,
 * with a SecretId Tencent does not know, so it answers AuthFailure (and alarms) until an operator
 * puts the real pair in.
 */
function placeholderOf(name: SecretName): secretsmanager.SecretStringGenerator {
  const random = { passwordLength: 48, excludePunctuation: true };
  if (name !== 'riskEngineCredentials') return random;
  return {
    ...random,
    secretStringTemplate: JSON.stringify({ SecretId: 'replace-with-a-cam-secret-id' }),
    generateStringKey: 'SecretKey',
  };
}
