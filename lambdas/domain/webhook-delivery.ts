import { type BackoffPolicy, backoffSeconds } from './backoff.ts';
import type { EndpointDirectory, NotificationMessage } from './notifications.ts';
import type { Clock } from './ports.ts';
import { endpointSecret } from './webhook-endpoints.ts';
import { signWebhookPayload } from './webhook-signature.ts';

/** The header every delivered event carries: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const signatureHeader = 'autopay-signature';

/** What an endpoint answered: its HTTP status, or why there was no answer (timeout, refused). */
export type WebhookAnswer =
  | { readonly kind: 'answered'; readonly status: number }
  | { readonly kind: 'unreachable'; readonly reason: string };

export interface WebhookSender {
  post(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<WebhookAnswer>;
}

/** The key every endpoint's signing secret is derived from (held in Secrets Manager in AWS). */
export interface EndpointKeySource {
  get(): Promise<string>;
}

export interface DeliveryDeps {
  readonly endpoints: EndpointDirectory;
  readonly sender: WebhookSender;
  readonly key: EndpointKeySource;
  readonly clock: Clock;
  readonly backoff: BackoffPolicy;
}

export type DeliveryResult =
  | { readonly kind: 'done'; readonly detail: string }
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly reason: string };

/**
 * Delivers one event to one endpoint, at least once.
 * Steps: find the endpoint (a deleted one is told nothing more); sign the fixed body with the
 * endpoint's own secret at the time of sending; POST it; any 2xx is done, anything else comes
 * back after an exponential backoff with jitter, until the queue's DLQ takes it.
 */
export function makeDeliverNotification(deps: DeliveryDeps) {
  return async (message: NotificationMessage, receiveCount: number): Promise<DeliveryResult> => {
    const endpoint = await deps.endpoints.endpoint(message.userId, message.endpointId);
    if (endpoint === undefined) {
      return { kind: 'done', detail: 'endpoint deleted: event dropped' };
    }
    const secret = endpointSecret(await deps.key.get(), message.endpointId);
    const nowSeconds = Math.floor(deps.clock.now().getTime() / 1000);
    const answer = await deps.sender.post(endpoint.url, message.body, {
      'content-type': 'application/json',
      [signatureHeader]: signWebhookPayload(message.body, [secret], nowSeconds),
      'autopay-event-id': message.eventId,
      'autopay-event-type': message.eventType,
    });
    if (answer.kind === 'answered' && answer.status >= 200 && answer.status < 300) {
      return { kind: 'done', detail: `delivered: ${answer.status}` };
    }
    const reason =
      answer.kind === 'answered' ? `endpoint answered ${answer.status}` : answer.reason;
    return { kind: 'retry', delaySeconds: backoffSeconds(receiveCount, deps.backoff), reason };
  };
}
