import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionSpec } from '../../lambdas/shared/wiring.ts';
import type { PipelineQueues } from './queues.ts';

/** Wiring entries are relative to the project root, wherever the CDK app is run from. */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface PipelineFunctionsProps {
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly table: dynamodb.ITable;
  readonly queues: PipelineQueues;
}

/** One Lambda per wiring function, with exactly the grants and event sources its spec names. */
export class PipelineFunctions extends Construct {
  readonly all: ReadonlyMap<string, NodejsFunction>;

  constructor(scope: Construct, id: string, props: PipelineFunctionsProps) {
    super(scope, id);

    const all = new Map<string, NodejsFunction>();
    for (const [name, spec] of Object.entries(props.functions)) {
      const queueUrls = Object.entries(spec.sendsTo).map(([variable, queueName]) => [
        variable,
        props.queues.get(queueName).queue.queueUrl,
      ]);
      const fn = new NodejsFunction(this, name, {
        entry: path.join(projectRoot, spec.entry),
        handler: 'handler',
        projectRoot,
        depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: spec.memoryMb,
        timeout: Duration.seconds(spec.timeoutSeconds),
        tracing: lambda.Tracing.ACTIVE,
        environment: {
          // The bundle ships source maps; Node only applies them to stack traces when asked to.
          NODE_OPTIONS: '--enable-source-maps',
          ...spec.environment,
          TABLE_NAME: props.table.tableName,
          ...Object.fromEntries(queueUrls),
        },
        logGroup: new logs.LogGroup(this, `${name}Logs`, {
          retention: logs.RetentionDays.ONE_MONTH,
        }),
        bundling: {
          format: OutputFormat.ESM,
          minify: true,
          sourceMap: true,
          target: 'node22',
          mainFields: ['module', 'main'],
          // An ESM bundle has no `require`, which the CommonJS dependencies inlined into it call.
          banner:
            "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        },
      });

      grantTableAccess(props.table, fn, spec.table);
      for (const queueName of Object.values(spec.sendsTo)) {
        props.queues.get(queueName).queue.grantSendMessages(fn);
      }
      if (spec.consumes) {
        const source = spec.consumes;
        fn.addEventSource(
          new SqsEventSource(props.queues.get(source.queue).queue, {
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
      all.set(name, fn);
    }
    this.all = all;
  }

  get(name: string): NodejsFunction {
    const fn = this.all.get(name);
    if (!fn) {
      throw new Error(`No function named '${name}' in the wiring`);
    }
    return fn;
  }
}

function grantTableAccess(
  table: dynamodb.ITable,
  fn: NodejsFunction,
  access: FunctionSpec['table'],
): void {
  switch (access) {
    case 'none':
      return;
    case 'read':
      table.grantReadData(fn);
      return;
    case 'readWrite':
      table.grantReadWriteData(fn);
      return;
  }
}
