import { createHash, createHmac } from 'node:crypto';
import * as z from 'zod/mini';
import { AutopayError, IdempotencyKeyReusedError, ValidationError } from './errors.ts';
import {
  type EndpointTarget,
  type NotificationEventType,
  notificationEventTypes,
} from './notifications.ts';
import { requestHashOf } from './order.ts';
import type { Clock } from './ports.ts';
import { idempotencyKeySchema, parseWith, text } from './schemas.ts';
import type { EndpointKeySource } from './webhook-delivery.ts';

/**
 * Where a stage lets endpoints live: `https` everywhere in AWS; `https-or-loopback` on the local
 * stack, where a listener on this machine speaks plain http.
 */
export type WebhookUrlPolicy = 'https' | 'https-or-loopback';

export interface WebhookEndpointPolicy {
  readonly urlPolicy: WebhookUrlPolicy;
  /** How many endpoints one user may have at once. */
  readonly maxPerUser: number;
}

export interface WebhookEndpoint extends EndpointTarget {
  readonly userId: string;
  readonly createdAt: string;
  /** Hash of the creating request, so the same Idempotency-Key with another body is refused. */
  readonly requestHash: string;
}

export type CreateOutcome =
  | { readonly kind: 'created' }
  | { readonly kind: 'exists'; readonly existing: WebhookEndpoint }
  | { readonly kind: 'full' };

/** The user's endpoints; creation is one conditional write that also enforces the cap. */
export interface WebhookEndpointStore {
  create(endpoint: WebhookEndpoint, maxPerUser: number): Promise<CreateOutcome>;
  list(userId: string): Promise<readonly WebhookEndpoint[]>;
  /** False when the user has no such endpoint. */
  remove(userId: string, endpointId: string): Promise<boolean>;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

function urlSchema(policy: WebhookUrlPolicy) {
  return text({ max: 2048 }).check(
    z.refine(
      (value) => {
        if (!URL.canParse(value)) return false;
        const url = new URL(value);
        if (url.username !== '' || url.password !== '') return false;
        if (url.protocol === 'https:') return true;
        return (
          policy === 'https-or-loopback' &&
          url.protocol === 'http:' &&
          loopbackHosts.has(url.hostname)
        );
      },
      {
        message:
          policy === 'https'
            ? 'must be an absolute https URL without credentials'
            : 'must be an https URL, or http to 127.0.0.1 or localhost',
      },
    ),
  );
}

export function createEndpointSchema(policy: WebhookUrlPolicy) {
  return z.strictObject({
    url: urlSchema(policy).check(z.describe('Where events are POSTed')),
    events: z.array(z.enum(notificationEventTypes)).check(
      z.minLength(1),
      z.maxLength(notificationEventTypes.length),
      z.refine((events) => new Set(events).size === events.length, {
        message: 'must not repeat an event type',
      }),
      z.describe('The event types sent to this endpoint'),
    ),
  });
}

/** What the user sees of an endpoint; never its secret. */
export function endpointView(endpoint: WebhookEndpoint) {
  return {
    id: endpoint.endpointId,
    url: endpoint.url,
    events: endpoint.events,
    createdAt: endpoint.createdAt,
  };
}

/**
 * An endpoint's signing secret, derived from one key and the endpoint's id: no secret is ever
 * stored in the table, so a table read, a backup or a stream record reveals none, and the
 * delivery function recomputes it from the key it alone (with the creating function) may read.
 */
export function endpointSecret(key: string, endpointId: string): string {
  if (key === '') throw new Error('The webhook endpoint key is empty');
  const digest = createHmac('sha256', key).update(`webhook-endpoint\n${endpointId}`).digest();
  return `whsec_${digest.toString('base64url')}`;
}

export function endpointIdFor(userId: string, idempotencyKey: string): string {
  const digest = createHash('sha256').update(`${userId}\n${idempotencyKey}`).digest('hex');
  return `we_${digest.slice(0, 24)}`;
}

export interface WebhookEndpointDeps {
  readonly store: WebhookEndpointStore;
  readonly key: EndpointKeySource;
  readonly clock: Clock;
  readonly policy: WebhookEndpointPolicy;
}

export interface CreatedEndpoint {
  readonly endpoint: WebhookEndpoint;
  readonly secret: string;
  readonly replayed: boolean;
}

export function makeWebhookEndpoints(deps: WebhookEndpointDeps) {
  const schema = createEndpointSchema(deps.policy.urlPolicy);

  /**
   * Steps: check the key and the body; derive the id from (user, key); store it under the cap,
   * or find the one the same request stored; show its secret.
   */
  async function create(
    userId: string,
    idempotencyKey: string | undefined,
    body: unknown,
  ): Promise<CreatedEndpoint> {
    if (idempotencyKey === undefined || !idempotencyKeySchema.safeParse(idempotencyKey).success) {
      throw new ValidationError('IDEMPOTENCY_KEY_REQUIRED');
    }
    const request = parseWith(schema, body);
    const endpoint: WebhookEndpoint = {
      endpointId: endpointIdFor(userId, idempotencyKey),
      userId,
      url: request.url,
      events: request.events as NotificationEventType[],
      createdAt: deps.clock.now().toISOString(),
      requestHash: requestHashOf(request),
    };
    const outcome = await deps.store.create(endpoint, deps.policy.maxPerUser);
    if (outcome.kind === 'full') {
      throw new AutopayError('WEBHOOK_ENDPOINT_LIMIT_REACHED', undefined, {
        maxPerUser: deps.policy.maxPerUser,
      });
    }
    const stored = outcome.kind === 'exists' ? outcome.existing : endpoint;
    if (stored.requestHash !== endpoint.requestHash) {
      throw new IdempotencyKeyReusedError(stored.endpointId);
    }
    const secret = endpointSecret(await deps.key.get(), stored.endpointId);
    return { endpoint: stored, secret, replayed: outcome.kind === 'exists' };
  }

  async function list(userId: string): Promise<readonly WebhookEndpoint[]> {
    const endpoints = await deps.store.list(userId);
    return [...endpoints].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async function remove(userId: string, endpointId: string): Promise<void> {
    if (!(await deps.store.remove(userId, endpointId))) {
      throw new AutopayError('WEBHOOK_ENDPOINT_NOT_FOUND', `No webhook endpoint ${endpointId}.`);
    }
  }

  return { create, list, remove };
}
