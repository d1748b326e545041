import { createHmac, timingSafeEqual } from 'node:crypto';
import { type ErrorCode, ValidationError } from './errors.ts';

/**
 * Stripe's webhook signature scheme (`Stripe-Signature: t=<unix>,v1=<hex>`), verified exactly as
 * Stripe's own libraries do, so that Stripe and Stripe-style senders work unchanged.
 */

export const defaultToleranceSeconds = 300;

type WebhookSignatureCode = Extract<
  ErrorCode,
  'SIGNATURE_MISSING' | 'SIGNATURE_INVALID' | 'TIMESTAMP_OUT_OF_TOLERANCE'
>;

export class WebhookSignatureError extends ValidationError {
  constructor(code: WebhookSignatureCode, message?: string) {
    super(code, message);
    this.name = 'WebhookSignatureError';
  }
}

export interface SignatureHeader {
  /** The `t` value as sent: it is signed as text, so it is kept as text. */
  readonly timestampText: string;
  readonly timestamp: number;
  /** Every `v1` value, unchecked: a malformed one must simply fail to match, not reject the rest. */
  readonly signatures: readonly string[];
}

export interface VerifiedSignature {
  readonly timestamp: number;
  /** Which secret matched: a non-zero index means the sender still signs with an older secret. */
  readonly secretIndex: number;
}

export interface VerifyWebhookSignatureInput {
  readonly header: string | undefined;
  readonly body: string | Buffer;
  readonly secrets: readonly string[];
  readonly nowSeconds: number;
  readonly toleranceSeconds?: number;
}

const missing = (message: string) => new WebhookSignatureError('SIGNATURE_MISSING', message);

/** Throws `SIGNATURE_MISSING` unless the header has one integer `t` and at least one `v1`. */
export function parseSignatureHeader(header: string | undefined): SignatureHeader {
  let timestampText: string | undefined;
  const signatures: string[] = [];
  for (const pair of (header ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at === -1) continue;
    const key = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    if (key === 'v1') {
      signatures.push(value);
    } else if (key === 't') {
      // Two timestamps would make it ambiguous which one was signed.
      if (timestampText !== undefined) {
        throw missing('The Stripe-Signature header has two t values.');
      }
      timestampText = value;
    }
    // Other schemes (v0, future ones) are ignored, as Stripe's libraries do.
  }
  if (timestampText === undefined || !/^\d{1,15}$/.test(timestampText)) {
    throw missing('The Stripe-Signature header needs t=<unix seconds>.');
  }
  if (signatures.length === 0) throw missing('The Stripe-Signature header has no v1 signature.');
  return { timestampText, timestamp: Number(timestampText), signatures };
}

function hmac(secret: string, timestampText: string, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestampText}.`).update(body).digest();
}

const sha256Hex = /^[0-9a-fA-F]{64}$/;

export function verifyWebhookSignature(input: VerifyWebhookSignatureInput): VerifiedSignature {
  const { timestampText, timestamp, signatures } = parseSignatureHeader(input.header);

  const tolerance = input.toleranceSeconds ?? defaultToleranceSeconds;
  // Written as "not within" so that a NaN clock or tolerance rejects instead of accepting anything.
  if (!(Math.abs(input.nowSeconds - timestamp) <= tolerance)) {
    throw new WebhookSignatureError('TIMESTAMP_OUT_OF_TOLERANCE');
  }

  // Buffer.from(hex) silently drops what it cannot decode, so only well-formed digests compete.
  const candidates = signatures.filter((s) => sha256Hex.test(s)).map((s) => Buffer.from(s, 'hex'));
  for (const [secretIndex, secret] of input.secrets.entries()) {
    // A blank secret is a configuration mistake; honouring it would let anyone sign.
    if (secret === '') continue;
    const expected = hmac(secret, timestampText, input.body);
    if (candidates.some((candidate) => timingSafeEqual(candidate, expected))) {
      return { timestamp, secretIndex };
    }
  }
  throw new WebhookSignatureError('SIGNATURE_INVALID');
}

/** The header a Stripe-style sender would send: one v1 per secret, `t` first. */
export function signWebhookPayload(
  body: string,
  secrets: readonly string[],
  timestampSeconds: number,
): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`timestampSeconds must be a whole number of seconds: ${timestampSeconds}`);
  }
  const t = String(timestampSeconds);
  const v1 = secrets.map((secret) => `v1=${hmac(secret, t, body).toString('hex')}`);
  return [`t=${t}`, ...v1].join(',');
}
