import { describe, expect, it } from 'vitest';
import type { Order } from '#domain/order.ts';
import type { InitialStatus } from '#domain/order-state.ts';
import {
  checkGuards,
  defaultGuardAgentSettings,
  type GuardRun,
} from '../../local/tools/chaos/guard-agents.ts';

/** Only what the guard checks read of an order: how intake stored it. */
function order(
  orderId: string,
  intake: InitialStatus,
  fields: Partial<Order> = {},
): [string, Order] {
  return [
    orderId,
    {
      orderId,
      history: [{ from: null, to: intake, at: '2026-01-02T10:00:00.000Z', cause: 'INTAKE' }],
      ...fields,
    } as Order,
  ];
}

const quietFlood: GuardRun['flood'] = {
  admitted: ['ord_f1'],
  refused: ['ord_f2'],
  other: [],
  seconds: 1,
};

function violated(run: GuardRun, orders: Map<string, Order>, stored: string[] = []) {
  return checkGuards(run, orders, stored, defaultGuardAgentSettings)
    .filter((check) => check.violations.length > 0)
    .map((check) => check.name);
}

describe("the chaos run's checks of the misbehaving agents", () => {
  const held = { confirmationReason: 'POSSIBLE_DUPLICATE' as const, duplicateOf: 'ord_a' };

  it('pass a loop whose repeats were held as duplicates of the first', () => {
    const orders = new Map([
      order('ord_a', 'PENDING_PAYMENT'),
      order('ord_b', 'AWAITING_CONFIRMATION', held),
    ]);
    const run = {
      intents: new Map([['i', ['ord_a', 'ord_b']]]),
      loopRefused: 0,
      flood: quietFlood,
    };

    expect(violated(run, orders)).toEqual([]);
  });

  it('catch an intent paid twice at intake, and a repeat held for another reason', () => {
    const orders = new Map([
      order('ord_a', 'PENDING_PAYMENT'),
      order('ord_b', 'PENDING_PAYMENT'),
      order('ord_c', 'AWAITING_CONFIRMATION', { confirmationReason: 'OVER_DAILY_LIMIT' }),
    ]);
    const run = {
      intents: new Map([['i', ['ord_a', 'ord_b', 'ord_c']]]),
      loopRefused: 0,
      flood: quietFlood,
    };

    expect(violated(run, orders)).toEqual([
      'no intent was paid twice without a confirmation (retry loop)',
      "the retry loop's repeats waited for the user as POSSIBLE_DUPLICATE of the first",
    ]);
  });

  it('catch a refused request that was stored, a flood never refused, or admitted too fast', () => {
    const run = {
      intents: new Map(),
      loopRefused: 0,
      flood: { admitted: Array(30).fill('ord_x'), refused: [], other: [], seconds: 2 },
    };

    expect(violated(run, new Map(), ['ord_f2'])).toEqual([
      'every refused (429) request changed nothing',
      'the flooding agent was refused, and admitted no faster than its bucket',
    ]);
  });
});
