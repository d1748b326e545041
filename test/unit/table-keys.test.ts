import { describe, expect, it } from 'vitest';
import {
  agentKey,
  breakerKey,
  breakerWindowKey,
  controlKey,
  type ItemKind,
  itemPrefixes,
  orderKey,
  spendKey,
} from '#adapters/table-keys.ts';

describe('the table key layout', () => {
  it('gives every kind of item a prefix that no other prefix starts', () => {
    const prefixes = Object.values(itemPrefixes);
    for (const prefix of prefixes) {
      const others = prefixes.filter((other) => other !== prefix);
      expect(
        others.filter((other) => other.startsWith(prefix)),
        prefix,
      ).toEqual([]);
    }
  });

  it.each<[ItemKind, { pk: string }]>([
    ['order', orderKey('ord_1')],
    ['agent', agentKey('demo-agent')],
    ['spend', spendKey('demo-agent', '2026-11-23')],
    ['breaker', breakerKey('simulator')],
    ['breaker', breakerWindowKey('simulator', 3, 17)],
    ['control', controlKey('switches')],
  ])('builds %s keys under their own prefix and no other', (kind, key) => {
    const under = Object.entries(itemPrefixes)
      .filter(([, prefix]) => key.pk.startsWith(prefix))
      .map(([name]) => name);
    expect(under).toEqual([kind]);
  });

  it("keeps an agent's daily spend out of the AGENT# prefix of its profile", () => {
    expect(spendKey('demo-agent', '2026-11-23').pk).toBe('SPEND#demo-agent#2026-11-23');
    expect(spendKey('demo-agent', '2026-11-23').pk.startsWith(itemPrefixes.agent)).toBe(false);
  });
});
