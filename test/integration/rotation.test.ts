import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayApiKeyKind, WebhookSecretKind } from '#adapters/gateway-secret-kinds.ts';
import { SecretsManagerStore } from '#adapters/secrets-manager-store.ts';
import { WebhookSigningSecrets } from '#adapters/webhook-signing-secrets.ts';
import { type Clock, systemClock } from '#domain/ports.ts';
import {
  makeRotateSecret,
  type RotationEvent,
  type RotationStep,
  rotationSteps,
} from '#domain/rotation.ts';
import { makeVerifyCallbackSignature } from '#domain/webhook-secrets.ts';
import { signWebhookPayload, WebhookSignatureError } from '#domain/webhook-signature.ts';
import {
  type Emulator,
  localCredentials,
  localRegion,
  startSecretsManagerLocal,
} from '../../local/runtime/emulators.ts';
import { driveRotation } from '../../local/runtime/rotation.ts';
import { defaultGatewayApiKeys } from '../../local/simulators/gateway/keys.ts';
import {
  type GatewaySimulator,
  startGatewaySimulator,
} from '../../local/simulators/gateway/server.ts';
import { FixedClock } from '../fakes/in-memory.ts';
import { CallCounter } from '../support/calls.ts';

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

describe('how long a rotated signing secret verifies (moto, gateway simulator)', () => {
  const hour = 3600;
  const day = 24 * hour;
  const grace = { previousSeconds: day, pendingSeconds: hour };
  const body = '{"id":"evt_grace","type":"payment_intent.succeeded"}';
  const later = (from: Date, seconds: number) => new Date(from.getTime() + seconds * 1000);

  /** A fresh webhook secret, and the callback function's view of it with a clock the test moves. */
  async function setUp() {
    gateway.setApiKeys([firstKey]);
    gateway.setWebhookSecrets(['whsec_before_rotation']);
    const keyId = await secret(firstKey);
    const webhookId = await secret('whsec_before_rotation');
    // Its own client, so that the count below holds only the callback function's reads.
    const readerClient = new SecretsManagerClient({
      endpoint: moto.endpoint,
      region: localRegion,
      credentials: localCredentials,
    });
    const calls = new CallCounter().attach(readerClient, 'secretsmanager');
    const clock = new FixedClock(new Date());
    const secrets = new WebhookSigningSecrets({
      store: new SecretsManagerStore(readerClient),
      secretId: webhookId,
      maxAgeSeconds: 300,
      minRefreshIntervalMs: 5_000,
    });
    const verify = makeVerifyCallbackSignature({
      secrets,
      clock,
      grace,
      toleranceSeconds: 300,
    });
    const signedWith = async (key: string) => {
      const header = signWebhookPayload(body, [key], Math.floor(clock.now().getTime() / 1000));
      try {
        return await verify(header, body);
      } catch (error) {
        if (!(error instanceof WebhookSignatureError)) throw error;
        return error.code;
      }
    };
    const moveTo = (date: Date) => clock.advance((date.getTime() - clock.now().getTime()) / 1000);
    const rotate = (rotationClock: Clock = systemClock) => {
      const run = rotationFunction(keyId, webhookId, rotationClock);
      return driveRotation((event: RotationEvent) => run(event), webhookId);
    };
    return { keyId, webhookId, secrets, calls, signedWith, moveTo, rotate };
  }

  it('accepts the replaced secret for the grace after the rotation finished, then refuses it', async () => {
    // Prepare
    const { webhookId, signedWith, moveTo, rotate } = await setUp();
    const started = new Date();
    await rotate();
    const finished = new Date();
    const current = (await stage(webhookId, 'AWSCURRENT')) ?? '';

    // Act
    moveTo(later(started, day - 2));
    const inside = await signedWith('whsec_before_rotation');
    moveTo(later(finished, day + 1));
    const after = await signedWith('whsec_before_rotation');
    const currentAfter = await signedWith(current);

    // Assess
    expect(current).not.toBe('whsec_before_rotation');
    expect(inside).toMatchObject({ secretIndex: 1 });
    expect(after).toBe('SIGNATURE_INVALID');
    expect(currentAfter).toMatchObject({ secretIndex: 0 });
  });

  it('times the grace from when finishSecret moved AWSCURRENT, which it records', async () => {
    // Prepare: the rotation function's clock says finishSecret ran two hours after createSecret.
    const { signedWith, moveTo, rotate } = await setUp();
    const started = new Date();
    const recordedFinish = later(started, 2 * hour);
    await rotate(new FixedClock(recordedFinish));

    // Act
    moveTo(later(started, day + hour));
    const dayAfterCreation = await signedWith('whsec_before_rotation');
    moveTo(later(recordedFinish, day));
    const dayAfterFinish = await signedWith('whsec_before_rotation');

    // Assess
    expect(dayAfterCreation).toMatchObject({ secretIndex: 1 });
    expect(dayAfterFinish).toBe('SIGNATURE_INVALID');
  });

  it('accepts the pending secret of an abandoned rotation for an hour after its creation', async () => {
    // Prepare: createSecret and setSecret ran; the rotation stopped there.
    const { keyId, webhookId, signedWith, moveTo } = await setUp();
    const started = new Date();
    await rotator(keyId, webhookId)(webhookId, token('abandoned'), ['createSecret', 'setSecret']);
    const created = new Date();
    const pending = (await stage(webhookId, 'AWSPENDING')) ?? '';

    // Act
    moveTo(later(started, hour - 2));
    const inside = await signedWith(pending);
    moveTo(later(created, hour + 1));
    const after = await signedWith(pending);
    const current = await signedWith('whsec_before_rotation');

    // Assess
    expect(pending).toMatch(/^whsec_/);
    expect(inside).toMatchObject({ secretIndex: 1 });
    expect(after).toBe('SIGNATURE_INVALID');
    expect(current).toMatchObject({ secretIndex: 0 });
  });

  it('reads Secrets Manager once per cache period, not once per callback', async () => {
    // Prepare
    const { webhookId, calls, signedWith, moveTo, rotate } = await setUp();
    await rotate();
    const current = (await stage(webhookId, 'AWSCURRENT')) ?? '';
    const start = new Date();
    const answers: unknown[] = [];

    // Act: twenty callbacks over twenty hours, then one that matches nothing.
    for (let callback = 0; callback < 20; callback++) {
      moveTo(later(start, callback * hour));
      answers.push(await signedWith(callback % 2 === 0 ? current : 'whsec_before_rotation'));
    }
    const beforeMismatch = [...calls.calls];
    await signedWith('whsec_never_registered');

    // Assess: the two versions' values once, then only the stages on the forced re-read.
    expect(answers.filter((answer) => typeof answer === 'string')).toEqual([]);
    expect(beforeMismatch).toEqual([
      'secretsmanager.DescribeSecret',
      'secretsmanager.GetSecretValue',
      'secretsmanager.GetSecretValue',
    ]);
    expect(calls.calls.slice(beforeMismatch.length)).toEqual(['secretsmanager.DescribeSecret']);
  });

  it('makes a re-read asked for while another is under way wait for it, not skip it', async () => {
    // Prepare: the cache holds the secret from before a rotation.
    const { webhookId, secrets, calls, rotate } = await setUp();
    await secrets.versions();
    await rotate();
    const current = await stage(webhookId, 'AWSCURRENT');
    calls.reset();

    // Act: two callbacks mismatch at once; the second's re-read falls within the minimum interval.
    const first = secrets.refresh();
    await secrets.refresh();
    const seenBySecond = await secrets.versions();
    await first;

    // Assess
    expect(seenBySecond.current.value).toBe(current);
    expect(calls.count('secretsmanager.DescribeSecret')).toBe(1);
  });
});
