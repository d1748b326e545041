import { createHash, createHmac } from 'node:crypto';

/**
 * Tencent Cloud API 3.0's request signature, TC3-HMAC-SHA256, for a JSON POST to `/` with the
 * two headers Tencent's own SDKs sign (content-type and host). Hand-written because the official
 * SDK is far too heavy for a Lambda bundle; test/unit/tc3-signature.test.ts checks it against the
 * SDK's signer for the same inputs.
 */

export const tc3Algorithm = 'TC3-HMAC-SHA256';

export interface Tc3Credentials {
  readonly secretId: string;
  readonly secretKey: string;
}

export interface Tc3Request {
  /** `rce`: the first label of the product's endpoint, part of the credential scope. */
  readonly service: string;
  /** The Host header's name, without a port (what Tencent and its SDKs sign). */
  readonly host: string;
  readonly contentType: string;
  /** The exact bytes sent as the body. */
  readonly payload: string;
  /** Unix seconds, also sent as X-TC-Timestamp. */
  readonly timestamp: number;
}

const signedHeaders = 'content-type;host';

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/** `2026-11-29`: the UTC date of the timestamp, the first part of the credential scope. */
export function tc3Date(timestamp: number): string {
  return new Date(timestamp * 1000).toISOString().slice(0, 10);
}

/** The hex signature of a request: what the Authorization header's `Signature=` carries. */
export function tc3Signature(request: Tc3Request, secretKey: string): string {
  const canonicalRequest = [
    'POST',
    '/',
    '',
    `content-type:${request.contentType}\nhost:${request.host}\n`,
    signedHeaders,
    sha256Hex(request.payload),
  ].join('\n');
  const date = tc3Date(request.timestamp);
  const scope = `${date}/${request.service}/tc3_request`;
  const stringToSign = [tc3Algorithm, request.timestamp, scope, sha256Hex(canonicalRequest)].join(
    '\n',
  );
  const signingKey = hmac(hmac(hmac(`TC3${secretKey}`, date), request.service), 'tc3_request');
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
}

/** The Authorization header of a request signed with these credentials. */
export function tc3Authorization(request: Tc3Request, credentials: Tc3Credentials): string {
  const scope = `${tc3Date(request.timestamp)}/${request.service}/tc3_request`;
  const signature = tc3Signature(request, credentials.secretKey);
  return `${tc3Algorithm} Credential=${credentials.secretId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}
