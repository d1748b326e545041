import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorCatalogue, ValidationError } from '#domain/errors.ts';
import {
  makeVerifyCallbackSignature,
  type SigningSecretGrace,
  type SigningSecretVersions,
} from '#domain/webhook-secrets.ts';
import {
  parseSignatureHeader,
  signWebhookPayload,
  verifyWebhookSignature,
  WebhookSignatureError,
} from '#domain/webhook-signature.ts';
import { FixedClock, InMemorySigningSecrets } from '../fakes/in-memory.ts';

const now = 1_700_000_000;
const secret = 'whsec_current';
const previousSecret = 'whsec_previous';
const body = '{"id":"evt_1","type":"payment_intent.succeeded"}';

/** Stripe's scheme written out independently of the module under test. */
function v1(key: string, t: number | string, payload: string | Buffer): string {
  return createHmac('sha256', key).update(`${t}.`).update(payload).digest('hex');
}

function codeOf(act: () => unknown): string {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookSignatureError);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as WebhookSignatureError).status).toBe(400);
    return (error as WebhookSignatureError).code;
  }
  throw new Error('expected the verifier to throw');
}

describe('webhook signature verification', () => {
  it('accepts a body signed with the secret and reports the timestamp and secret', () => {
    // Prepare
    const header = `t=${now},v1=${v1(secret, now, body)}`;

    // Act
    const verified = verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now });

    // Assess
    expect(verified).toEqual({ timestamp: now, secretIndex: 0 });
  });

  it('matches the known-answer vector, so a change of algorithm fails', () => {
    // Prepare
    const knownBody = '{"id":"evt_test"}';
    const knownAnswer = '13941114bb88ac44a76abcfddea5b92aa6182a4b63d8be3aae908a616083bd7e';
    const computed = v1('whsec_test_secret', 1_700_000_000, knownBody);

    // Act
    const verified = verifyWebhookSignature({
      header: `t=1700000000,v1=${knownAnswer}`,
      body: knownBody,
      secrets: ['whsec_test_secret'],
      nowSeconds: 1_700_000_000,
    });

    // Assess
    expect(computed).toBe(knownAnswer);
    expect(signWebhookPayload(knownBody, ['whsec_test_secret'], 1_700_000_000)).toBe(
      `t=1700000000,v1=${knownAnswer}`,
    );
    expect(verified.secretIndex).toBe(0);
  });

  it('rejects a body with one byte changed as SIGNATURE_INVALID', () => {
    // Prepare
    const header = `t=${now},v1=${v1(secret, now, body)}`;
    const tampered = body.replace('evt_1', 'evt_2');

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body: tampered, secrets: [secret], nowSeconds: now }),
    );

    // Assess
    expect(tampered).toHaveLength(body.length);
    expect(code).toBe('SIGNATURE_INVALID');
  });

  it('rejects a signature made with another secret as SIGNATURE_INVALID', () => {
    // Prepare
    const header = `t=${now},v1=${v1('whsec_attacker', now, body)}`;

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now }),
    );

    // Assess
    expect(code).toBe('SIGNATURE_INVALID');
  });

  it.each([
    ['stale', now - 301],
    ['future', now + 301],
  ])('rejects a %s timestamp 301 s away as TIMESTAMP_OUT_OF_TOLERANCE', (_, t) => {
    // Prepare
    const header = `t=${t},v1=${v1(secret, t, body)}`;

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now }),
    );

    // Assess
    expect(code).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
  });

  it('accepts a timestamp exactly at the tolerance', () => {
    // Prepare
    const t = now - 300;
    const header = `t=${t},v1=${v1(secret, t, body)}`;

    // Act
    const verified = verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now });

    // Assess
    expect(verified.timestamp).toBe(t);
  });

  it('honours a configured tolerance', () => {
    // Prepare
    const t = now - 61;
    const header = `t=${t},v1=${v1(secret, t, body)}`;

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({
        header,
        body,
        secrets: [secret],
        nowSeconds: now,
        toleranceSeconds: 60,
      }),
    );

    // Assess
    expect(code).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
  });

  it('checks the tolerance before the signature, as Stripe does', () => {
    // Prepare
    const header = `t=${now - 301},v1=${'0'.repeat(64)}`;

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now }),
    );

    // Assess
    expect(code).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
  });

  it('rejects every timestamp when the clock is not a number', () => {
    // Prepare
    const header = `t=${now},v1=${v1(secret, now, body)}`;

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: Number.NaN }),
    );

    // Assess
    expect(code).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
  });

  it('accepts a header with several v1 entries when only the second matches', () => {
    // Prepare
    const header = `t=${now},v1=${v1('whsec_other', now, body)},v1=${v1(secret, now, body)}`;

    // Act
    const verified = verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now });

    // Assess
    expect(verified).toEqual({ timestamp: now, secretIndex: 0 });
  });

  it('accepts a signature made with the previous secret during a rotation and says so', () => {
    // Prepare
    const header = `t=${now},v1=${v1(previousSecret, now, body)}`;

    // Act
    const verified = verifyWebhookSignature({
      header,
      body,
      secrets: [secret, previousSecret],
      nowSeconds: now,
    });

    // Assess
    expect(verified).toEqual({ timestamp: now, secretIndex: 1 });
  });

  it('never lets a blank secret verify a signature made with an empty key', () => {
    // Prepare
    const header = `t=${now},v1=${v1('', now, body)}`;

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body, secrets: [''], nowSeconds: now }),
    );

    // Assess
    expect(code).toBe('SIGNATURE_INVALID');
  });

  it('treats a header with only a v0 signature as SIGNATURE_MISSING', () => {
    // Prepare
    const header = `t=${now},v0=${v1(secret, now, body)}`;

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now }),
    );

    // Assess
    expect(code).toBe('SIGNATURE_MISSING');
  });

  it.each([
    ['an empty header', ''],
    ['no header', undefined],
    ['garbage', 'garbage'],
    ['a non-integer t', `t=abc,v1=${v1(secret, now, body)}`],
    ['a fractional t', `t=${now}.5,v1=${v1(secret, now, body)}`],
    ['a v1 without t', `v1=${v1(secret, now, body)}`],
    ['a t without v1', `t=${now}`],
    ['two t values', `t=${now},t=${now - 1000},v1=${v1(secret, now, body)}`],
  ])('treats %s as SIGNATURE_MISSING', (_, header) => {
    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now }),
    );

    // Assess
    expect(code).toBe('SIGNATURE_MISSING');
  });

  it.each([
    ['odd-length', 'abc'],
    ['non-hex', 'z'.repeat(64)],
    ['too short', v1(secret, now, body).slice(0, 62)],
    ['too long', `${v1(secret, now, body)}00`],
    ['empty', ''],
  ])('does not throw on a %s v1 but answers SIGNATURE_INVALID', (_, signature) => {
    // Prepare
    const header = `t=${now},v1=${signature}`;

    // Act
    const code = codeOf(() =>
      verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now }),
    );

    // Assess
    expect(code).toBe('SIGNATURE_INVALID');
  });

  it('verifies a Buffer body on its exact bytes, even when they are not UTF-8', () => {
    // Prepare
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0xc3, 0x28, 0x7d]);
    const header = `t=${now},v1=${v1(secret, now, raw)}`;

    // Act
    const verified = verifyWebhookSignature({
      header,
      body: raw,
      secrets: [secret],
      nowSeconds: now,
    });
    const decodedCode = codeOf(() =>
      verifyWebhookSignature({
        header,
        body: raw.toString('utf8'),
        secrets: [secret],
        nowSeconds: now,
      }),
    );

    // Assess
    expect(verified.secretIndex).toBe(0);
    expect(decodedCode).toBe('SIGNATURE_INVALID');
  });

  it('tolerates whitespace around the pairs', () => {
    // Prepare
    const header = ` t=${now}, v1=${v1('whsec_other', now, body)} ,  v1 = ${v1(secret, now, body)} `;

    // Act
    const verified = verifyWebhookSignature({ header, body, secrets: [secret], nowSeconds: now });

    // Assess
    expect(verified.timestamp).toBe(now);
  });

  it('parses a header into its timestamp and every v1, ignoring other schemes', () => {
    // Act
    const parsed = parseSignatureHeader(`t=${now},v1=aa,v0=bb,v1=cc,x=dd`);

    // Assess
    expect(parsed).toEqual({
      timestampText: String(now),
      timestamp: now,
      signatures: ['aa', 'cc'],
    });
  });
});

describe('signing a webhook payload', () => {
  it('produces a header the verifier accepts, t first, with one v1 per secret', () => {
    // Act
    const header = signWebhookPayload(body, [secret, previousSecret], now);
    const verified = verifyWebhookSignature({
      header,
      body,
      secrets: [previousSecret],
      nowSeconds: now,
    });

    // Assess
    expect(header).toBe(`t=${now},v1=${v1(secret, now, body)},v1=${v1(previousSecret, now, body)}`);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verified).toEqual({ timestamp: now, secretIndex: 0 });
  });
});

describe('how long a rotated signing secret verifies', () => {
  const hour = 3600;
  const day = 24 * hour;
  const createdAt = new Date('2030-01-01T00:00:00Z');
  const at = (seconds: number) => new Date(createdAt.getTime() + seconds * 1000);
  const defaults: SigningSecretGrace = { previousSeconds: day, pendingSeconds: hour };
  const pendingSecret = 'whsec_pending';

  /** After a rotation whose finishSecret ran `finishedAfter` seconds after createSecret. */
  function rotated(finishedAfter: number, overrides: Partial<SigningSecretVersions> = {}) {
    return {
      current: { value: secret, createdAt },
      previous: { value: previousSecret, createdAt: at(-30 * day) },
      currentSince: at(finishedAfter),
      ...overrides,
    };
  }

  /** Verifies as the callback function does, against `versions`, by a clock the test moves. */
  function setUp(versions: SigningSecretVersions, grace: SigningSecretGrace = defaults) {
    const clock = new FixedClock(createdAt);
    const secrets = new InMemorySigningSecrets(versions);
    const verify = makeVerifyCallbackSignature({ secrets, clock, grace, toleranceSeconds: 300 });
    const signedWith = async (key: string) => {
      const header = signWebhookPayload(body, [key], Math.floor(clock.now().getTime() / 1000));
      try {
        return await verify(header, body);
      } catch (error) {
        expect(error).toBeInstanceOf(WebhookSignatureError);
        const { code, status } = error as WebhookSignatureError;
        return { code, status };
      }
    };
    const moveTo = (date: Date) => clock.advance((date.getTime() - clock.now().getTime()) / 1000);
    /** The answers to a callback signed with `key` one second before `bound`, and at it. */
    const around = async (key: string, bound: Date) => {
      moveTo(new Date(bound.getTime() - 1000));
      const before = await signedWith(key);
      moveTo(bound);
      return [before, await signedWith(key)];
    };
    return { secrets, signedWith, moveTo, around };
  }

  const accepted = (secretIndex: number) => ({ secretIndex });

  const refused = {
    code: 'SIGNATURE_INVALID',
    status: errorCatalogue.SIGNATURE_INVALID.status,
  };

  it('accepts the previous secret until the grace after the rotation finished, then refuses it', async () => {
    // Prepare
    const { signedWith, around } = setUp(rotated(60));

    // Act
    const previous = await around(previousSecret, at(60 + day));
    const current = await signedWith(secret);

    // Assess
    expect(previous).toMatchObject([accepted(1), refused]);
    expect(current).toMatchObject(accepted(0));
  });

  it('counts the grace from the recorded finish, not from when the new value was created', async () => {
    // Prepare: the rotation stalled for two hours before its finishSecret step moved AWSCURRENT.
    const { around } = setUp(rotated(2 * hour));

    // Act
    const previous = await around(previousSecret, at(day + 2 * hour));

    // Assess: still accepted two hours past a day after the creation.
    expect(previous).toMatchObject([accepted(1), refused]);
  });

  it.each([
    ['no record', undefined],
    ['a record before the version was created', at(-hour)],
    ['a record in the future', at(10 * day)],
  ])('counts the grace from the creation when there is %s', async (_, currentSince) => {
    // Prepare
    const { around } = setUp(rotated(0, { currentSince }));

    // Act
    const previous = await around(previousSecret, at(day));

    // Assess
    expect(previous).toMatchObject([accepted(1), refused]);
  });

  it('accepts the pending secret of an abandoned rotation for an hour after its creation only', async () => {
    // Prepare: createSecret and setSecret ran, finishSecret never came.
    const { signedWith, around } = setUp({
      current: { value: secret, createdAt: at(-90 * day) },
      pending: { value: pendingSecret, createdAt },
    });

    // Act
    const pending = await around(pendingSecret, at(hour));
    const current = await signedWith(secret);

    // Assess
    expect(pending).toMatchObject([accepted(1), refused]);
    expect(current).toMatchObject(accepted(0));
  });

  it('honours configured grace periods, and 0 leaves only the current secret', async () => {
    // Prepare
    const { signedWith, around } = setUp(
      rotated(0, { pending: { value: pendingSecret, createdAt } }),
      { previousSeconds: 0, pendingSeconds: 60 },
    );

    // Act
    const previousAtOnce = await signedWith(previousSecret);
    const pending = await around(pendingSecret, at(60));

    // Assess
    expect(previousAtOnce).toEqual(refused);
    expect(pending).toMatchObject([accepted(1), refused]);
  });

  it('reads the secrets afresh once when none matches, and accepts one rotated in since', async () => {
    // Prepare: the cache holds the versions from before a rotation that has since finished.
    const { secrets, signedWith, moveTo } = setUp(rotated(0));
    secrets.stored = {
      current: { value: 'whsec_next', createdAt: at(2 * day) },
      previous: { value: secret, createdAt },
      currentSince: at(2 * day),
    };
    moveTo(at(2 * day + 60));

    // Act
    const rotatedIn = await signedWith('whsec_next');
    const replacedTwice = await signedWith(previousSecret);

    // Assess
    expect(rotatedIn).toMatchObject(accepted(0));
    expect(replacedTwice).toEqual(refused);
    expect(secrets.refreshes).toBe(2);
  });
});
