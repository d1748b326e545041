import { createServer, type Server, type Socket } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FunctionSpec, wiring } from '#shared/wiring.ts';
import { localCredentials, localRegion } from '../../local/runtime/emulators.ts';

/**
 * The most attempts the SDK makes of one call: three in its standard retry mode, four for
 * DynamoDB in its releases from 2026 on.
 */
const MOST_SDK_ATTEMPTS = 4;

/** A TCP server that accepts every connection, reads what is sent, and never answers. */
let silent: Server;
let endpoint: string;
const sockets: Socket[] = [];
let requests = 0;

beforeAll(async () => {
  silent = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (chunk) => {
      if (chunk.toString('latin1').startsWith('POST ')) requests++;
    });
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  endpoint = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('AWS clients and an endpoint that never answers', () => {
  it('fail the call once each attempt has timed out, well before the function would time out', async () => {
    // Prepare: the functions' client, with short timeouts, pointed at the silent server.
    vi.stubEnv('AWS_REQUEST_TIMEOUT_MS', '300');
    vi.stubEnv('AWS_CONNECTION_TIMEOUT_MS', '200');
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', endpoint);
    vi.stubEnv('AWS_REGION', localRegion);
    vi.stubEnv('AWS_ACCESS_KEY_ID', localCredentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', localCredentials.secretAccessKey);
    const { documentClient } = await import('#adapters/client-factories.ts');
    const client = documentClient();
    const attempts = await client.config.maxAttempts();
    requests = 0;
    const started = Date.now();

    // Act
    const call = client.send(new GetCommand({ TableName: 'orders', Key: { pk: 'ORDER#x' } }));

    // Assess: every attempt timed out and was retried; the last one's error comes back.
    await expect(call).rejects.toMatchObject({ name: 'TimeoutError' });
    const elapsed = Date.now() - started;
    expect(requests).toBe(attempts);
    expect(elapsed).toBeGreaterThanOrEqual(attempts * 300);
    expect(elapsed).toBeLessThan(attempts * 300 + 3_000);
    client.destroy();
  }, 15_000);

  it('are cut, in every function, at timeouts whose attempts all fit within the function timeout', () => {
    for (const [name, spec] of Object.entries(wiring.functions as Record<string, FunctionSpec>)) {
      // Act
      const connection = Number(spec.environment.AWS_CONNECTION_TIMEOUT_MS);
      const request = Number(spec.environment.AWS_REQUEST_TIMEOUT_MS);

      // Assess: every attempt hung, with the SDK's backoff between them (under a second at its
      // 100 ms base), leaves at least a quarter of the function's time.
      expect(connection, name).toBeGreaterThan(0);
      expect(request, name).toBeGreaterThanOrEqual(connection);
      expect(MOST_SDK_ATTEMPTS * request + 1_000, name).toBeLessThanOrEqual(
        spec.timeoutSeconds * 750,
      );
    }
  });
});
