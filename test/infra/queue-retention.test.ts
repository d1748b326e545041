import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { PipelineQueues } from '../../infra/constructs/queues.ts';
import { type QueueSpec, wiring } from '../../lambdas/shared/wiring.ts';

/** The wiring's queues with the payment queue's retention replaced. */
function queuesWith(retention: Pick<QueueSpec, 'retentionDays' | 'dlqRetentionDays'>) {
  return {
    ...wiring.queues,
    paymentSubmission: { ...wiring.queues.paymentSubmission, ...retention },
  };
}

const build = (retention: Pick<QueueSpec, 'retentionDays' | 'dlqRetentionDays'>) => () =>
  new PipelineQueues(new Stack(new App(), 'Queues'), 'Queues', { queues: queuesWith(retention) });

describe('PipelineQueues retention', () => {
  it.each([
    { retentionDays: 14, dlqRetentionDays: 14 },
    { retentionDays: 10, dlqRetentionDays: 4 },
    { retentionDays: 7, dlqRetentionDays: 15 },
  ])('refuses a dead-letter queue that may drop a message as it arrives: %o', (retention) => {
    expect(build(retention)).toThrow(
      /Queue 'paymentSubmission' .* the dead-letter queue must keep them longer than the queue, and at most 14 days/,
    );
  });

  it('builds the wiring queues, each DLQ keeping longer than its queue', () => {
    expect(build(wiring.queues.paymentSubmission)).not.toThrow();
  });
});
