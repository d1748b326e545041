import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayApiKeyKind, WebhookSecretKind } from '#adapters/gateway-secret-kinds.ts';
import { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import { type Clock, systemClock } from '#domain/ports.ts';
import { makeRotateSecret, type RotationStep, rotationSteps } from '#domain/rotation.ts';
import {
  type Emulator,
  localCredentials,
  localRegion,
  startSecretsManagerLocal,
} from '../../local/emulators.ts';
import {
  defaultGatewayApiKeys,
  type GatewaySimulator,
  startGatewaySimulator,
} from '../../local/gateway-simulator.ts';
import { driveRotation } from '../../local/rotation.ts';
import { FixedClock } from '../fakes/in-memory.ts';

let moto: Emulator;
let gateway: GatewaySimulator;
let client: SecretsManagerClient;
let store: SecretsManagerStore;
let sequence = 0;
const firstKey = defaultGatewayApiKeys[0] ?? '';

async function secret(value: string): Promise<string> {
  const created = await client.send(
    new CreateSecretCommand({ Name: `rotation-test-${++sequence}`, SecretString: value }),
  );
  return created.ARN ?? '';
}

/** A rotation function over moto and the gateway simulator, as deployed but for its wiring. */
function rotationFunction(gatewayKeyId: string, webhookId: string, clock: Clock = systemClock) {
  const kinds = {
    [gatewayKeyId]: new GatewayApiKeyKind(gateway.url, 2_000),
    [webhookId]: new WebhookSecretKind(gateway.url, 2_000, async () => {
      const key = await store.value(gatewayKeyId, { stage: 'AWSCURRENT' });
      return key ?? '';
    }),
  };
  return makeRotateSecret({ store, kindOf: (id) => kinds[id], clock });
}

/** Runs the given steps of one rotation in order. */
function rotator(gatewayKeyId: string, webhookId: string) {
  const rotate = rotationFunction(gatewayKeyId, webhookId);
  return (secretId: string, version: string, steps: readonly RotationStep[] = rotationSteps) =>
    steps.reduce<Promise<unknown>>(
      (previous, step) =>
        previous.then(() =>
          rotate({ SecretId: secretId, ClientRequestToken: version, Step: step }),
        ),
      Promise.resolve(),
    );
}

async function status(key: string): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/payments?idempotencyKey=probe`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return response.status;
}

/** Secrets Manager wants 32 to 64 characters of ClientRequestToken. */
const token = (name: string) => `rotation-token-${name}`.padEnd(32, '0');

const stage = (id: string, name: 'AWSCURRENT' | 'AWSPREVIOUS' | 'AWSPENDING') =>
  store.value(id, { stage: name });

beforeAll(async () => {
  [moto, gateway] = await Promise.all([startSecretsManagerLocal(), startGatewaySimulator()]);
  client = new SecretsManagerClient({
    endpoint: moto.endpoint,
    region: localRegion,
    credentials: localCredentials,
  });
  store = new SecretsManagerStore(client);
});

afterAll(async () => {
  await Promise.allSettled([moto?.stop(), gateway?.stop()]);
});

describe('gateway API key rotation (moto, gateway simulator)', () => {
  it('issues a new key, makes it current, and keeps the previous one valid', async () => {
    // Prepare
    gateway.setApiKeys([firstKey]);
    const keyId = await secret(firstKey);
    const rotate = rotator(keyId, await secret('whsec_unused_in_this_test'));

    // Act
    await rotate(keyId, token('a1'));

    // Assess
    const current = await stage(keyId, 'AWSCURRENT');
    expect(current).toMatch(/^sk_local_/);
    expect(current).not.toBe(firstKey);
    expect(await stage(keyId, 'AWSPREVIOUS')).toBe(firstKey);
    expect(await stage(keyId, 'AWSPENDING')).toBeUndefined();
    expect(await status(current ?? '')).toBe(200);
    expect(await status(firstKey)).toBe(200);
  });

  it('runs each step twice without issuing a second key', async () => {
    // Prepare
    gateway.setApiKeys([firstKey]);
    const keyId = await secret(firstKey);
    const rotate = rotator(keyId, await secret('whsec_unused_in_this_test'));

    // Act
    for (const step of rotationSteps) {
      await rotate(keyId, token('b1'), [step, step]);
    }

    // Assess
    expect(gateway.ledger().keys.active).toBe(2);
    expect(await stage(keyId, 'AWSPREVIOUS')).toBe(firstKey);
  });

  it('resumes a rotation that failed between steps, with the same token', async () => {
    // Prepare: create and set ran, then the rotation stopped.
    gateway.setApiKeys([firstKey]);
    const keyId = await secret(firstKey);
    const rotate = rotator(keyId, await secret('whsec_unused_in_this_test'));
    await rotate(keyId, token('c1'), ['createSecret', 'setSecret']);
    const pending = await stage(keyId, 'AWSPENDING');

    // Act: Secrets Manager starts over with the same token.
    await rotate(keyId, token('c1'));

    // Assess
    expect(await stage(keyId, 'AWSCURRENT')).toBe(pending);
    expect(gateway.ledger().keys.active).toBe(2);
  });

  it('revokes the key two generations old on the next rotation, never the previous one', async () => {
    // Prepare
    gateway.setApiKeys([firstKey]);
    const keyId = await secret(firstKey);
    const rotate = rotator(keyId, await secret('whsec_unused_in_this_test'));
    await rotate(keyId, token('d1'));
    const second = (await stage(keyId, 'AWSCURRENT')) ?? '';

    // Act
    await rotate(keyId, token('d2'));

    // Assess
    const third = (await stage(keyId, 'AWSCURRENT')) ?? '';
    expect(await stage(keyId, 'AWSPREVIOUS')).toBe(second);
    expect(await status(third)).toBe(200);
    expect(await status(second)).toBe(200);
    expect(await status(firstKey)).toBe(401);
  });

  it('refuses to finish before a new value exists', async () => {
    gateway.setApiKeys([firstKey]);
    const keyId = await secret(firstKey);
    const rotate = rotator(keyId, await secret('whsec_unused_in_this_test'));
    await expect(rotate(keyId, token('e1'), ['finishSecret'])).rejects.toThrow(/AWSPENDING/);
    expect(await stage(keyId, 'AWSCURRENT')).toBe(firstKey);
  });
});

describe('webhook signing secret rotation (moto, gateway simulator)', () => {
  it('registers the new secret with the gateway, which signs with both through the overlap', async () => {
    // Prepare
    gateway.setApiKeys([firstKey]);
    gateway.setWebhookSecrets(['whsec_autopay_local']);
    const keyId = await secret(firstKey);
    const webhookId = await secret('whsec_autopay_local');
    const rotate = rotator(keyId, webhookId);

    // Act
    await rotate(webhookId, token('w1'), ['createSecret', 'setSecret', 'testSecret']);
    const duringOverlap = await listWebhookSecrets();
    await rotate(webhookId, token('w1'), ['finishSecret']);

    // Assess
    const current = (await stage(webhookId, 'AWSCURRENT')) ?? '';
    expect(current).toMatch(/^whsec_/);
    expect(current).not.toBe('whsec_autopay_local');
    expect(await stage(webhookId, 'AWSPREVIOUS')).toBe('whsec_autopay_local');
    expect(duringOverlap).toHaveLength(2);
    expect(await listWebhookSecrets()).toHaveLength(2);
  });

  it('records on the secret which version finishSecret made current, and when', async () => {
    // Prepare
    gateway.setApiKeys([firstKey]);
    gateway.setWebhookSecrets(['whsec_autopay_local']);
    const keyId = await secret(firstKey);
    const webhookId = await secret('whsec_autopay_local');
    const movedAt = new Date('2030-06-01T12:00:00.000Z');
    const version = token('w2');

    // Act: the rotation, then a retried finishSecret a day later.
    await driveRotation(
      rotationFunction(keyId, webhookId, new FixedClock(movedAt)),
      webhookId,
      version,
    );
    const retried = rotationFunction(keyId, webhookId, new FixedClock(new Date('2030-06-02')));
    await retried({ SecretId: webhookId, ClientRequestToken: version, Step: 'finishSecret' });

    // Assess
    const { stages, promotion } = await store.describe(webhookId);
    expect(stages[version]).toContain('AWSCURRENT');
    expect(promotion).toEqual({ versionId: version, at: movedAt });
  });
});

async function listWebhookSecrets(): Promise<unknown[]> {
  const response = await fetch(`${gateway.url}/v1/webhook-secrets`, {
    headers: { authorization: `Bearer ${firstKey}` },
  });
  return ((await response.json()) as { data: unknown[] }).data;
}
