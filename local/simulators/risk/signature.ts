import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type RiskErrorCode, riskService, signatureToleranceSeconds } from './contract.ts';

/**
 * Checks a request's TC3-HMAC-SHA256 signature as Tencent Cloud does: the Authorization header's
 * form, the SecretId, the timestamp's freshness, then the signature over the headers it names.
 * Written apart from autopay's signer, so that each checks the other; the official SDK's
 * requests are accepted too (test/integration/risk-simulator.test.ts).
 */
export type SignatureCheck =
  | { ok: true; secretId: string }
  | { ok: false; code: RiskErrorCode; message: string };

const authorizationPattern =
  /^TC3-HMAC-SHA256 Credential=([^/\s]+)\/(\d{4}-\d{2}-\d{2})\/([a-z0-9]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data, 'utf8').digest();

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return (Array.isArray(value) ? value.join(',') : (value ?? '')).trim();
}

export function checkTc3Signature(input: {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** SecretId → SecretKey. */
  keys: ReadonlyMap<string, string>;
  nowSeconds: number;
}): SignatureCheck {
  const match = authorizationPattern.exec(header(input.headers, 'authorization'));
  if (!match) {
    return fail(
      'AuthFailure.InvalidAuthorization',
      'Authorization in the request header is invalid.',
    );
  }
  const [, secretId = '', date = '', service = '', signedHeaders = '', signature = ''] = match;
  const secretKey = input.keys.get(secretId);
  if (secretKey === undefined) {
    return fail('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
  }
  const timestamp = Number(header(input.headers, 'x-tc-timestamp'));
  if (!Number.isSafeInteger(timestamp)) {
    return fail('AuthFailure.InvalidAuthorization', 'X-TC-Timestamp is missing or invalid.');
  }
  if (Math.abs(input.nowSeconds - timestamp) > signatureToleranceSeconds) {
    return fail(
      'AuthFailure.SignatureExpire',
      'Signature expired. Timestamp and server time cannot differ by more than five minutes.',
    );
  }
  const names = signedHeaders.split(';');
  const dateOfTimestamp = new Date(timestamp * 1000).toISOString().slice(0, 10);
  if (
    service !== riskService ||
    date !== dateOfTimestamp ||
    !names.includes('content-type') ||
    !names.includes('host')
  ) {
    return fail(
      'AuthFailure.SignatureFailure',
      'The credential scope or signed headers are wrong.',
    );
  }
  // Tencent's hosts carry no port and its SDKs sign the name alone; a local one has a port.
  const canonicalValue = (name: string) =>
    name === 'host'
      ? header(input.headers, name).replace(/:\d+$/, '')
      : header(input.headers, name);
  const canonicalRequest = [
    input.method,
    input.path,
    '',
    names.map((name) => `${name}:${canonicalValue(name).toLowerCase()}\n`).join(''),
    signedHeaders,
    sha256Hex(input.body),
  ].join('\n');
  const scope = `${date}/${service}/tc3_request`;
  const stringToSign = `TC3-HMAC-SHA256\n${timestamp}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const key = hmac(hmac(hmac(`TC3${secretKey}`, date), service), 'tc3_request');
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return fail(
      'AuthFailure.SignatureFailure',
      'The provided credentials could not be validated. Please check your signature is correct.',
    );
  }
  return { ok: true, secretId };
}

function fail(code: RiskErrorCode, message: string): SignatureCheck {
  return { ok: false, code, message };
}
