import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { itemPrefixes } from '../../lambdas/adapters/table-keys.ts';
import {
  type EnvironmentBinding,
  environmentBindings,
} from '../../lambdas/shared/function-environment.ts';
import { stripeGatewayName } from '../../lambdas/shared/gateway-names.ts';
import { promotionTags } from '../../lambdas/shared/secret-tags.ts';
import {
  type ExternalService,
  type FunctionSpec,
  lambdaLogging,
  type QueueName,
  type QueueSpec,
  type SecretName,
  type StreamSourceSpec,
  type TableAccess,
} from '../../lambdas/shared/wiring.ts';
import { lazyModules, powertoolsLayerParameter, providedModules } from '../bundling.ts';
import type { IdentitySettings } from '../identity.ts';
import type { PipelineQueues } from './queues.ts';

/** Wiring entries are relative to the project root, wherever the CDK app is run from. */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface PipelineFunctionsProps {
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly table: dynamodb.ITable;
  readonly queues: PipelineQueues;
  readonly queueSpecs: Readonly<Record<QueueName, QueueSpec>>;
  readonly secrets: ReadonlyMap<SecretName, secretsmanager.ISecret>;
  /** The key the secrets are encrypted with; readers of a secret may decrypt with it. */
  readonly secretsKey: kms.IKey;
  /** Days between automatic rotations of the secrets a function rotates. */
  readonly rotationDays: number;
  /**
   * Whether the secrets get their rotation schedules. Secrets Manager runs the rotation
   * function's testSecret step when a schedule is created, so a schedule on a secret still
   * holding its generated placeholder fails and rolls the stack back.
   */
  readonly rotation: boolean;
  /** The stage's name, given to every function for the `stage` dimension of its metrics. */
  readonly stage: string;
  /** Per-stage values that replace a wiring setting of every function that has it. */
  readonly settingOverrides: Readonly<Record<string, string>>;
  readonly endpoints: Readonly<Record<ExternalService, string>>;
  readonly logRetention: logs.RetentionDays;
  readonly identity: IdentitySettings;
}

/** The HTTP API's token authorizer with the stack's user pool: not a wiring function (no route). */
const tokenAuthorizerSpec: FunctionSpec = {
  entry: 'lambdas/handlers/token-authorizer.ts',
  memoryMb: 256,
  timeoutSeconds: 5,
  environment: {},
  routes: [],
  table: 'none',
  sendsTo: {},
};

/** One Lambda per wiring function, with exactly the grants and event sources its spec names. */
export class PipelineFunctions extends Construct {
  readonly all: ReadonlyMap<string, NodejsFunction>;
  /** The function URLs, by the name of the function each invokes. */
  readonly urls: ReadonlyMap<string, lambda.FunctionUrl>;

  private readonly props: PipelineFunctionsProps;
  private readonly powertools: lambda.ILayerVersion;
  private authorizer: NodejsFunction | undefined;

  constructor(scope: Construct, id: string, props: PipelineFunctionsProps) {
    super(scope, id);
    this.props = props;

    this.powertools = lambda.LayerVersion.fromLayerVersionArn(
      this,
      'PowertoolsLayer',
      ssm.StringParameter.valueForStringParameter(this, powertoolsLayerParameter),
    );
    const all = new Map<string, NodejsFunction>();
    const urls = new Map<string, lambda.FunctionUrl>();
    for (const [name, spec] of Object.entries(props.functions)) {
      const fn = this.createFunction(name, spec);
      if (spec.functionUrl) {
        // Open to anyone, as the callback route was: the function authenticates each request
        // itself, and its reserved concurrency bounds how many run at once.
        urls.set(name, fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE }));
      }
      for (const binding of environmentBindings(spec)) {
        this.bind(fn, binding);
      }
      if (spec.routes.length > 0 && props.identity.userIdClaim !== 'sub') {
        fn.addEnvironment('USER_ID_CLAIM', props.identity.userIdClaim);
      }
      if (spec.streams) {
        this.readStream(fn, spec.streams);
      }
      const rotated = props.rotation ? (spec.rotates ?? []) : [];
      for (const secret of rotated) {
        this.rotateWith(fn, name, secret);
      }
      if (rotated.length > 0) {
        // The schedule's own key grant is lost on an imported key. Writing a version encrypts it
        // with a data key the writer must be allowed to generate; nothing needs Encrypt or
        // ReEncrypt.
        props.secretsKey.grant(fn, 'kms:Decrypt', 'kms:GenerateDataKey');
      }
      if (spec.schedule) {
        new events.Rule(this, `${name}Schedule`, {
          description: `Runs ${name} every ${spec.schedule.rateMinutes} minutes`,
          schedule: events.Schedule.rate(Duration.minutes(spec.schedule.rateMinutes)),
          targets: [new targets.LambdaFunction(fn, { retryAttempts: 2 })],
        });
      }
      all.set(name, fn);
    }
    this.all = all;
    this.urls = urls;
  }

  private createFunction(name: string, spec: FunctionSpec): NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention: this.props.logRetention });
    // Its own role, not the managed basic-execution policy, which would let it create and write
    // every log group in the account: it writes only to its own.
    const role = new iam.Role(this, `${name}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the autopay ${name} function`,
    });
    logGroup.grantWrite(role);
    return new NodejsFunction(this, name, {
      entry: path.join(projectRoot, spec.entry),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      // Capacity no other function can take; the account keeps 100 unreserved besides.
      reservedConcurrentExecutions: spec.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat[lambdaLogging.format],
      systemLogLevelV2: lambda.SystemLogLevel[lambdaLogging.systemLogLevel],
      applicationLogLevelV2: lambda.ApplicationLogLevel[lambdaLogging.applicationLogLevel],
      // The bundle ships source maps; Node only applies them to stack traces when asked to.
      environment: { NODE_OPTIONS: '--enable-source-maps' },
      role,
      logGroup,
      layers: [this.powertools],
      bundling: {
        // The Stripe SDK (~240 KB minified) is loaded only on the Stripe path, and shipped only
        // with the functions of a stage that pays through Stripe.
        externalModules: [...providedModules, ...lazyModules],
        ...(spec.environment.GATEWAY_NAME === stripeGatewayName &&
        spec.endpoints !== undefined &&
        'GATEWAY_URL' in spec.endpoints
          ? { nodeModules: [...lazyModules] }
          : {}),
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        target: 'node24',
        mainFields: ['module', 'main'],
        // An ESM bundle has no `require`, which the CommonJS dependencies inlined into it call.
        banner:
          "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
    });
  }

  /** Sets one variable of the function's environment, with the grant its value calls for. */
  private bind(fn: NodejsFunction, binding: EnvironmentBinding): void {
    switch (binding.kind) {
      case 'setting':
        fn.addEnvironment(
          binding.variable,
          this.props.settingOverrides[binding.variable] ?? binding.value,
        );
        return;
      case 'stage':
        fn.addEnvironment(binding.variable, this.props.stage);
        return;
      case 'table':
        this.bindTable(fn, binding.variable, binding.access);
        return;
      case 'queue':
        this.bindQueue(fn, binding);
        return;
      case 'deadLetters':
        this.bindDeadLetters(fn, binding.variable, binding.queue);
        return;
      case 'maxReceiveCount':
        fn.addEnvironment(
          binding.variable,
          String(this.props.queueSpecs[binding.queue].maxReceiveCount),
        );
        return;
      case 'secret':
        this.bindSecret(fn, binding.variable, binding.secret);
        return;
      case 'endpoint':
        fn.addEnvironment(binding.variable, this.props.endpoints[binding.service]);
        return;
      case 'userPool':
        this.bindUserPool(fn, binding.variable);
        return;
    }
  }

  /**
   * The user pool whose app clients the function creates and deletes (one per agent), and only
   * those two actions on that pool. With another OIDC provider there is no pool: the variable is
   * empty and agents are registered with that provider.
   */
  private bindUserPool(fn: NodejsFunction, variable: string): void {
    const identity = this.props.identity;
    if (identity.kind !== 'cognito') {
      fn.addEnvironment(variable, '');
      return;
    }
    fn.addEnvironment(variable, identity.userPoolId);
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['cognito-idp:CreateUserPoolClient', 'cognito-idp:DeleteUserPoolClient'],
      resourceArns: [identity.userPoolArn],
    });
  }

  /** The token authorizer, once the HTTP API made it (the stack's user pool only). */
  existingTokenAuthorizer(): NodejsFunction | undefined {
    return this.authorizer;
  }

  /** The token authorizer of the stack's user pool, made on first use; it touches no resource. */
  tokenAuthorizer(): NodejsFunction {
    const identity = this.props.identity;
    if (identity.kind !== 'cognito') {
      throw new Error("The token authorizer is for the stack's Cognito user pool only");
    }
    if (this.authorizer === undefined) {
      this.authorizer = this.createFunction('tokenAuthorizer', tokenAuthorizerSpec);
      this.authorizer.addEnvironment('USER_POOL_ID', identity.userPoolId);
    }
    return this.authorizer;
  }

  /**
   * Reads of the whole table and its indexes, unconditioned: the sweep and the operator tools
   * query the due index, whose partition key is a shard rather than an item's key, and no read can
   * move money. Writes only on the table, and only to items whose partition key starts with a
   * prefix of the kinds `access` lists. ForAllValues is safe with Allow here: every PutItem and
   * UpdateItem names its key, so dynamodb:LeadingKeys is never empty.
   */
  private bindTable(fn: NodejsFunction, variable: string, access: TableAccess): void {
    const { table } = this.props;
    fn.addEnvironment(variable, table.tableName);
    table.grantReadData(fn);
    if (access.writes.length === 0) {
      return;
    }
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: [...tableWriteActions],
      resourceArns: [table.tableArn],
      conditions: {
        'ForAllValues:StringLike': {
          'dynamodb:LeadingKeys': access.writes.map((kind) => `${itemPrefixes[kind]}*`),
        },
      },
    });
  }

  /**
   * A queue the function sends to, or the one it consumes: the event source mapping grants the
   * consumer its receive, delete and visibility calls.
   */
  private bindQueue(
    fn: NodejsFunction,
    binding: Extract<EnvironmentBinding, { kind: 'queue' }>,
  ): void {
    const { queue } = this.props.queues.get(binding.queue);
    fn.addEnvironment(binding.variable, queue.queueUrl);
    if (binding.send) {
      queue.grantSendMessages(fn);
    }
    const source = binding.eventSource;
    if (!source) {
      return;
    }
    fn.addEventSource(
      new SqsEventSource(queue, {
        batchSize: source.batchSize,
        maxBatchingWindow:
          source.maxBatchingWindowSeconds > 0
            ? Duration.seconds(source.maxBatchingWindowSeconds)
            : undefined,
        maxConcurrency: source.maxConcurrency,
        reportBatchItemFailures: source.reportBatchItemFailures,
      }),
    );
  }

  /**
   * A dead-letter queue the function reads and leaves as it is: it reads its depth, receives,
   * which hides what it received for a while, shows again what it could not handle, and never
   * deletes, so the messages stay for the queue's alarm (which counts hidden messages) and the
   * operator's redrive. SSE-SQS needs no key grant.
   */
  private bindDeadLetters(fn: NodejsFunction, variable: string, queue: QueueName): void {
    const { deadLetterQueue } = this.props.queues.get(queue);
    fn.addEnvironment(variable, deadLetterQueue.queueUrl);
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
      resourceArns: [deadLetterQueue.queueArn],
    });
  }

  /**
   * The table's change stream, filtered to the item kinds the function cares about (a change of
   * any other item never invokes it, and is not billed). A failing change is retried, the batch
   * halved around it, and at last its position goes to the on-failure queue; the stream grant
   * (DescribeStream, GetRecords, GetShardIterator, ListStreams) comes with the mapping.
   */
  private readStream(fn: NodejsFunction, source: StreamSourceSpec): void {
    fn.addEventSource(
      new DynamoEventSource(this.props.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: source.batchSize,
        maxBatchingWindow: Duration.seconds(source.maxBatchingWindowSeconds),
        retryAttempts: source.retryAttempts,
        bisectBatchOnError: source.bisectBatchOnError,
        reportBatchItemFailures: source.reportBatchItemFailures,
        onFailure: new SqsDlq(this.props.queues.get(source.onFailure).deadLetterQueue),
        filters: source.itemKinds.map((kind) =>
          lambda.FilterCriteria.filter({
            dynamodb: { Keys: { pk: { S: lambda.FilterRule.beginsWith(itemPrefixes[kind]) } } },
          }),
        ),
      }),
    );
  }

  /** A secret the function reads, and the key it is encrypted with. */
  private bindSecret(fn: NodejsFunction, variable: string, name: SecretName): void {
    const secret = this.secretOf(name);
    fn.addEnvironment(variable, secret.secretArn);
    secret.grantRead(fn);
    this.props.secretsKey.grantDecrypt(fn);
  }

  private rotateWith(fn: NodejsFunction, name: string, secretName: SecretName): void {
    const secret = this.secretOf(secretName);
    // Grants the rotation steps' reads and writes and lets Secrets Manager invoke fn.
    new secretsmanager.RotationSchedule(this, `${name}Rotates${secretName}`, {
      secret,
      rotationLambda: fn,
      automaticallyAfter: Duration.days(this.props.rotationDays),
      // Created only once the real keys are stored (rotation=on): even without rotating now,
      // Secrets Manager runs testSecret on creation, and the first rotation needs the real key.
      rotateImmediatelyOnUpdate: false,
    });
    // finishSecret records when it moves AWSCURRENT, and may write only that record.
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['secretsmanager:TagResource'],
      resourceArns: [secret.secretArn],
      conditions: {
        'ForAllValues:StringEquals': { 'aws:TagKeys': Object.values(promotionTags) },
      },
    });
  }

  private secretOf(name: SecretName): secretsmanager.ISecret {
    const secret = this.props.secrets.get(name);
    if (!secret) {
      throw new Error(`No secret named '${name}'`);
    }
    return secret;
  }

  get(name: string): NodejsFunction {
    const fn = this.all.get(name);
    if (!fn) {
      throw new Error(`No function named '${name}' in the wiring`);
    }
    return fn;
  }
}

/**
 * Every write the adapters make: single-item puts and updates, and TransactWriteItems, which IAM
 * authorises item by item as these same actions.
 */
const tableWriteActions = ['dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;
