import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import {
  AGENT_SCOPES,
  RESOURCE_SERVER,
  type SecretName,
  secretNames,
  type TableSpec,
  USER_SCOPES,
} from '../lambdas/shared/wiring.ts';

export interface StatefulStackProps extends StackProps {
  readonly stage: string;
  readonly table: TableSpec;
  /**
   * The user pool's settings: where the user's app is sent back after sign-in, and the prefix of
   * the pool's hosted domain (its token endpoint). Absent: another OIDC provider, no pool.
   */
  readonly identity?: {
    readonly userAppCallbackUrls: readonly string[];
    readonly cognitoDomainPrefix: string;
  };
}

/** The identity provider the stack brings: users, the user's app, and one client per agent. */
export interface StackIdentity {
  readonly userPool: cognito.UserPool;
  readonly userAppClient: cognito.UserPoolClient;
  /** The issuer of the pool's tokens, as a JWT authorizer names it. */
  readonly issuer: string;
}

/** `autopay/orders.confirm` → `orders.confirm`: the scope's name on its resource server. */
const scopeName = (scope: string) => scope.slice(RESOURCE_SERVER.length + 1);

/**
 * What must outlive any deployment of the code: the orders table, the secrets and their key. It
 * lives in its own stack so that the service stack can be destroyed and recreated without
 * touching the data.
 */
export class StatefulStack extends Stack {
  readonly table: dynamodb.Table;
  readonly secretsKey: kms.Key;
  readonly secrets: ReadonlyMap<SecretName, secretsmanager.Secret>;
  readonly identity: StackIdentity | undefined;

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
        projectionType:
          index.projection === 'all'
            ? dynamodb.ProjectionType.ALL
            : dynamodb.ProjectionType.KEYS_ONLY,
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
    this.identity = props.identity ? this.createIdentity(props.identity, props.stage) : undefined;
  }

  /**
   * The user pool: users sign in through the user's app (authorization code with PKCE, the user
   * scopes); each agent is an app client of its own, created at run time by the agents function
   * (client credentials, the agent scopes). The scopes live on one resource server.
   */
  private createIdentity(
    props: NonNullable<StatefulStackProps['identity']>,
    stage: string,
  ): StackIdentity {
    const userPool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      // The user approves payments: a second factor (an authenticator app) is not optional.
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { sms: false, otp: true },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
      },
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: stage === 'prod',
    });
    const scopes = [...AGENT_SCOPES, ...USER_SCOPES].map(
      (scope) =>
        new cognito.ResourceServerScope({
          scopeName: scopeName(scope),
          scopeDescription: `autopay ${scopeName(scope)}`,
        }),
    );
    const resourceServer = userPool.addResourceServer('Api', {
      identifier: RESOURCE_SERVER,
      userPoolResourceServerName: 'autopay',
      scopes,
    });
    const oauthScope = (scope: string) => {
      const found = scopes.find((candidate) => candidate.scopeName === scopeName(scope));
      if (!found) throw new Error(`No scope ${scope} on the resource server`);
      return cognito.OAuthScope.resourceServer(resourceServer, found);
    };
    // The user's own app: a public client (no secret) that never holds an agent scope.
    const userAppClient = userPool.addClient('UserApp', {
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, ...USER_SCOPES.map(oauthScope)],
        callbackUrls: [...props.userAppCallbackUrls],
      },
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
    });
    userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: props.cognitoDomainPrefix } });
    const issuer = `https://cognito-idp.${this.region}.amazonaws.com/${userPool.userPoolId}`;
    new CfnOutput(this, 'UserPoolId', { value: userPool.userPoolId });
    new CfnOutput(this, 'UserAppClientId', { value: userAppClient.userPoolClientId });
    new CfnOutput(this, 'TokenIssuer', { value: issuer });
    return { userPool, userAppClient, issuer };
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
