import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const infraRoot = fileURLToPath(new URL('../../infra', import.meta.url));

/** Every module of infra/, with the infra/ modules it imports (types included). */
function infraImports(): Map<string, string[]> {
  const files = readdirSync(infraRoot, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(infraRoot, file));
  return new Map(
    files.map((file) => {
      const source = readFileSync(file, 'utf8');
      const imported = [...source.matchAll(/from '(\.{1,2}\/[^']+)'/g)]
        .map((match) => path.resolve(path.dirname(file), match[1] ?? ''))
        .filter((target) => target.startsWith(infraRoot));
      return [file, imported];
    }),
  );
}

/** The first import cycle found, as the chain of modules that closes it, or none. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const done = new Set<string>();
  const visit = (file: string, chain: string[]): string[] | undefined => {
    if (chain.includes(file)) return [...chain.slice(chain.indexOf(file)), file];
    if (done.has(file)) return undefined;
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next, [...chain, file]);
      if (cycle) return cycle;
    }
    done.add(file);
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file, []);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('infra modules', () => {
  it('import one another without a cycle', () => {
    // Act
    const cycle = findCycle(infraImports());

    // Assess
    expect(cycle?.map((file) => path.relative(infraRoot, file))).toBeUndefined();
  });
});
