import type {
  AgentOwners,
  EndpointDirectory,
  EndpointTarget,
  NotificationMessage,
  NotificationOutbox,
} from '#domain/notifications.ts';
import type { WebhookAnswer, WebhookSender } from '#domain/webhook-delivery.ts';
import type {
  CreateOutcome,
  WebhookEndpoint,
  WebhookEndpointStore,
} from '#domain/webhook-endpoints.ts';

/** Keeps the adapter's contract: the cap and the "already there" check are one atomic step. */
export class InMemoryWebhookEndpoints implements WebhookEndpointStore, EndpointDirectory {
  readonly byUser = new Map<string, Map<string, WebhookEndpoint>>();
  reads = 0;

  async create(endpoint: WebhookEndpoint, maxPerUser: number): Promise<CreateOutcome> {
    const mine = this.byUser.get(endpoint.userId) ?? new Map<string, WebhookEndpoint>();
    const existing = mine.get(endpoint.endpointId);
    if (existing) return { kind: 'exists', existing: structuredClone(existing) };
    if (mine.size >= maxPerUser) return { kind: 'full' };
    mine.set(endpoint.endpointId, structuredClone(endpoint));
    this.byUser.set(endpoint.userId, mine);
    return { kind: 'created' };
  }

  async list(userId: string): Promise<readonly WebhookEndpoint[]> {
    this.reads++;
    return [...(this.byUser.get(userId)?.values() ?? [])].map((one) => structuredClone(one));
  }

  async remove(userId: string, endpointId: string): Promise<boolean> {
    return this.byUser.get(userId)?.delete(endpointId) ?? false;
  }

  endpointsOf(userId: string): Promise<readonly EndpointTarget[]> {
    return this.list(userId);
  }

  async endpoint(userId: string, endpointId: string): Promise<EndpointTarget | undefined> {
    return (await this.list(userId)).find((one) => one.endpointId === endpointId);
  }
}

export class FakeOwners implements AgentOwners {
  lookups = 0;

  constructor(private readonly owners: Readonly<Record<string, string>>) {}

  async ownerOf(agentId: string): Promise<string | undefined> {
    this.lookups++;
    return this.owners[agentId];
  }
}

export class RecordingOutbox implements NotificationOutbox {
  readonly sent: NotificationMessage[] = [];

  async send(messages: readonly NotificationMessage[]): Promise<void> {
    this.sent.push(...messages);
  }
}

/** An endpoint that answers from a script: a status, or no answer at all. */
export class ScriptedSender implements WebhookSender {
  readonly posts: Array<{ url: string; body: string; headers: Record<string, string> }> = [];

  constructor(private readonly answers: WebhookAnswer[] = []) {}

  async post(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<WebhookAnswer> {
    this.posts.push({ url, body, headers: { ...headers } });
    return this.answers.shift() ?? { kind: 'answered', status: 200 };
  }
}

export const fixedKey = { get: async () => 'whkey_test_not_secret' };
