import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import type { Wiring } from '../lambdas/shared/wiring.ts';
import { PipelineFunctions } from './constructs/functions.ts';
import { PipelineHttpApi } from './constructs/http-api.ts';
import { PipelineQueues } from './constructs/queues.ts';

export interface ServiceStackProps extends StackProps {
  readonly wiring: Wiring;
  readonly table: dynamodb.ITable;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
}

/** The code and everything stateless around it, built from the wiring. */
export class ServiceStack extends Stack {
  readonly queues: PipelineQueues;
  readonly functions: PipelineFunctions;
  readonly httpApi: PipelineHttpApi;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);

    this.queues = new PipelineQueues(this, 'Queues', { queues: props.wiring.queues });
    this.functions = new PipelineFunctions(this, 'Functions', {
      functions: props.wiring.functions,
      table: props.table,
      queues: this.queues,
    });
    this.httpApi = new PipelineHttpApi(this, 'HttpApi', {
      functions: props.wiring.functions,
      handlers: this.functions,
      jwtIssuer: props.jwtIssuer,
      jwtAudience: props.jwtAudience,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.httpApi.api.apiEndpoint });
  }
}
