import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type QueueName, type QueueSpec, queueNames } from '../../lambdas/shared/wiring.ts';

export interface PipelineQueuesProps {
  readonly queues: Readonly<Record<QueueName, QueueSpec>>;
}

export interface PipelineQueue {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly spec: QueueSpec;
}

/** SQS keeps a message 14 days at most. */
const MAX_RETENTION_DAYS = 14;

/**
 * A standard queue's message keeps its first enqueue time in the dead-letter queue, and SQS
 * deletes it there once the DLQ's retention has passed since that time: a DLQ that keeps no
 * longer than its queue may delete a message the moment it arrives.
 */
function checkRetention(name: QueueName, spec: QueueSpec): void {
  if (
    spec.retentionDays <= 0 ||
    spec.dlqRetentionDays <= spec.retentionDays ||
    spec.dlqRetentionDays > MAX_RETENTION_DAYS
  ) {
    throw new Error(
      `Queue '${name}' keeps messages ${spec.retentionDays} days and its dead-letter queue ` +
        `${spec.dlqRetentionDays}: the dead-letter queue must keep them longer than the queue, ` +
        `and at most ${MAX_RETENTION_DAYS} days`,
    );
  }
}

/** Every wiring queue with its dead-letter queue, so no message is ever dropped silently. */
export class PipelineQueues extends Construct {
  readonly all: ReadonlyMap<QueueName, PipelineQueue>;

  constructor(scope: Construct, id: string, props: PipelineQueuesProps) {
    super(scope, id);

    const all = new Map<QueueName, PipelineQueue>();
    for (const name of queueNames) {
      const spec = props.queues[name];
      checkRetention(name, spec);
      const deadLetterQueue = new sqs.Queue(this, `${name}DeadLetters`, {
        retentionPeriod: Duration.days(spec.dlqRetentionDays),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      const queue = new sqs.Queue(this, name, {
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
        retentionPeriod: Duration.days(spec.retentionDays),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: spec.maxReceiveCount },
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      all.set(name, { queue, deadLetterQueue, spec });
    }
    this.all = all;
  }

  get(name: QueueName): PipelineQueue {
    const pair = this.all.get(name);
    if (!pair) {
      throw new Error(`The wiring names queue '${name}', which has no spec in wiring.queues`);
    }
    return pair;
  }
}
