import { describe, expect, it } from 'vitest';
import { itemBytes } from '../../local/tools/scale/item-size.ts';
import { replaceBlock } from '../../local/tools/scale/markdown-block.ts';

describe('itemBytes (DynamoDB item size rules, as the scale run reports them)', () => {
  it('counts names and string values in UTF-8 bytes', () => {
    // 2 + 5 for pk, 6 + 4 for status: "é" is two bytes.
    expect(itemBytes({ pk: { S: 'AB#cd' }, status: { S: 'PAé' } })).toBe(17);
  });

  it('counts a number as one byte per two significant digits plus one', () => {
    // Leading and trailing zeros are not significant: 450 has two digits, 1000 one.
    expect(itemBytes({ n: { N: '450' } })).toBe(1 + 2);
    expect(itemBytes({ n: { N: '1000' } })).toBe(1 + 2);
    expect(itemBytes({ n: { N: '-0.0025' } })).toBe(1 + 2);
  });

  it('counts the elements of a string set and the overhead of maps and lists', () => {
    expect(itemBytes({ r0: { SS: ['@7', 'abc'] } })).toBe(2 + 5);
    expect(itemBytes({ m: { M: { a: { S: 'xy' } } } })).toBe(1 + 3 + 1 + 1 + 2);
    expect(itemBytes({ l: { L: [{ BOOL: true }, { NULL: true }] } })).toBe(1 + 3 + 2 + 2);
  });
});

describe('replaceBlock', () => {
  const document = 'intro\n<!-- t -->\nold\n<!-- /t -->\nafter\n';

  it('replaces what lies between the markers and keeps everything else', () => {
    expect(replaceBlock(document, 't', '| a |\n')).toBe(
      'intro\n<!-- t -->\n| a |\n<!-- /t -->\nafter\n',
    );
  });

  it('refuses a document without the block, rather than losing the table', () => {
    expect(() => replaceBlock('intro\n', 't', 'x')).toThrow('no <!-- t -->');
    expect(() => replaceBlock('<!-- /t --> <!-- t -->', 't', 'x')).toThrow();
  });
});
