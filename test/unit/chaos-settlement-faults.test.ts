import { describe, expect, it } from 'vitest';
import { refundedAtOnce } from '../../local/tools/chaos/settlement-faults.ts';

/** A late success's move to REFUND_PENDING whose answer was lost at 10:00:00, due at 10:00:20. */
const lost = {
  orderId: 'ord_lost',
  lostAt: Date.parse('2026-01-02T10:00:00.000Z'),
  dueAt: '2026-01-02T10:00:20.000Z',
};
const at = (time: string) => Date.parse(`2026-01-02T${time}Z`);
/** The order's history: its late success's move, then its refund recorded at `time`. */
const refundedAt = (time: string) =>
  [
    {
      from: 'FAILED',
      to: 'REFUND_PENDING',
      at: '2026-01-02T09:59:59.990Z',
      cause: 'GATEWAY_SUCCEEDED',
    },
    {
      from: 'REFUND_PENDING',
      to: 'REFUNDED',
      at: `2026-01-02T${time}Z`,
      cause: 'REFUND_SUCCEEDED',
    },
  ] as const;

describe("the chaos check of a late success whose move's answer was lost", () => {
  it('holds when the refund check went at once after the move', () => {
    const sent = [{ check: 0, delaySeconds: 0, at: at('10:00:00.050') }];
    expect(refundedAtOnce(lost, sent, [])).toEqual([]);
  });

  it('holds with no check sent when another writer recorded the refund before the order was due', () => {
    expect(refundedAtOnce(lost, [], refundedAt('10:00:00.009'))).toEqual([]);
  });

  it.each([
    ['no check at all', []],
    ['only a check sent before the move', [{ check: 0, delaySeconds: 0, at: at('09:59:59.000') }]],
    ['only a later look-up', [{ check: 0, delaySeconds: 2, at: at('10:00:00.050') }]],
    [
      'only the sweep’s, once the order was due',
      [{ check: 0, delaySeconds: 0, at: at('10:00:21.000') }],
    ],
  ])('is violated by %s', (_, sent) => {
    expect(refundedAtOnce(lost, sent, [])).toEqual([
      { orderId: 'ord_lost', detail: expect.stringContaining('no refund check') },
    ]);
  });

  it('is violated by a refund recorded only once the order was due, with no check sent', () => {
    expect(refundedAtOnce(lost, [], refundedAt('10:00:21.000'))).toEqual([
      { orderId: 'ord_lost', detail: expect.stringContaining('no refund check') },
    ]);
  });
});
