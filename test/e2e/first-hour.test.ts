import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LocalRuntime,
  localCallbackUrl,
  projectRoot,
  startLocalRuntime,
} from '../../local/runtime/local-runtime.ts';
import { endpointsOf, writeEndpoints } from '../../local/runtime/startup.ts';
import { AgentClient } from '../support/http.ts';

/** What a newcomer meets in the first hour: the start, a token, a callback by hand. */

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd ?? projectRoot, env: { ...process.env, ...options.env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const tsx = join(projectRoot, 'node_modules', '.bin', 'tsx');

describe('npm start on a port that is taken', () => {
  let holder: Server;
  let port: number;

  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const address = holder.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  it('says the port is in use and to set PORT, in one line, without a stack trace', async () => {
    // Act
    const started = await run(tsx, ['local/runtime/start.ts'], { env: { PORT: String(port) } });

    // Assess
    expect(started.code).toBe(1);
    expect(started.stderr).toContain(`port ${port} is in use; set PORT`);
    expect(started.stderr).not.toMatch(/^\s+at /m);
    expect(started.stdout).not.toContain('autopay is running locally');
  });
});

describe("the README's token command", () => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const command = /^TOKEN=\$\((.+)\)$/m.exec(readme)?.[1] ?? '';
  let elsewhere: string;

  beforeAll(() => {
    elsewhere = mkdtempSync(join(tmpdir(), 'autopay-elsewhere-'));
  });
  afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));

  it('prints a token in the project', async () => {
    expect(command).toContain('npm run token');
    const ran = await run('bash', ['-c', command]);
    expect(ran.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('fails loudly outside the project, where npm finds no package.json', async () => {
    const ran = await run('bash', ['-c', command], { cwd: elsewhere });
    expect(ran.stdout.trim()).toBe('');
    expect(ran.stderr).toContain('package.json');
  });
});

describe('the local stack as scripts and a newcomer see it', () => {
  let stack: LocalRuntime;
  let agent: AgentClient;
  let scratch: string;

  beforeAll(async () => {
    stack = await startLocalRuntime({
      gatewayFaults: { pendingRate: 1, autoSettle: false },
      riskFaults: { internalErrorRate: 0 },
    });
    agent = await AgentClient.for(stack, 'demo-agent');
    scratch = mkdtempSync(join(tmpdir(), 'autopay-endpoints-'));
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('writes the endpoints file with the gateway simulator, its callbacks and active faults', () => {
    // Act
    const file = join(scratch, 'endpoints.json');
    writeEndpoints(file, endpointsOf(stack));

    // Assess
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({
      api: stack.apiUrl,
      callbacks: { url: `${stack.apiUrl}/v1/callbacks/simulator`, secret: 'whsec_autopay_local' },
      gateway: { url: stack.gateway.url, faults: { pendingRate: 1, autoSettle: false } },
      risk: { url: stack.risk.url, faults: {} },
    });
  });

  it('settles a pending payment with `npm run callback`, signed with the local secret', async () => {
    // Prepare
    const placed = await agent.place();
    await agent.waitForStatus(placed.orderId, 'AWAITING_SETTLEMENT');
    const url = localCallbackUrl(stack.apiUrl);

    // Act
    const refused = await run(tsx, [
      'local/runtime/callback.ts',
      'payment.succeeded',
      placed.orderId,
      '450',
      '--url',
      url,
      '--secret',
      'whsec_not_the_local_one',
    ]);
    const applied = await run(tsx, [
      'local/runtime/callback.ts',
      'payment.succeeded',
      placed.orderId,
      '450',
      'CNY',
      '--url',
      url,
    ]);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('400 {"error":{"code":"SIGNATURE_INVALID"');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('200 {"received":true,"result":"applied","status":"PAID"}');
    expect((await agent.get(placed.orderId)).status).toBe('PAID');
  });
});
