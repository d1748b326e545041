import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../runtime/local-runtime.ts';
import { fixed } from './bench/stats.ts';
import { type BreakerResult, runBreaker } from './scale/breaker.ts';
import { type HotAgentResult, runHotAgent } from './scale/hot-agent.ts';
import { replaceBlock } from './scale/markdown-block.ts';

/**
 * `npm run scale -- hot-agent|breaker|all`: measures, on the local stack, the two mechanisms
 * docs/SCALE.md reasons about (one agent's hot agent-day item, the shared circuit breaker under
 * a burst of failures), prints each as a Markdown table and writes it into docs/SCALE.md between
 * its markers, with the command and the date.
 */

const scenarios = ['hot-agent', 'breaker'] as const;
type Scenario = (typeof scenarios)[number];

function chosen(argument: string | undefined): Scenario[] {
  if (argument === undefined || argument === 'all') return [...scenarios];
  if ((scenarios as readonly string[]).includes(argument)) return [argument as Scenario];
  throw new Error(`usage: npm run scale -- ${scenarios.join('|')}|all (got ${argument})`);
}

function stamp(scenario: Scenario): string {
  return (
    `Written by \`npm run scale -- ${scenario}\` on ${new Date().toISOString()} ` +
    `(${cpus().length} cores, Node ${process.version}); do not edit by hand.`
  );
}

/** Answers other than placed, 429 and 503, and the failed writes behind them. */
function otherAnswers(r: HotAgentResult): string {
  const listed = (counts: Readonly<Record<string, number>>) =>
    Object.entries(counts).map(([name, count]) => `${name} × ${count}`);
  const answers = [
    ...(r.waiting > 0 ? [`202 waiting × ${r.waiting}`] : []),
    ...listed(r.otherStatuses),
  ];
  const failures = listed(r.otherFailures);
  if (answers.length === 0) return 'none';
  return failures.length > 0
    ? `${answers.join(', ')} (${failures.join(', ')})`
    : answers.join(', ');
}

function hotAgentTable(results: readonly HotAgentResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.label} | ${r.bucket} | ${r.clients} | ${fixed(r.seconds, 1)} | ${r.requests} | ` +
      `${r.paid} | ${fixed(r.paidPerSecond, 1)} | ${r.rateLimited} | ${r.unavailable} | ` +
      `${otherAnswers(r)} | ` +
      `${r.dayWrites} | ${r.conflicts} | ${r.refusedByCondition} | ` +
      `${fixed(r.firstWriteUnits, 0)} → ${fixed(r.lastWriteUnits, 0)} | ` +
      `${fixed(r.dayItemBytes / 1024, 1)} KB (${r.intentsInItem} intents) | ` +
      `${fixed(r.orderItemBytes / 1024, 1)} KB | ` +
      `${fixed(r.p50Ms, 0)} / ${fixed(r.p99Ms, 0)} |`,
  );
  return [
    '| case | agent bucket | clients | s | POSTs | placed (202 PENDING_PAYMENT) | placed/s | 429 | 503 | other answers (the writes behind them) | writes naming the day item | TransactionConflict | refused by condition | WRU of a placed write, first → last tenth | day item at the end | one order item | POST p50 / p99 ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | ---: | --- |',
    ...rows,
  ].join('\n');
}

function breakerTable(results: readonly BreakerResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.label} | ${r.instances} | ${r.deliveries} | ${r.charges} | ${r.chargesBeforeOpen} | ` +
      `${r.chargesAfterOpen} | ${r.heldByBreaker} | ${fixed(r.msToOpen, 0)} | ${r.breakerReads} | ` +
      `${r.windowWrites} | ${r.stateWrites} (${r.stateWritesRefused} refused) | ` +
      `${r.peakItemWritesPerSecond} | ${fixed(r.breakerWriteUnits, 0)} | ` +
      `${fixed(r.windowWriteP50Ms, 0)} / ${fixed(r.windowWriteP99Ms, 0)} | ${r.orderWrites} |`,
  );
  return [
    '| case | instances | deliveries | charges sent (all failed) | before it opened | after it opened (stale cache) | held by the breaker | ms from first charge to open | breaker reads (BatchGetItem) | window item writes | state item writes | peak writes on one item in one second | breaker WRU | window write p50 / p99 ms | order writes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const path = join(projectRoot, 'docs', 'SCALE.md');
  for (const scenario of chosen(process.argv[2])) {
    const table =
      scenario === 'hot-agent'
        ? hotAgentTable(await runHotAgent())
        : breakerTable(await runBreaker());
    const block = `${stamp(scenario)}\n\n${table}`;
    process.stdout.write(`\n### ${scenario}\n\n${block}\n`);
    // Read afresh: the prose around the tables may have changed while the scenario ran.
    await writeFile(path, replaceBlock(await readFile(path, 'utf8'), `scale:${scenario}`, block));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`scale failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
