import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import type { TableSpec } from '../lambdas/shared/wiring.ts';

export interface StatefulStackProps extends StackProps {
  readonly stage: string;
  readonly table: TableSpec;
}

/**
 * What must outlive any deployment of the code: the orders table. It lives in its own stack so
 * that the service stack can be destroyed and recreated without touching the data.
 */
export class StatefulStack extends Stack {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);

    this.table = new dynamodb.Table(this, 'Orders', {
      partitionKey: { name: props.table.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: props.table.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: props.stage === 'prod',
    });
  }
}
