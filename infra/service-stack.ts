import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import {
  type ExternalService,
  type SecretName,
  stackOutputs,
  type Wiring,
} from '../lambdas/shared/wiring.ts';
import { PipelineFunctions } from './constructs/functions.ts';
import { PipelineHttpApi } from './constructs/http-api.ts';
import { PipelineObservability } from './constructs/observability.ts';
import { PipelineQueues } from './constructs/queues.ts';
import type { IdentitySettings } from './identity.ts';

export interface ServiceStackProps extends StackProps {
  readonly wiring: Wiring;
  readonly table: dynamodb.ITable;
  readonly secrets: ReadonlyMap<SecretName, secretsmanager.ISecret>;
  readonly secretsKey: kms.IKey;
  readonly endpoints: Readonly<Record<ExternalService, string>>;
  readonly identity: IdentitySettings;
  readonly logRetention: logs.RetentionDays;
  /** Steady requests per second and burst the HTTP API admits across its routes. */
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Subscribed to the alarm topic when set. */
  readonly alarmEmail?: string;
  /** An SNS topic every alarm also notifies, when set. */
  readonly alarmTopicArn?: string;
  /** The stage's name: the `stage` dimension of every custom metric. */
  readonly stage: string;
  /** Per-stage values that replace a wiring setting of every function that has it. */
  readonly settingOverrides: Readonly<Record<string, string>>;
  /** Whether the secrets get their rotation schedules (once their real values are stored). */
  readonly rotation: boolean;
}

/** The code and everything stateless around it, built from the wiring. */
export class ServiceStack extends Stack {
  readonly queues: PipelineQueues;
  readonly functions: PipelineFunctions;
  readonly httpApi: PipelineHttpApi;
  readonly observability: PipelineObservability;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);

    this.queues = new PipelineQueues(this, 'Queues', { queues: props.wiring.queues });
    this.functions = new PipelineFunctions(this, 'Functions', {
      functions: props.wiring.functions,
      table: props.table,
      queues: this.queues,
      queueSpecs: props.wiring.queues,
      ...this.importSecrets(props),
      endpoints: props.endpoints,
      rotationDays: props.wiring.rotationDays,
      rotation: props.rotation,
      logRetention: props.logRetention,
      stage: props.stage,
      settingOverrides: props.settingOverrides,
      identity: props.identity,
    });
    this.httpApi = new PipelineHttpApi(this, 'HttpApi', {
      functions: props.wiring.functions,
      handlers: this.functions,
      identity: props.identity,
      throttle: props.apiThrottle,
      logRetention: props.logRetention,
    });
    this.observability = new PipelineObservability(this, 'Observability', {
      service: props.wiring.service,
      stage: props.stage,
      queues: this.queues,
      functions: this.functions,
      functionSpecs: props.wiring.functions,
      httpApi: this.httpApi,
      alarmEmail: props.alarmEmail,
      alarmTopicArn: props.alarmTopicArn,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.httpApi.api.apiEndpoint });
    this.publishCallbackUrl(props);
    this.publishOperatorOutputs(props);
  }

  /**
   * Where the gateway posts its callbacks: the callback function's URL and path, which an
   * operator enters in the gateway's webhook settings (docs/OPERATIONS.md).
   */
  private publishCallbackUrl(props: ServiceStackProps): void {
    for (const [name, url] of this.functions.urls) {
      const spec = props.wiring.functions[name];
      const gatewayName = props.settingOverrides.GATEWAY_NAME ?? spec?.environment.GATEWAY_NAME;
      if (spec?.functionUrl === undefined || gatewayName === undefined) {
        throw new Error(`The function URL of ${name} serves no gateway's callbacks`);
      }
      // The URL ends with a slash; the path goes after it.
      const path = spec.functionUrl.path.replace('{gateway}', gatewayName).replace(/^\//, '');
      new CfnOutput(this, stackOutputs.callbackUrl, {
        value: `${url.url}${path}`,
        description: "The gateway's webhook endpoint URL: the callback function's URL",
      });
    }
  }

  /** What `npm run ops -- --stage <stage>` needs to find this stage's resources. */
  private publishOperatorOutputs(props: ServiceStackProps): void {
    const outputs: Record<string, string> = { [stackOutputs.tableName]: props.table.tableName };
    for (const [name, { queue, deadLetterQueue }] of this.queues.all) {
      outputs[stackOutputs.queueUrl(name)] = queue.queueUrl;
      outputs[stackOutputs.queueArn(name)] = queue.queueArn;
      outputs[stackOutputs.dlqUrl(name)] = deadLetterQueue.queueUrl;
      outputs[stackOutputs.dlqArn(name)] = deadLetterQueue.queueArn;
    }
    for (const [name, secret] of props.secrets) {
      outputs[stackOutputs.secretArn(name)] = secret.secretArn;
    }
    for (const [id, value] of Object.entries(outputs)) {
      new CfnOutput(this, id, { value });
    }
  }

  /**
   * Grants on the stateful stack's own secret and key objects would write this stack's roles
   * into their resource policies, and the two stacks would depend on each other. Imported
   * references put every grant in the roles' own policies instead.
   */
  private importSecrets(props: ServiceStackProps) {
    const secretsKey = kms.Key.fromKeyArn(this, 'SecretsKey', props.secretsKey.keyArn);
    const secrets: ReadonlyMap<SecretName, secretsmanager.ISecret> = new Map(
      [...props.secrets].map(([name, secret]) => [
        name,
        secretsmanager.Secret.fromSecretAttributes(this, `Secret-${name}`, {
          secretCompleteArn: secret.secretArn,
          encryptionKey: secretsKey,
        }),
      ]),
    );
    return { secrets, secretsKey };
  }
}
