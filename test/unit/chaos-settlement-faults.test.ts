import { describe, expect, it } from 'vitest';
import { refundedAtOnce } from '../../local/tools/chaos/settlement-faults.ts';

/** A late success's move to REFUND_PENDING whose answer was lost at 10:00:00, due at 10:00:20. */
const lost = {
  orderId: 'ord_lost',
  lostAt: Date.parse('2026-01-02T10:00:00.000Z'),
  dueAt: '2026-01-02T10:00:20.000Z',
};
const at = (time: string) => Date.parse(`2026-01-02T${time}Z`);

describe("the chaos check of a late success whose move's answer was lost", () => {
  it('holds when the refund check went at once after the move', () => {
    expect(refundedAtOnce(lost, [{ check: 0, delaySeconds: 0, at: at('10:00:00.050') }])).toEqual(
      [],
    );
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
    expect(refundedAtOnce(lost, sent)).toEqual([
      { orderId: 'ord_lost', detail: expect.stringContaining('no refund check') },
    ]);
  });
});
