import { randomBytes } from 'node:crypto';
import { isRecord } from '../faults.ts';
import {
  type Answer,
  failure,
  idempotencyKey,
  keyRequired,
  manage,
  ok,
  type RequestContext,
  type Route,
  replayed,
} from './api.ts';
import {
  type Credentials,
  keyView,
  MAX_VALID_API_KEYS,
  newKeyView,
  secretView,
  WEBHOOK_SECRET_LENGTH,
} from './keys.ts';

/**
 * `/v1/keys` and `/v1/webhook-secrets`: rotating the API keys and the signing secrets. Each
 * answer is made without an await, so nothing races between a check and its change.
 */
export function credentialRoutes(apiKeys: Credentials, webhookSecrets: Credentials): Route[] {
  return [
    manage('POST', '/v1/keys', (c) => createKey(apiKeys, c)),
    manage('GET', '/v1/keys', () => listKeys(apiKeys)),
    manage('DELETE', '/v1/keys/{id}', (c) => revokeKey(apiKeys, c.pathId)),
    manage('POST', '/v1/webhook-secrets', (c) => registerSecret(webhookSecrets, c)),
    manage('GET', '/v1/webhook-secrets', () => listSecrets(webhookSecrets)),
    manage('DELETE', '/v1/webhook-secrets/{id}', (c) => deleteSecret(webhookSecrets, c.pathId)),
  ];
}

function createKey(apiKeys: Credentials, { req }: RequestContext): Answer {
  const key = idempotencyKey(req);
  if (key === undefined) return keyRequired();
  const earlier = apiKeys.byIdempotencyKey(key);
  if (earlier) return ok(newKeyView(earlier), replayed);
  if (apiKeys.active().length >= MAX_VALID_API_KEYS) {
    return failure(
      409,
      'key_limit',
      `${MAX_VALID_API_KEYS} API keys are valid already; revoke one before creating another.`,
    );
  }
  const secret = `sk_local_${randomBytes(24).toString('hex')}`;
  return ok(newKeyView(apiKeys.add(secret, key)));
}

function listKeys(apiKeys: Credentials): Answer {
  return ok({ data: apiKeys.active().map(keyView) });
}

function revokeKey(apiKeys: Credentials, id: string): Answer {
  const entry = apiKeys.byId(id);
  if (entry === undefined) return failure(404, 'not_found', `No API key ${id}.`);
  apiKeys.retire(entry);
  return ok({ id, revoked: true });
}

function registerSecret(webhookSecrets: Credentials, { body }: RequestContext): Answer {
  const secret = isRecord(body) ? body.secret : undefined;
  const { min, max } = WEBHOOK_SECRET_LENGTH;
  if (typeof secret !== 'string' || secret.length < min || secret.length > max) {
    return failure(
      400,
      'invalid_request_error',
      `Send {"secret": "<${min} to ${max} characters>"}.`,
    );
  }
  const existing = webhookSecrets.activeBySecret(secret);
  if (existing) return ok(secretView(existing), replayed);
  return ok(secretView(webhookSecrets.add(secret)));
}

function listSecrets(webhookSecrets: Credentials): Answer {
  return ok({ data: webhookSecrets.active().map(secretView) });
}

function deleteSecret(webhookSecrets: Credentials, id: string): Answer {
  const entry = webhookSecrets.byId(id);
  if (entry === undefined) return failure(404, 'not_found', `No webhook secret ${id}.`);
  if (!entry.retired && webhookSecrets.active().length === 1) {
    return failure(
      409,
      'last_secret',
      'This is the last signing secret; register its successor before deleting it.',
    );
  }
  webhookSecrets.retire(entry);
  return ok({ id, deleted: true });
}
