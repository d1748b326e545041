import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { type BoundResources, functionEnvironment } from '#shared/function-environment.ts';
import {
  AGENT_SCOPE,
  type ExternalService,
  externalServices,
  functionSpecs,
  type QueueName,
  queueNames,
  type SecretName,
  secretNames,
  wiring,
} from '#shared/wiring.ts';
import { lazyModules, providedModules } from '../../../infra/bundling.ts';
import { projectRoot } from '../../runtime/local-runtime.ts';
import { benchOrder } from './pipeline.ts';
import { median, percentile, progress } from './stats.ts';

const run = promisify(execFile);

/** The banner of infra/constructs/functions.ts: an ESM bundle has no `require` otherwise. */
export const cdkBanner =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/** What CDK leaves out of a Lambda bundle, for the runtime or the Powertools layer to provide. */
const runtimeProvided = providedModules;

const sdkPackages = [
  ['@aws-sdk/client-dynamodb', 'DynamoDBClient'],
  ['@aws-sdk/lib-dynamodb', 'DynamoDBDocumentClient'],
  ['@aws-sdk/client-sqs', 'SQSClient'],
  ['@aws-sdk/client-secrets-manager', 'SecretsManagerClient'],
  ['@aws-sdk/client-cognito-identity-provider', 'CognitoIdentityProviderClient'],
] as const;

export interface FunctionColdStart {
  readonly name: string;
  readonly memoryMb: number;
  readonly sdkClients: string[];
  readonly bundleKb: number;
  /** The same bundle as CDK deploys it, with the AWS SDK left to the runtime. */
  readonly deployedKb: number;
  readonly baselineKb: number;
  /** Median of the function's processes. */
  readonly loadMs: number;
  /** Median of the baseline processes paired with the function's. */
  readonly baselineLoadMs: number;
  /** Median over rounds of (function ÷ its paired baseline), and the quartiles of those ratios. */
  readonly timeRatio: number;
  readonly timeRatioQuartiles: readonly [number, number];
  /** The same median ratio on the CPU time the processes spent loading, which waiting adds nothing to. */
  readonly cpuRatio: number;
  /** Rounds measured: each one baseline process and one function process. */
  readonly pairs: number;
  /**
   * The same function bundled with a stand-in for Powertools Tracer (tracer-stand-in.ts), so
   * without the Tracer and the X-Ray SDK it loads: its median ratio to the same paired baseline,
   * and its bundle KB.
   */
  readonly withoutTracer: { readonly timeRatio: number; readonly bundleKb: number };
  /** Load + init + first invocation with faked I/O; only for the intake function. */
  readonly firstInvokeMs?: number;
  readonly firstInvokeStatus?: number;
}

/**
 * A stand-in for every AWS endpoint: answers each request with a minimal success in the
 * protocol the SDK expects (JSON 1.0 for DynamoDB and SQS, 1.1 for Secrets Manager).
 */
export async function startFakeAws(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      let input: Record<string, unknown> = {};
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof input;
      } catch {}
      let body: unknown = {};
      let type = 'application/x-amz-json-1.0';
      if (target === 'DynamoDB_20120810.GetItem') {
        const key = JSON.stringify(input.Key ?? {});
        body = key.includes('AGENT#') ? { Item: agentItem } : {};
      } else if (target === 'DynamoDB_20120810.BatchGetItem') {
        body = { Responses: {}, UnprocessedKeys: {} };
      } else if (target === 'AmazonSQS.SendMessage') {
        const message = String(input.MessageBody ?? '');
        body = {
          MessageId: randomUUID(),
          MD5OfMessageBody: createHash('md5').update(message).digest('hex'),
        };
      } else if (target === 'secretsmanager.GetSecretValue') {
        type = 'application/x-amz-json-1.1';
        body = {
          ARN: String(input.SecretId ?? 'arn'),
          Name: 'bench',
          SecretString: 'bench-secret-value',
          VersionId: randomUUID(),
          VersionStages: ['AWSCURRENT'],
          CreatedDate: 1_700_000_000,
        };
      } else if (target.startsWith('secretsmanager.')) {
        type = 'application/x-amz-json-1.1';
      }
      response.writeHead(200, { 'content-type': type });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const agentItem = {
  pk: { S: 'AGENT#bench-agent' },
  agentId: { S: 'bench-agent' },
  ownerId: { S: 'bench-agent-owner' },
  suspended: { BOOL: false },
  trustedActions: { L: [{ S: 'order_coffee' }, { S: 'submit_payment' }] },
  limitCurrency: { S: 'CNY' },
  perOrderLimit: { N: '5000' },
  dailyLimit: { N: '1000000000' },
};

/** An API Gateway HTTP API (payload 2.0) event for POST /v1/orders, as the JWT authorizer passes. */
export function intakeEvent(idempotencyKey: string, agentId = 'bench-agent') {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'POST /v1/orders',
    rawPath: '/v1/orders',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
    },
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: 'bench.local',
      domainPrefix: 'bench',
      http: {
        method: 'POST',
        path: '/v1/orders',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'bench',
      },
      requestId: randomUUID(),
      routeKey: 'POST /v1/orders',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      authorizer: {
        principalId: '',
        integrationLatency: 0,
        jwt: {
          claims: { sub: agentId, client_id: agentId, scope: AGENT_SCOPE, token_use: 'access' },
          scopes: [AGENT_SCOPE],
        },
      },
    },
    body: JSON.stringify(benchOrder),
    isBase64Encoded: false,
  };
}

/** The environment a function gets in AWS (the wiring's own bindings), every endpoint at the fake. */
function benchEnvironment(name: string, fake: string): Record<string, string> {
  const spec = functionSpecs[name];
  if (!spec) throw new Error(`No function ${name}`);
  const byQueue = (prefix: string) =>
    Object.fromEntries(
      queueNames.map((queue) => [
        queue,
        `${fake}/000000000000/${wiring.service}-${queue}${prefix}`,
      ]),
    ) as Record<QueueName, string>;
  const resources: BoundResources = {
    stage: 'bench',
    tableName: `${wiring.service}-orders`,
    queueUrls: byQueue(''),
    deadLetterQueueUrls: byQueue('-dlq'),
    maxReceiveCounts: Object.fromEntries(
      queueNames.map((queue) => [queue, wiring.queues[queue].maxReceiveCount]),
    ) as Record<QueueName, number>,
    secretIds: Object.fromEntries(
      secretNames.map((secret) => [
        secret,
        `arn:aws:secretsmanager:us-east-1:000000000000:secret:autopay/${secret}`,
      ]),
    ) as Record<SecretName, string>,
    endpoints: Object.fromEntries(externalServices.map((service) => [service, fake])) as Record<
      ExternalService,
      string
    >,
    // As in AWS, where the stack names its user pool: the function builds its Cognito client.
    userPoolId: 'us-east-1_bench',
  };
  return {
    PATH: process.env.PATH ?? '',
    ...functionEnvironment(spec, resources),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL_DYNAMODB: fake,
    AWS_ENDPOINT_URL_SQS: fake,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: fake,
    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: fake,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}

/** Records the time of `await import(bundle)` and of a first invocation, in a fresh process. */
const runnerSource = `
import { performance } from 'node:perf_hooks';
const bundle = process.argv[2];
const c0 = process.cpuUsage();
const t0 = performance.now();
const mod = await import(bundle);
const t1 = performance.now();
const cpu = process.cpuUsage(c0);
let invokeMs = null;
let status = null;
if (process.env.BENCH_EVENT) {
  const context = {
    functionName: 'bench', functionVersion: '$LATEST', memoryLimitInMB: '512',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
    awsRequestId: 'bench-request', logGroupName: 'bench', logStreamName: 'bench',
    callbackWaitsForEmptyEventLoop: false, getRemainingTimeInMillis: () => 10000,
    done() {}, fail() {}, succeed() {},
  };
  const result = await mod.handler(JSON.parse(process.env.BENCH_EVENT), context);
  invokeMs = performance.now() - t0;
  status = result && typeof result === 'object' ? result.statusCode ?? null : null;
}
process.stdout.write(JSON.stringify({ loadMs: t1 - t0, cpuMs: (cpu.user + cpu.system) / 1000, invokeMs, status }));
process.exit(0);
`;

interface RunnerOutput {
  loadMs: number;
  /** CPU time (user + system, every thread of the process) spent during the load. */
  cpuMs: number;
  invokeMs: number | null;
  status: number | null;
}

async function measure(
  runner: string,
  bundle: string,
  env: Record<string, string>,
): Promise<RunnerOutput> {
  const { stdout } = await run(process.execPath, [runner, pathToFileURL(bundle).href], {
    env,
    timeout: 60_000,
  });
  return JSON.parse(stdout) as RunnerOutput;
}

/** Resolves Powertools Tracer and its middleware to the bench's stand-in that traces nothing. */
const withoutTracer: Plugin = {
  name: 'without-tracer',
  setup(build) {
    build.onResolve({ filter: /^@aws-lambda-powertools\/tracer(\/middleware)?$/ }, () => ({
      path: join(projectRoot, 'local/tools/bench/tracer-stand-in.ts'),
    }));
  },
};

async function bundle(
  options: { entry: string } | { contents: string },
  outfile: string,
  external: readonly string[] = [],
  plugins: Plugin[] = [],
): Promise<string[]> {
  const result = await build({
    ...('entry' in options
      ? { entryPoints: [options.entry] }
      : { stdin: { contents: options.contents, resolveDir: projectRoot, loader: 'ts' as const } }),
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    minify: true,
    mainFields: ['module', 'main'],
    banner: { js: cdkBanner },
    external: [...external],
    plugins,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile?.inputs ?? {});
  return sdkPackages
    .filter(([pkg]) => inputs.some((input) => input.includes(`node_modules/${pkg}/`)))
    .map(([pkg]) => pkg);
}

function baselineSource(packages: readonly string[]): string {
  const lines: string[] = [];
  const has = (pkg: string) => packages.includes(pkg);
  if (has('@aws-sdk/client-dynamodb')) {
    lines.push("import { DynamoDBClient } from '@aws-sdk/client-dynamodb';");
  }
  if (has('@aws-sdk/lib-dynamodb')) {
    lines.push("import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';");
  }
  if (has('@aws-sdk/client-sqs')) lines.push("import { SQSClient } from '@aws-sdk/client-sqs';");
  if (has('@aws-sdk/client-secrets-manager')) {
    lines.push("import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';");
  }
  if (has('@aws-sdk/client-cognito-identity-provider')) {
    lines.push(
      "import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';",
    );
  }
  const clients: string[] = [];
  if (has('@aws-sdk/lib-dynamodb')) {
    clients.push('DynamoDBDocumentClient.from(new DynamoDBClient({}))');
  } else if (has('@aws-sdk/client-dynamodb')) {
    clients.push('new DynamoDBClient({})');
  }
  if (has('@aws-sdk/client-sqs')) clients.push('new SQSClient({})');
  if (has('@aws-sdk/client-secrets-manager')) clients.push('new SecretsManagerClient({})');
  if (has('@aws-sdk/client-cognito-identity-provider')) {
    clients.push('new CognitoIdentityProviderClient({})');
  }
  lines.push(`export const clients = [${clients.join(', ')}];`);
  lines.push('export const handler = async () => ({ statusCode: 200 });');
  return lines.join('\n');
}

type Load = Pick<RunnerOutput, 'loadMs' | 'cpuMs'>;

/** Each round's processes of one function: its bundle, its baseline and its bundle without the Tracer. */
interface Samples {
  readonly own: Load[];
  readonly base: Load[];
  readonly untraced: Load[];
}

interface Built {
  readonly name: string;
  readonly memoryMb: number;
  readonly file: string;
  readonly withoutTracer: { readonly file: string; readonly kb: number };
  readonly sdkClients: string[];
  readonly bundleKb: number;
  readonly deployedKb: number;
  readonly baseline: { readonly file: string; readonly kb: number };
  readonly env: Record<string, string>;
}

/**
 * Bundles every function and its baseline, then measures them interleaved: in each round every
 * function runs in a fresh process right beside a fresh process of its baseline (which goes first
 * alternates by round, the functions' order rotates), so both see the same load on a shared
 * machine and the ratio of each pair is the figure; the medians and quartiles summarise rounds.
 */
export interface ColdStartRun {
  readonly functions: FunctionColdStart[];
  /** The machine's 1-minute load average when the measuring began and when it ended. */
  readonly loadAverage: { readonly before: number; readonly after: number };
}

export async function runColdStarts(rounds: number): Promise<ColdStartRun> {
  const directory = await mkdtemp(join(tmpdir(), 'autopay-bench-'));
  const fake = await startFakeAws();
  try {
    const runner = join(directory, 'runner.mjs');
    await writeFile(runner, runnerSource);
    const built: Built[] = [];
    const baselines = new Map<string, { file: string; kb: number }>();
    for (const [name, spec] of Object.entries(functionSpecs)) {
      const file = join(directory, `${name}.mjs`);
      const sdkClients = await bundle({ entry: join(projectRoot, spec.entry) }, file, lazyModules);
      const untracedFile = join(directory, `${name}.without-tracer.mjs`);
      await bundle({ entry: join(projectRoot, spec.entry) }, untracedFile, lazyModules, [
        withoutTracer,
      ]);
      const deployedFile = join(directory, `${name}.deployed.mjs`);
      await bundle({ entry: join(projectRoot, spec.entry) }, deployedFile, [
        ...runtimeProvided,
        ...lazyModules,
      ]);
      const key = sdkClients.join('+');
      let baseline = baselines.get(key);
      if (!baseline) {
        const baseFile = join(directory, `baseline-${baselines.size}.mjs`);
        await bundle({ contents: baselineSource(sdkClients) }, baseFile);
        baseline = { file: baseFile, kb: (await stat(baseFile)).size / 1024 };
        baselines.set(key, baseline);
      }
      built.push({
        name,
        memoryMb: spec.memoryMb,
        file,
        withoutTracer: { file: untracedFile, kb: (await stat(untracedFile)).size / 1024 },
        sdkClients,
        bundleKb: (await stat(file)).size / 1024,
        deployedKb: (await stat(deployedFile)).size / 1024,
        baseline,
        env: benchEnvironment(name, fake.url),
      });
    }

    const loadBefore = loadavg()[0] ?? Number.NaN;
    const loads = new Map(
      built.map((fn) => [
        fn.name,
        { own: [] as Load[], base: [] as Load[], untraced: [] as Load[] },
      ]),
    );
    for (let round = 0; round < rounds; round += 1) {
      progress(`cold starts: round ${round + 1} of ${rounds}`);
      for (let index = 0; index < built.length; index += 1) {
        const fn = built[(index + round) % built.length] as Built;
        const sample = loads.get(fn.name) as Samples;
        const baselineFirst = round % 2 === 0;
        if (baselineFirst) sample.base.push(await measure(runner, fn.baseline.file, fn.env));
        sample.own.push(await measure(runner, fn.file, fn.env));
        sample.untraced.push(await measure(runner, fn.withoutTracer.file, fn.env));
        if (!baselineFirst) sample.base.push(await measure(runner, fn.baseline.file, fn.env));
      }
    }

    const results: FunctionColdStart[] = [];
    for (const fn of built) {
      const sample = loads.get(fn.name) as Samples;
      const pairRatios = (pick: (load: Load) => number, of: Load[] = sample.own) =>
        of.map((own, index) => {
          const base = sample.base[index];
          return base ? pick(own) / pick(base) : Number.NaN;
        });
      const ratios = pairRatios((load) => load.loadMs);
      let firstInvokeMs: number | undefined;
      let firstInvokeStatus: number | undefined;
      if (fn.name === 'orderIntake') {
        const invokes: number[] = [];
        for (let index = 0; index < rounds; index += 1) {
          const output = await measure(runner, fn.file, {
            ...fn.env,
            BENCH_EVENT: JSON.stringify(intakeEvent(`cold-${index}-${randomUUID()}`)),
          });
          firstInvokeStatus = output.status ?? undefined;
          if (output.invokeMs !== null) invokes.push(output.invokeMs);
        }
        firstInvokeMs = median(invokes);
      }
      const result: FunctionColdStart = {
        name: fn.name,
        memoryMb: fn.memoryMb,
        sdkClients: fn.sdkClients,
        bundleKb: fn.bundleKb,
        deployedKb: fn.deployedKb,
        baselineKb: fn.baseline.kb,
        loadMs: median(sample.own.map((load) => load.loadMs)),
        baselineLoadMs: median(sample.base.map((load) => load.loadMs)),
        timeRatio: median(ratios),
        timeRatioQuartiles: [percentile(ratios, 25), percentile(ratios, 75)],
        cpuRatio: median(pairRatios((load) => load.cpuMs)),
        pairs: ratios.length,
        withoutTracer: {
          timeRatio: median(pairRatios((load) => load.loadMs, sample.untraced)),
          bundleKb: fn.withoutTracer.kb,
        },
        ...(firstInvokeMs !== undefined ? { firstInvokeMs } : {}),
        ...(firstInvokeStatus !== undefined ? { firstInvokeStatus } : {}),
      };
      results.push(result);
      progress(
        `cold start ${fn.name}: ${fn.bundleKb.toFixed(0)} KB (${fn.deployedKb.toFixed(0)} KB deployed), load+init ${result.loadMs.toFixed(1)} ms ` +
          `(baseline ${result.baselineLoadMs.toFixed(1)} ms), ratio ${result.timeRatio.toFixed(2)} ` +
          `(quartiles ${result.timeRatioQuartiles.map((value) => value.toFixed(2)).join('–')}), CPU ratio ${result.cpuRatio.toFixed(2)}, ` +
          `without the Tracer ${result.withoutTracer.timeRatio.toFixed(2)}`,
      );
    }
    return {
      functions: results,
      loadAverage: { before: loadBefore, after: loadavg()[0] ?? Number.NaN },
    };
  } finally {
    fake.server.closeAllConnections();
    await new Promise((resolve) => fake.server.close(resolve));
    await rm(directory, { recursive: true, force: true });
  }
}
