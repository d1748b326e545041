import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { functionSpecs, lambdaLogging, wiring } from '#shared/wiring.ts';
import { projectRoot } from '../runtime/local-runtime.ts';
import { type ColdStartRun, runColdStarts } from './bench/cold-start.ts';
import {
  chooseMemory,
  lineSummary,
  logBytes,
  logEvents,
  memoryFloorMb,
  modelledMs,
  oneVcpuMb,
  perUnit,
  pooled,
} from './bench/cost-model.ts';
import {
  benchAgentCount,
  type ItemSizes,
  type PipelineResults,
  type ReplayRun,
  type RequestRun,
  runPipelineBenchmarks,
} from './bench/pipeline.ts';
import { fixed, median, percentile, progress } from './bench/stats.ts';
import { runWarmIntake } from './bench/warm.ts';

/**
 * `npm run bench`: measures AWS requests and cost per paid order, bundle sizes and cold starts,
 * the warm overhead of intake and end-to-end throughput on the local stack, and writes
 * docs/BENCHMARKS.md. Progress goes to stderr.
 */

const command = 'npm run bench';
/** BENCH_QUICK=1 shrinks every part, to try the script; its document is not for keeping. */
const quick = process.env.BENCH_QUICK === '1';
const options = quick
  ? {
      requestRuns: 1,
      ordersPerRequestRun: 10,
      throughputRuns: 1,
      throughputOrders: 40,
      concurrency: 8,
      rawWrites: 50,
      coldRuns: 3,
      warmInvocations: 200,
      warmBatches: 2,
    }
  : {
      requestRuns: 3,
      ordersPerRequestRun: 50,
      throughputRuns: 3,
      throughputOrders: 300,
      concurrency: 8,
      rawWrites: 500,
      coldRuns: 15,
      warmInvocations: 2000,
      warmBatches: 5,
    };

/**
 * `--only=coldstart` measures section 2 alone and prints it, leaving docs/BENCHMARKS.md as it is:
 * that document holds one whole run.
 */
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);

/** us-east-1 list prices (arm64 Lambda, on-demand DynamoDB), as given; assumed on the run date. */
const prices = {
  lambdaGbSecond: 0.0000133334,
  lambdaRequestPerMillion: 0.2,
  sqsPerMillion: 0.4,
  dynamoWritePerMillion: 0.625,
  dynamoReadPerMillion: 0.125,
  apiPerMillion: 1.0,
  secretsPer10k: 0.05,
  kmsPer10k: 0.03,
  /** CloudWatch Logs Standard ingestion; GB taken as 10^9 bytes, the larger figure. */
  logsPerGb: 0.5,
};

/** The payment path's functions, whose cost is per paid order. */
const coreFunctions = [
  'orderIntake',
  'paymentSubmission',
  'settlementCallback',
  'settlementReconciler',
] as const;
const notificationFunctions = ['notificationFanOut', 'notificationDelivery'] as const;

/** Bytes CloudWatch Logs counts per log event besides its message (PutLogEvents' sizing rule). */
const eventOverheadBytes = 26;

function machine(): string {
  const cpu = cpus();
  return (
    `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ` +
    `${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}`
  );
}

function perOrder(runs: readonly RequestRun[], pick: (run: RequestRun) => number): number {
  return median(runs.map((run) => pick(run) / run.orders));
}

function requestsSection(
  pipeline: PipelineResults,
  runDate: string,
): { text: string; totalPerMillion: number; wruPerOrder: number; indexWruPerOrder: number } {
  const runs = pipeline.requests;
  const { firstSecretReads, hookMicrosPerResource } = pipeline;
  const operations = [...new Set(runs.flatMap((run) => Object.keys(run.calls)))].sort();
  const callRows = operations.map((operation) => {
    const dynamo = operation.startsWith('DynamoDB.') ? operation.slice('DynamoDB.'.length) : '';
    const read = perOrder(runs, (run) => run.capacity[dynamo]?.[0] ?? 0);
    const write = perOrder(runs, (run) => run.capacity[dynamo]?.[1] ?? 0);
    const units = dynamo ? `${fixed(read, 3)} / ${fixed(write, 3)}` : '';
    const count = fixed(
      perOrder(runs, (run) => run.calls[operation] ?? 0),
      3,
    );
    const raw = runs.map((run) => run.calls[operation] ?? 0).join(' / ');
    return `| ${operation} | ${count} | ${raw} | ${units} |`;
  });
  const sum = (run: RequestRun, prefix: string) =>
    Object.entries(run.calls)
      .filter(([name]) => name.startsWith(prefix))
      .reduce((total, [, count]) => total + count, 0);

  // Only the orders go through API Gateway in AWS: the callbacks reach their function URL.
  const apiRequests = perOrder(runs, (run) => run.apiPosts);
  const callbacks = perOrder(runs, (run) => run.callbacks);
  const submissionInvocations = perOrder(runs, (run) => run.submissionBatches);
  const reconcilerInvocations = perOrder(runs, (run) => run.reconcilerBatches);
  const messagesPerBatch = median(
    runs.map((run) => run.submissionMessages / Math.max(1, run.submissionBatches)),
  );
  const esmRequests = perOrder(
    runs,
    (run) =>
      run.submissionReceives +
      run.submissionDeletes +
      run.reconcilerReceives +
      run.reconcilerDeletes,
  );
  const ordersPerSecond = median(runs.map((run) => run.orders / run.placedSeconds));
  const paidAfter = runs.flatMap((run) => run.paidAfterMs);
  const receivesPerBatch = median(
    runs.map((run) => run.submissionReceives / Math.max(1, run.submissionBatches)),
  );
  const functionSqs = perOrder(runs, (run) => sum(run, 'SQS.'));
  const secrets = perOrder(runs, (run) => sum(run, 'SecretsManager.'));
  const decrypts = perOrder(runs, (run) => run.calls['SecretsManager.GetSecretValue'] ?? 0);
  const rru = perOrder(runs, (run) => run.rcu);
  const wru = perOrder(runs, (run) => run.wcu);
  const indexWru = perOrder(runs, (run) => run.indexWcu);
  const unreported = runs.reduce((total, run) => total + run.unreportedCapacity, 0);
  const dynamoCalls = perOrder(runs, (run) => sum(run, 'DynamoDB.'));

  const fn = wiring.functions;
  const gb = (mb: number) => mb / 1024;
  const memoryOf = (name: string) => functionSpecs[name]?.memoryMb ?? 0;
  const computeOf = (names: readonly string[], divisor: (run: RequestRun) => number) =>
    names.reduce(
      (sum, name) =>
        sum +
        perUnit(runs, [name], divisor, (record) => {
          const memoryMb = memoryOf(name);
          return (modelledMs(record, memoryMb) / 1000) * gb(memoryMb);
        }),
      0,
    );
  const orders = (run: RequestRun) => run.orders;
  const events = (run: RequestRun) => run.deliveries;
  const measuredGbSeconds = computeOf(coreFunctions, orders);
  const cpuGbSeconds = coreFunctions.reduce(
    (sum, name) =>
      sum +
      perUnit(runs, [name], orders, (record) => {
        const memoryMb = memoryOf(name);
        return ((record.cpuMs * Math.max(1, oneVcpuMb / memoryMb)) / 1000) * gb(memoryMb);
      }),
    0,
  );
  const timeoutGbSeconds =
    1 * gb(fn.orderIntake.memoryMb) * fn.orderIntake.timeoutSeconds +
    submissionInvocations *
      gb(fn.paymentSubmission.memoryMb) *
      fn.paymentSubmission.timeoutSeconds +
    callbacks * gb(fn.settlementCallback.memoryMb) * fn.settlementCallback.timeoutSeconds +
    reconcilerInvocations *
      gb(fn.settlementReconciler.memoryMb) *
      fn.settlementReconciler.timeoutSeconds;
  const invocations = 1 + submissionInvocations + callbacks + reconcilerInvocations;

  const logBytesPerOrder = perUnit(runs, coreFunctions, orders, logBytes);
  const logEventsPerOrder = perUnit(runs, coreFunctions, orders, logEvents);
  const billedLogBytes = logBytesPerOrder + eventOverheadBytes * logEventsPerOrder;

  const eventsDelivered = runs.reduce((sum, run) => sum + run.deliveries, 0);
  const notification = {
    fanOut: perUnit(runs, ['notificationFanOut'], events, () => 1),
    delivery: perUnit(runs, ['notificationDelivery'], events, () => 1),
    gbSeconds: computeOf(notificationFunctions, events),
    sqsByFunctions: median(
      runs.map(
        (run) =>
          Object.entries(run.notificationCalls)
            .filter(([name]) => name.startsWith('SQS.'))
            .reduce((total, [, count]) => total + count, 0) / Math.max(1, run.deliveries),
      ),
    ),
    sqsByMapping: median(
      runs.map(
        (run) => (run.notificationReceives + run.notificationDeletes) / Math.max(1, run.deliveries),
      ),
    ),
    getItems: median(
      runs.map(
        (run) => (run.notificationCalls['DynamoDB.GetItem'] ?? 0) / Math.max(1, run.deliveries),
      ),
    ),
    rru: median(runs.map((run) => run.notificationRcu / Math.max(1, run.deliveries))),
    logBytes:
      perUnit(runs, notificationFunctions, events, logBytes) +
      eventOverheadBytes * perUnit(runs, notificationFunctions, events, logEvents),
  };

  const secretsPerInstanceSet = Object.values(firstSecretReads).reduce((a, b) => a + b, 0);
  const getsPerInstanceSet = firstSecretReads['SecretsManager.GetSecretValue'] ?? 0;
  const refreshSeconds = Number(fn.paymentSubmission.environment.SECRET_MAX_AGE_SECONDS);
  const refreshesPerMonth = (30 * 24 * 3600) / refreshSeconds;
  const fixedSecretCalls = secretsPerInstanceSet * refreshesPerMonth;
  const fixedDecrypts = getsPerInstanceSet * refreshesPerMonth;
  const fixedSecretsCost =
    (fixedSecretCalls / 10_000) * prices.secretsPer10k +
    (fixedDecrypts / 10_000) * prices.kmsPer10k;

  const million = 1_000_000;
  const cost = {
    api: apiRequests * prices.apiPerMillion,
    lambdaRequests: invocations * prices.lambdaRequestPerMillion,
    lambdaCompute: measuredGbSeconds * million * prices.lambdaGbSecond,
    sqs: (functionSqs + esmRequests) * prices.sqsPerMillion,
    dynamoWrites: wru * prices.dynamoWritePerMillion,
    dynamoReads: rru * prices.dynamoReadPerMillion,
    secrets: secrets * million * (prices.secretsPer10k / 10_000),
    kms: decrypts * million * (prices.kmsPer10k / 10_000),
    logs: ((billedLogBytes * million) / 1e9) * prices.logsPerGb,
  };
  const total = Object.values(cost).reduce((a, b) => a + b, 0);
  const notificationCost = {
    requests: (notification.fanOut + notification.delivery) * prices.lambdaRequestPerMillion,
    compute: notification.gbSeconds * million * prices.lambdaGbSecond,
    sqs: (notification.sqsByFunctions + notification.sqsByMapping) * prices.sqsPerMillion,
    reads: notification.rru * prices.dynamoReadPerMillion,
    logs: ((notification.logBytes * million) / 1e9) * prices.logsPerGb,
  };
  const notificationTotal = Object.values(notificationCost).reduce((a, b) => a + b, 0);
  const timeoutCompute = timeoutGbSeconds * million * prices.lambdaGbSecond;
  const quiet = runs.every((run) => run.quiet);
  const statuses = runs.map((run) => JSON.stringify(run.callbackStatuses)).join(' / ');

  const choices = [...coreFunctions, ...notificationFunctions]
    .filter((name) => name !== 'settlementReconciler' || pooled(runs, name).length > 0)
    .map((name) => chooseMemory(name, pooled(runs, name)));
  const memoryRows = choices.flatMap((choice) =>
    choice.rows.map(
      (row) =>
        `| ${row.memoryMb === choice.rows[0]?.memoryMb ? `${choice.functionName}: ${choice.invocations} invocations of ${fixed(choice.unitsPerInvocation, 2)} ${choice.boundMs === 50 ? 'request' : 'records'}; CPU ${fixed(choice.cpuMeanMs, 1)} ms, wall ${fixed(choice.wallMeanMs, 1)} ms; bound +${choice.boundMs} ms` : ''} | ` +
        `${row.memoryMb} | ${fixed(row.meanMs, 1)} | ${fixed(row.addedPerUnitMs, 1)} | ${fixed(row.gbSecondsPerInvocation * 1000, 3)} | ` +
        `${row.memoryMb === choice.chosenMb ? '**chosen**' : ''}${row.memoryMb === memoryOf(choice.functionName) ? ' (wiring)' : ''} |`,
    ),
  );
  const mismatched = choices.filter((choice) => choice.chosenMb !== memoryOf(choice.functionName));

  const lines = lineSummary(
    runs,
    coreFunctions,
    runs.reduce((sum, run) => sum + run.orders, 0),
  );
  const lineRows = lines.map(
    (line) =>
      `| ${line.functionName} | ${line.level} | ${line.message} | ${fixed(line.perUnit, 3)} | ${fixed(line.meanBytes, 0)} |`,
  );
  const notificationLines = lineSummary(runs, notificationFunctions, eventsDelivered).map(
    (line) =>
      `| ${line.functionName} | ${line.level} | ${line.message} | ${fixed(line.perUnit, 3)} | ${fixed(line.meanBytes, 0)} |`,
  );
  const logLevel = fn.orderIntake.environment.POWERTOOLS_LOG_LEVEL;
  const sampleRate =
    (fn.orderIntake.environment as Record<string, string>).POWERTOOLS_LOGGER_SAMPLE_RATE ??
    'none set (0)';
  const secretReads = Object.entries(firstSecretReads)
    .map(([name, count]) => `${count} ${name.replace('SecretsManager.', '')}`)
    .join(', ');

  const text = `## 1. AWS requests and cost per paid order

${runs.length} runs of ${runs[0]?.orders ?? 0} orders each (4 in flight, from ${benchAgentCount} trusted bench agents in turn,
after 10 warm-up orders), each waited for until PAID and until the gateway's callbacks, the
webhook deliveries and the queue pollers went quiet${quiet ? '' : ' (**a run timed out waiting for quiet: counts may be low**)'}.
Figures are the median over runs of (count ÷ orders); the raw count of each run is beside it.
Every bench agent's user has one webhook endpoint subscribed to \`order.paid\` (a local receiver
answering 200), so each paid order also makes one notification, counted apart (below).

### Requests the functions make (counted on \`#adapters/aws-clients.ts\` clients)

Counted by an SDK middleware placed after the retry middleware, so a retried attempt counts as
AWS bills it. Polling for PAID went through the stack's own client and is not counted. The sweep
(scheduled every ${fn.sweep.schedule.rateMinutes} min in AWS) was kept from running and is not
included: its cost does not grow per order in this path.

| Service.Operation | per paid order (median) | raw counts per run | DynamoDB RRU / WRU per paid order |
| --- | ---: | --- | --- |
${callRows.join('\n')}

### Other requests per paid order

| What | per paid order | how it was obtained |
| --- | ---: | --- |
| API Gateway requests: \`POST /v1/orders\` | ${fixed(
    perOrder(runs, (run) => run.apiPosts),
    3,
  )} | counted by the bench client |
| Function URL requests (no API Gateway charge): gateway callbacks \`POST /v1/callbacks/{gateway}\` | ${fixed(callbacks, 3)} | counted by a proxy in front of the local API (callback statuses per run: ${statuses}) |
| Lambda invocations: orderIntake | 1.000 | one per POST |
| Lambda invocations: paymentSubmission | ${fixed(submissionInvocations, 3)} | measured: batches the local event source mapping invoked it with (median ${fixed(messagesPerBatch, 2)} messages per batch; in the wiring: batch size ${fn.paymentSubmission.consumes.batchSize}, batching window ${fn.paymentSubmission.consumes.maxBatchingWindowSeconds} s) |
| Lambda invocations: settlementCallback | ${fixed(callbacks, 3)} | one per callback |
| Lambda invocations: settlementReconciler | ${fixed(reconcilerInvocations, 3)} | batches the local event source mapping invoked it with, from the settlement-check queue |
| SQS requests by the event source mappings | ${fixed(esmRequests, 3)} | the ReceiveMessage calls that gathered each batch (median ${fixed(receivesPerBatch, 2)} per payment batch) + 1 DeleteMessageBatch per batch, counted on the local pollers |

The event source mapping's receives and deletes are made by Lambda's pollers, not the function,
but are billed as SQS requests on the account. Assumption: AWS's mapping gathers a batch as the
local poller does (local/runtime/queue-poller.ts, after AWS's batching behavior: it invokes once
the batch size is reached, the payload nears 6 MB, or the batching window, begun when the previous
invocation completed, has passed; with no window one receive is the batch) and deletes once per
batch. The batches depend on the arrival rate: this run's orders (4 in flight, some ${fixed(ordersPerSecond, 0)} a second, to
${Math.min(fn.paymentSubmission.consumes.maxConcurrency, 4)} local pollers) formed batches of ~${fixed(messagesPerBatch, 1)}; the wiring allows ${fn.paymentSubmission.consumes.batchSize}. A batching window saves
invocations only where messages come faster than one per window to each poller: at low traffic it
saves nothing, and AWS documents (Lambda with SQS) that with a window set, a queue with very little
traffic may wait up to 20 s before its function is invoked, whatever the window; the local poller
does not reproduce that wait. Empty long polls of an idle mapping are a fixed cost per queue, not
per order, and are not included.

Time to PAID in these runs, what an agent polling its order waits (from its 202 to the bench's
first poll that saw it PAID, polls 50 ms apart; ${paidAfter.length} orders): median ${fixed(percentile(paidAfter, 50), 0)} ms, 90th
percentile ${fixed(percentile(paidAfter, 90), 0)} ms, slowest ${fixed(Math.max(...paidAfter), 0)} ms, with the payment mapping's batching window
at ${fn.paymentSubmission.consumes.maxBatchingWindowSeconds} s.

### Cost per million paid orders

Prices: us-east-1 list prices, assumed valid on the run date (${runDate}); the script does not
re-check them. CloudWatch Logs: $0.50 per GB ingested in the Standard class, which is also the
first tier (up to 10 TB a month) of the tiered price Lambda's logs have had since May 2025 (then
$0.25, $0.10, $0.05 per GB); a million paid orders stays far inside the first tier. KMS: $0.03 per
10,000 requests.

Lambda compute: each invocation of the four payment-path functions was timed where the local
platform calls the handler (so the local API's routing and token check and the pollers' own
work are outside it): its **wall time** from call to settlement, and its **CPU time**, the main
thread's CPU (process.threadCpuUsage) summed over the callbacks that belong to that invocation
(async_hooks), so the emulators and simulators running in this process and other invocations
are not counted. The duration billed at the wiring's memory is then **modelled** per invocation
as CPU × max(1, ${oneVcpuMb} MB ÷ memory) + (wall − CPU), rounded up to the millisecond, since
Lambda gives a function CPU in proportion to its memory and one vCPU at ${oneVcpuMb} MB. The CPU
was this machine's core (x64, shared with the emulators), not Graviton; the waits were for the
local emulators and simulators, not AWS's services. The hooks' own CPU, calibrated at
${fixed(hookMicrosPerResource, 2)} µs per async resource an invocation creates, is taken off. Of the
${fixed(measuredGbSeconds, 5)} GB-s per order, ${fixed(cpuGbSeconds, 5)} are CPU
($${fixed(cpuGbSeconds * 1_000_000 * prices.lambdaGbSecond)} per 1M orders, the floor if no call waited); the rest
is waiting on this loaded machine's emulators and simulators, which share the process and its
cores. Section
"Memory per function" below shows the model and the choice.

DynamoDB units: ${
    unreported === 0
      ? 'the ConsumedCapacity that DynamoDB Local returned for every call (ReturnConsumedCapacity=INDEXES added by the meter: the units of the table and of each global secondary index), per operation in the table above. DynamoDB bills 1 WRU per KB written to the table and 1 per index entry written (each twice in a transaction), and 1 RRU per 4 KB read strongly consistently (the order and breaker reads use ConsistentRead); that DynamoDB Local applies exactly these rules was checked for a put with and without an index key, an update of a non-key attribute, and a transactional put, not beyond'
      : `ConsumedCapacity returned by DynamoDB Local where it reported it; **$unreportedcalls reported none and are missing from the units**`
  }. ${fixed(dynamoCalls, 2)} DynamoDB requests per order gave ${fixed(wru, 2)} WRU (of which
${fixed(indexWru, 2)} for index entries: the order's entry in the listing index \`byOwner\`) and
${fixed(rru, 2)} RRU per order.

| Service | quantity per paid order | list price | USD per 1M paid orders |
| --- | --- | --- | ---: |
| API Gateway HTTP API (\`POST /v1/orders\`) | ${fixed(apiRequests, 3)} requests | $1.00 per 1M requests | ${fixed(cost.api)} |
| Lambda requests | ${fixed(invocations, 3)} invocations | $0.20 per 1M requests | ${fixed(cost.lambdaRequests)} |
| Lambda compute (arm64, modelled from measured CPU and wait) | ${fixed(measuredGbSeconds, 5)} GB-s | $0.0000133334 per GB-s | ${fixed(cost.lambdaCompute)} |
| SQS standard | ${fixed(functionSqs, 3)} by functions + ${fixed(esmRequests, 3)} by mappings | $0.40 per 1M requests | ${fixed(cost.sqs)} |
| DynamoDB on-demand writes | ${fixed(wru, 3)} WRU | $0.625 per 1M WRU | ${fixed(cost.dynamoWrites)} |
| DynamoDB on-demand reads | ${fixed(rru, 3)} RRU | $0.125 per 1M RRU | ${fixed(cost.dynamoReads)} |
| Secrets Manager API calls | ${fixed(secrets, 4)} calls | $0.05 per 10,000 calls | ${fixed(cost.secrets)} |
| KMS decrypts (one per GetSecretValue) | ${fixed(decrypts, 4)} requests | $0.03 per 10,000 requests | ${fixed(cost.kms)} |
| CloudWatch Logs ingestion | ${fixed(billedLogBytes, 0)} bytes (${fixed(logBytesPerOrder, 0)} + ${eventOverheadBytes} × ${fixed(logEventsPerOrder, 2)} events) | $0.50 per GB | ${fixed(cost.logs)} |
| **Total** | | | **${fixed(total)}** |
| *User notifications, per 1M events delivered (not in the total)* | see below | | *${fixed(notificationTotal)}* |

Upper bound of Lambda compute with every invocation billed its full wiring timeout instead:
${fixed(timeoutGbSeconds, 3)} GB-s per order, $${fixed(timeoutCompute)} per 1M orders.

Not included: free tiers, CloudWatch custom metrics (a monthly price per metric, not per
order), X-Ray traces (functions run with active tracing), data transfer, the secrets' monthly
storage, DynamoDB storage and streams (Lambda's reads of a stream are free), the secrets' refresh
(a fixed monthly cost, below), and the sweep and key-rotation functions (fixed cost per schedule).

### Reads on the paid path, and why each is made

Every read a paid order makes, as the code makes it (what the measured ${fixed(
    perOrder(runs, (run) => run.calls['DynamoDB.GetItem'] ?? 0),
    2,
  )} GetItem and ${fixed(
    perOrder(runs, (run) => run.calls['DynamoDB.BatchGetItem'] ?? 0),
    2,
  )} BatchGetItem per order
above are made of). Each is strongly consistent (1 RRU up to 4 KB, found or not): an eventually
consistent read (0.5 RRU) was weighed for each and kept out where a stale answer costs a
guarantee or more than it saves; none is dropped, since each decides something no other read does.

| Function | Read | Per paid order | Why it is made, and why strongly consistent |
| --- | --- | ---: | --- |
| orderIntake | GetItem of the agent | 1 | who owns the agent, what it may pay and its limits; suspension acts from the very next request (DESIGN §5), so no cache and no stale read |
| orderIntake | GetItem of the order (made with the agent's, one round trip) | 1 | a replay is answered from the stored order and writes nothing (DESIGN §5); a stale "not found" a moment after the first request would claim the agent's day and queue the payment again |
| orderIntake | GetItem of the operators' switches | one per instance every ${fn.orderIntake.environment.CONTROL_CACHE_SECONDS} s | a pause of auto-pay reaches every instance within ${fn.orderIntake.environment.CONTROL_CACHE_SECONDS} s (DESIGN §5: within seconds); cached, so not per order |
| paymentSubmission | GetItem of the order | 1, and a re-read a few ms later when the message outruns the order's put | a message may name an order never stored (it must not be charged) or one a racing delivery already moved; the charge is made for a stored PENDING_PAYMENT order, whose version the conditional write checks |
| paymentSubmission | BatchGetItem of the circuit breaker's state and window counts | one per instance per second at most | the breaker is shared by every instance through the table; cached per instance, so not per order |
| paymentSubmission | GetItem of the agent, right before the charge | 1 | a suspension that lands while the risk engine is asked still stops the charge (suspension acts at once) |
| settlementCallback | GetItem of the order | 1 | the event is applied against the order's state; a stale PENDING_PAYMENT would send a conditional write that fails and still costs a write unit |

### Logs per paid order

Measured during the runs above at the level and sampling the wiring ships with
(POWERTOOLS_LOG_LEVEL=${logLevel}, POWERTOOLS_LOGGER_SAMPLE_RATE ${sampleRate}) and with metrics
on: every line each invocation of the payment path wrote to stdout or stderr (Powertools Logger's
JSON lines and the Metrics' EMF lines, which CloudWatch ingests as log events too), counted in
UTF-8 bytes. The handlers got a Lambda context shaped as AWS's (a function name as long as
CloudFormation gives, its ARN, the memory) and the X-Ray trace id every line carries in AWS. A
stage ships its logs as JSON with Lambda's system log level at ${lambdaLogging.systemLogLevel} (\`lambdaLogging\` in the
wiring, set on every function by infra/): ${
    lambdaLogging.systemLogLevel === 'WARN'
      ? "Lambda then writes none of its START, END and REPORT lines (AWS's log-level filtering: they are INFO system events), so none is counted; an operator who lowers the level to see REPORT lines again pays for them"
      : "Lambda's START, END and REPORT lines per invocation are added as AWS documents them"
  }; an init line on a cold start is
per instance, not per order. Each log event is also counted with the ${eventOverheadBytes} bytes of
metadata CloudWatch Logs adds to an event's size for PutLogEvents; whether ingestion bills them is
not documented, so they make the figure an upper bound.

| Function | Level | Line | per paid order | mean bytes |
| --- | --- | --- | ---: | ---: |
${lineRows.join('\n')}

### Secrets Manager and KMS

Per paid order in the runs: ${fixed(secrets, 4)} Secrets Manager calls and ${fixed(decrypts, 4)} KMS
decrypts (the secrets are encrypted with a customer managed key, so each GetSecretValue makes
Secrets Manager call KMS Decrypt). Every function caches what it reads for SECRET_MAX_AGE_SECONDS
(${refreshSeconds} s), so reads do not grow with orders: in the warm-up, the instances' first reads
were ${secretReads || 'none'} (one per secret and version stage read; the callback's check of the
signing secret's versions is the DescribeSecret). Refreshed every ${refreshSeconds} s by one warm
instance of each function, that is ${fixed(fixedSecretCalls, 0)} Secrets Manager calls and
${fixed(fixedDecrypts, 0)} KMS decrypts a month: $${fixed(fixedSecretsCost)} a month, whatever the
number of orders (each further concurrent instance adds as much again); at a million paid orders a
month, $${fixed(fixedSecretsCost)} per million.

### User notifications, per event delivered

Measured in the same runs: each paid order's \`order.paid\` event was delivered once to its user's
endpoint (${eventsDelivered} deliveries over the runs). The table stream's reads by Lambda are free.

| What | per event delivered | USD per 1M events |
| --- | ---: | ---: |
| Lambda invocations: notificationFanOut (its share of each stream batch) | ${fixed(notification.fanOut, 3)} | |
| Lambda invocations: notificationDelivery | ${fixed(notification.delivery, 3)} | |
| Lambda requests, both | ${fixed(notification.fanOut + notification.delivery, 3)} | ${fixed(notificationCost.requests)} |
| Lambda compute, both (modelled as above, wiring memory) | ${fixed(notification.gbSeconds, 5)} GB-s | ${fixed(notificationCost.compute)} |
| SQS: fan-out's sends + the mapping's receives and deletes | ${fixed(notification.sqsByFunctions, 3)} + ${fixed(notification.sqsByMapping, 3)} | ${fixed(notificationCost.sqs)} |
| DynamoDB reads (${fixed(notification.getItems, 2)} GetItem: agent owner, endpoints at fan-out and at delivery) | ${fixed(notification.rru, 3)} RRU | ${fixed(notificationCost.reads)} |
| CloudWatch Logs ingestion (as above) | ${fixed(notification.logBytes, 0)} bytes | ${fixed(notificationCost.logs)} |
| **Total per 1M events delivered** | | **${fixed(notificationTotal)}** |

The fan-out reads every change of an order or agent item; the changes that tell nobody (an order
entering PENDING_PAYMENT, say) are in its invocations and time too, and are charged here to the
events delivered. Its lines:

| Function | Level | Line | per event | mean bytes |
| --- | --- | --- | ---: | ---: |
${notificationLines.join('\n')}

### Memory per function, by model

The model, not a measurement on Lambda: for each invocation measured above, duration(M) =
CPU × max(1, ${oneVcpuMb} ÷ M) + wait, rounded up to the ms, with CPU and wait as measured here;
GB-s = duration × M ÷ 1024. Below ${oneVcpuMb} MB the CPU part costs the same GB-s at any memory and the
wait costs more with more memory, so less memory is always cheaper in this model; what stops
the descent is latency. Each function gets the smallest memory, not below ${memoryFloorMb} MB (the
SDK clients and Powertools have to fit; AWS keeps 128 MB for functions that only route events;
checked after a deployment by the REPORT line's Max Memory Used), at which the time the
stretched CPU adds, per request, queue message or stream record handled (an invocation's added
time ÷ its records), stays within a bound: +50 ms for an HTTP request (its caller waits), +100 ms
for a message or a record (nobody waits on the line). A cold start's module load and init
(section 2) also stretches with less CPU; it is per instance, not per order, and not in the
model.${
    choices.some((choice) => choice.functionName === 'settlementReconciler')
      ? ''
      : ' The settlement reconciler had no work in these runs (every payment settled at once or by its callback), so it has no row and keeps its memory.'
  }

| Function (measured means per invocation) | memory MB | modelled mean ms | added ms per request or record | GB-s per 1,000 invocations | |
| --- | ---: | ---: | ---: | ---: | --- |
${memoryRows.join('\n')}

${
  mismatched.length === 0
    ? 'The wiring (lambdas/shared/wiring.ts) sets each of these functions to its chosen memory.'
    : `**The wiring differs from the choice for ${mismatched.map((choice) => `${choice.functionName} (wiring ${memoryOf(choice.functionName)} MB, chosen ${choice.chosenMb} MB)`).join(', ')}.**`
}
`;
  return { text, totalPerMillion: total, wruPerOrder: wru, indexWruPerOrder: indexWru };
}

/** DESIGN §9: each function's deployed bundle and its load + init against the SDK-only baseline. */
const coldBudget = { deployedKb: 160, timeRatio: 1.3 };

function coldSection(run: ColdStartRun): string {
  const results = run.functions;
  const rows = results.map(
    (result) =>
      `| ${result.name} | ${result.memoryMb} | ${result.sdkClients.map((pkg) => pkg.replace('@aws-sdk/', '')).join(', ')} | ` +
      `${fixed(result.deployedKb, 0)} | ${fixed(result.bundleKb, 0)} | ${fixed(result.baselineKb, 0)} | ${fixed(result.bundleKb / result.baselineKb)} | ` +
      `${fixed(result.loadMs, 1)} | ${fixed(result.baselineLoadMs, 1)} | ${fixed(result.timeRatio)} | ` +
      `${result.timeRatioQuartiles.map((value) => fixed(value)).join('–')} | ${fixed(result.cpuRatio)} | ` +
      `${result.deployedKb <= coldBudget.deployedKb && result.timeRatio <= coldBudget.timeRatio ? 'yes' : '**no**'} | ` +
      `${fixed(result.bundleKb - result.withoutTracer.bundleKb, 0)} | ${fixed(result.withoutTracer.timeRatio)} |`,
  );
  const untracedWithin = results.filter(
    (result) => result.withoutTracer.timeRatio <= coldBudget.timeRatio,
  ).length;
  const tracerShare = median(
    results.map((result) => result.timeRatio - result.withoutTracer.timeRatio),
  );
  const pairs = results[0]?.pairs ?? 0;
  const intake = results.find((result) => result.name === 'orderIntake');
  const firstInvoke =
    intake?.firstInvokeMs !== undefined && intake.firstInvokeStatus === 202
      ? `orderIntake, load + init + its first \`POST /v1/orders\` invocation answered 202 (I/O faked): **${fixed(intake.firstInvokeMs, 1)} ms** median.`
      : `orderIntake's first invocation could not be measured (status ${intake?.firstInvokeStatus ?? 'none'}); only load + init is reported.`;
  return `## 2. Per Lambda: bundle size and cold start

Each function's entry bundled with esbuild as CDK's NodejsFunction does in
infra/constructs/functions.ts (format esm, platform node, minify, bundle, mainFields
['module','main'], target node24, the same \`createRequire\` banner) but **with the AWS SDK
included**, since a Lambda cold start loads the SDK either way; no source maps. The baseline is
a bundle made the same way of a file that only imports and constructs the same AWS SDK clients
as the function's bundle contains and exports a no-op handler. The deployed KB column is the
same build with the AWS SDK left to the runtime and Powertools to its Lambda layer (\`@aws-sdk/*\`,
\`@smithy/*\` and \`@aws-lambda-powertools/*\` external, \`infra/bundling.ts\`), as CDK deploys
it: the size the budget of 160 KB per function applies to. The bundle KB column, which the load
is measured on, includes both, since a cold start loads them either way.

Cold start here is **load + module-scope init only**: in a fresh \`node\` process per measurement,
the time of \`await import(bundle)\` (parse, evaluate, read the environment, build clients and
middleware). It excludes Node's own start-up and Lambda's runtime init, and the first invocation
(except the separate intake line below). Every AWS endpoint points at a local fake answering a
minimal success.

Baseline and function are measured **interleaved**, since load on this shared machine changes
from one second to the next: ${pairs} rounds, and in each round every function's process runs right
beside a process of its own baseline (which of the two goes first alternates by round, and the
order of the functions rotates). The time ratio is the median over rounds of each pair's ratio;
the quartiles of those ratios show the spread. The ms columns are the medians of the function's
and of its paired baseline's processes. The CPU ratio is the same median ratio on the CPU time
(user + system, all threads) each process spent loading: waiting for a core adds nothing to it, so
it says what the code costs when the machine is busy with other work (its 1-minute load average
was ${fixed(run.loadAverage.before, 1)} when this section began and ${fixed(run.loadAverage.after, 1)} when it ended). Within budget: deployed ≤ ${coldBudget.deployedKb} KB and time
ratio ≤ ${coldBudget.timeRatio} (DESIGN §9).

| Function | MB | SDK clients bundled | deployed KB | bundle KB (min.) | baseline KB | size ratio | load+init ms | baseline ms | time ratio | ratio quartiles | CPU ratio | within budget | Tracer KB | time ratio without Tracer |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |
${rows.join('\n')}

**What the Tracer costs.** DESIGN §8 asks for Powertools Tracer with the SDK clients captured;
the Tracer loads the X-Ray SDK for Node (\`aws-xray-sdk-core\`, with \`cls-hooked\` and
\`semver\`). To show its share, each round also loads each function bundled with a stand-in for
\`@aws-lambda-powertools/tracer\` and its middleware that traces nothing
(local/tools/bench/tracer-stand-in.ts, never deployed), paired with the same baseline process: the
last two columns are the KB the Tracer adds to the bundle and that bundle's median time ratio.
The Tracer accounts for a median ${fixed(tracerShare)} of the ratio; without it, ${untracedWithin} of
${results.length} functions are within ${coldBudget.timeRatio}×. In AWS the Tracer comes from the Powertools layer
unbundled, so what a deployment loads for it is not smaller than what is measured here.

${firstInvoke} Only intake is invoked: faking the events and the gateway and risk answers of every
other function was out of scope for this run.
`;
}

/** DESIGN §9's budget beside what this run measured, each line from the sections below. */
function budgetSection(
  requests: {
    readonly totalPerMillion: number;
    readonly wruPerOrder: number;
    readonly indexWruPerOrder: number;
  },
  replay: ReplayRun,
  cold: ColdStartRun,
): string {
  const verdict = (met: boolean) => (met ? 'met' : '**missed**');
  const replayWru = replay.wcu / Math.max(1, replay.replays);
  const largest = Math.max(...cold.functions.map((result) => result.deployedKb));
  const slowest = Math.max(...cold.functions.map((result) => result.timeRatio));
  const within = cold.functions.filter((result) => result.timeRatio <= coldBudget.timeRatio).length;
  const untraced = cold.functions.filter(
    (result) => result.withoutTracer.timeRatio <= coldBudget.timeRatio,
  ).length;
  return `## Budget (DESIGN §9) against this run

| Target | Measured here | |
| --- | --- | --- |
| ≤ $5.50 per million paid orders, logs included (section 1) | $${fixed(requests.totalPerMillion)} | ${verdict(requests.totalPerMillion <= 5.5)} |
| ≤ 3 write units per paid order (section 1) | ${fixed(requests.wruPerOrder, 2)} WRU, of which ${fixed(requests.indexWruPerOrder, 2)} for the listing index's entry | ${verdict(requests.wruPerOrder <= 3)} |
| 0 write units on a replay (section 1) | ${fixed(replayWru, 2)} WRU | ${verdict(replayWru === 0)} |
| each deployed bundle ≤ ${coldBudget.deployedKb} KB (section 2) | largest ${fixed(largest, 0)} KB | ${verdict(largest <= coldBudget.deployedKb)} |
| load + init ≤ ${coldBudget.timeRatio}× the SDK-only baseline (section 2) | ${within} of ${cold.functions.length} functions within; slowest ${fixed(slowest)}×; without Powertools Tracer ${untraced} of ${cold.functions.length} within | ${verdict(slowest <= coldBudget.timeRatio)} |`;
}

/** Why the write units are what they are: each item's size against DynamoDB's 1 KB unit. */
function itemSizeSection(sizes: ItemSizes): string {
  const describe = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const over = sorted.filter((size) => size > 1024).length;
    return sorted.length === 0
      ? 'none read'
      : `${sorted.length} items, ${sorted[0]}–${sorted.at(-1)} bytes (median ${median(sorted)}), ${over} over 1 KB`;
  };
  return `### Item sizes (what a write unit is counted on)

Read back after the runs and sized by DynamoDB's documented rules (local/tools/scale/item-size.ts):
a write is billed 1 WRU per started KB of the larger of the item before and after it.

- The last run's orders, PAID: ${describe(sizes.orders)}.
- The bench agents' agent-day items: ${describe(sizes.agentDays)}.`;
}

/** What the placements of the last run cost when sent again with the same key and body. */
function replaySection(replay: ReplayRun): string {
  const calls = Object.entries(replay.calls)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([operation, count]) => `${operation} ${fixed(count / Math.max(1, replay.replays), 2)}`)
    .join(', ');
  return `### A replay (the same Idempotency-Key and body again)

The ${replay.replays} placements of the last run above sent again, one after another, after their
orders were PAID; counted as above. Answers: ${JSON.stringify(replay.statuses)}. Per replay:
${calls || 'no AWS request'}; **${fixed(replay.wcu / Math.max(1, replay.replays), 3)} WRU** and
${fixed(replay.rcu / Math.max(1, replay.replays), 3)} RRU (intake reads the agent and the order, and
answers the stored order).`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const date = new Date().toISOString();
  progress(`machine: ${machine()}`);
  if (only !== undefined) {
    if (only !== 'coldstart') throw new Error(`--only=${only}: only --only=coldstart is known`);
    progress('bundles and cold starts');
    process.stdout.write(coldSection(await runColdStarts(options.coldRuns)));
    return;
  }

  const pipeline = await runPipelineBenchmarks(options);

  progress('warm intake overhead');
  const warm = await runWarmIntake(options.warmInvocations, options.warmBatches);

  progress('bundles and cold starts');
  const cold = await runColdStarts(options.coldRuns);

  const requests = requestsSection(pipeline, date.slice(0, 10));
  const throughput = pipeline.throughput;
  const ordersPerSecond = median(throughput.map((run) => run.ordersPerSecond));
  const rawWrites = median(throughput.map((run) => run.rawWritesPerSecond));
  const ratio = median(throughput.map((run) => run.ordersPerSecond / run.rawWritesPerSecond));
  const throughputRows = throughput.map(
    (run, index) =>
      `| ${index + 1} | ${run.orders} | ${fixed(run.seconds)} | ${fixed(run.ordersPerSecond, 1)} | ` +
      `${fixed(run.p50Ms, 1)} | ${fixed(run.p99Ms, 1)} | ${fixed(run.rawWritesPerSecond, 0)} | ` +
      `${fixed(run.ordersPerSecond / run.rawWritesPerSecond, 3)} |`,
  );
  const seconds = (Date.now() - started) / 1000;

  const document = `# Benchmarks

Written by \`${command}\` (local/tools/bench.ts); do not edit by hand. Every figure below was produced
by that command in one run.

- Date: ${date}
- Machine: ${machine()}
- Whole run: ${fixed(seconds, 0)} s

Everything runs on this one machine: the functions in the bench process, DynamoDB Local (Java),
fauxqs, moto and the simulators beside them, all sharing its cores. Figures about the local stack
describe this setup, not AWS; request counts and bundle sizes carry over, times do not.

${budgetSection(requests, pipeline.replay, cold)}

${requests.text}

${replaySection(pipeline.replay)}

${itemSizeSection(pipeline.itemSizes)}
${coldSection(cold)}
## 3. Warm overhead of the intake handler

\`buildHandler\` of lambdas/handlers/order-intake.ts (the whole middy chain: Powertools logger and
metrics middleware, error mapping, validation, idempotency hashing, auto-pay decision) with
in-memory ports (orders, agents, payment queue), invoked in this process with API Gateway payload
2.0 events with distinct Idempotency-Keys; POWERTOOLS_LOG_LEVEL=SILENT,
POWERTOOLS_METRICS_DISABLED=true. ${warm.batches} batches of ${warm.invocationsPerBatch}
invocations after a warm-up; each batch gives its mean per invocation.

**${fixed(warm.medianUs, 1)} µs per invocation** (median of the batch means; batches:
${warm.batchMeanUs.map((value) => fixed(value, 1)).join(', ')} µs).

## 4. End-to-end throughput and intake latency on the local stack

${options.throughputOrders} orders per run, ${options.concurrency} in flight over real HTTP to the
local API, from the first POST to every order PAID (checked by polling DynamoDB Local every ~50 ms
through the stack's client, so the end is late by up to one poll). Latency is each POST's, as the
client saw it. Right after each run, in the same stack, ${options.rawWrites} sequential conditional
PutItems on a scratch table give DynamoDB Local's raw write rate.

| Run | orders | seconds | orders/s | POST p50 ms | POST p99 ms | raw writes/s | orders/s ÷ writes/s |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${throughputRows.join('\n')}

Median: **${fixed(ordersPerSecond, 1)} orders/s**, POST p50 ${fixed(median(throughput.map((run) => run.p50Ms)), 1)} ms,
p99 ${fixed(median(throughput.map((run) => run.p99Ms)), 1)} ms; DynamoDB Local **${fixed(rawWrites, 0)} writes/s**
sequentially; ratio **${fixed(ratio, 3)}**. Each paid order makes several DynamoDB requests (section 1)
on emulators that share the machine's ${cpus().length} cores with the functions, so the ratio says
how close the local pipeline runs to its emulator's single-writer speed, not what AWS would do.
Later runs are usually faster as DynamoDB Local's JVM and the bench process warm up; the spread
between runs is part of the result on this loaded machine.
`;
  const path = join(projectRoot, 'docs', 'BENCHMARKS.md');
  await writeFile(path, document);
  progress(`wrote ${path} in ${fixed(seconds, 0)} s`);
  process.stdout.write(document);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
