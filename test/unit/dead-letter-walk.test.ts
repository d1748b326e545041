import { describe, expect, it } from 'vitest';
import { deadLetterRead, defaultDeadLetterWalk } from '#domain/sweep.ts';

/*
 * How much of the payment DLQ one sweep run reads, and for how long it hides what it read, from
 * the DLQ's depth (visible and hidden messages): a walk through the whole queue in 12 runs while
 * 100 to 1,000 messages a run allow it, each message hidden for the walk's runs plus one, never
 * longer than SQS's 12 hours. A run every 5 minutes, as in AWS.
 */

const every = 300;
const longest = 43_200;
const readAt = (depth: number) => deadLetterRead(depth, defaultDeadLetterWalk, every, longest);

describe('the sweep’s walk through the payment DLQ', () => {
  it.each([
    // depth, messages a run, hidden for (runs)
    [0, 100, 2],
    [40, 100, 2],
    [100, 100, 2],
    [101, 100, 3],
    [1_200, 100, 13],
    [1_300, 109, 13],
    [12_000, 1_000, 13],
    [60_000, 1_000, 61],
    [120_000, 1_000, 121],
    [143_000, 1_000, 144],
  ])(
    'reads a DLQ %i deep %i messages at a time and hides each for %i runs',
    (depth, messages, runs) => {
      // Act
      const read = readAt(depth);

      // Assess
      expect(read).toEqual({ messages, hideSeconds: runs * every });
    },
  );

  it('hides no longer than the queue can, however deep it is', () => {
    // Act
    const read = readAt(10_000_000);

    // Assess
    expect(read).toEqual({ messages: 1_000, hideSeconds: longest });
  });

  it('keeps a message hidden until the runs after it have read every other one', () => {
    for (const depth of [1, 99, 100, 101, 999, 1_201, 5_555, 12_001, 99_999, 142_999]) {
      // Act
      const { messages, hideSeconds } = readAt(depth);

      // Assess: the runs while it hides read at least the whole queue.
      expect((hideSeconds / every) * messages, String(depth)).toBeGreaterThanOrEqual(depth);
    }
  });
});
