import { createHash } from 'node:crypto';
import { type Order, orderView } from './order.ts';
import type { OrderStatus } from './order-state.ts';

/**
 * The events a user hears about through their webhook endpoints. Each is read from a change of
 * an item (an order's status, an agent's suspension), never written by the payment path itself,
 * so no event can be lost between a write and a send.
 */
export const notificationEventTypes = [
  'order.awaiting_confirmation',
  'order.held_for_review',
  'order.paid',
  'order.failed',
  'order.expired',
  'order.refunded',
  'order.refund_failed',
  'agent.suspended',
] as const;
export type NotificationEventType = (typeof notificationEventTypes)[number];

/** The status an order enters → the event it makes; statuses not named here are not told. */
const orderEventOf: Partial<Record<OrderStatus, NotificationEventType>> = {
  AWAITING_CONFIRMATION: 'order.awaiting_confirmation',
  HELD_FOR_REVIEW: 'order.held_for_review',
  PAID: 'order.paid',
  FAILED: 'order.failed',
  EXPIRED: 'order.expired',
  REFUNDED: 'order.refunded',
};

/** What an agent item says about itself, as far as notifications care. */
export interface AgentImage {
  readonly agentId: string;
  readonly ownerId?: string | undefined;
  readonly suspended?: boolean | undefined;
  readonly version?: number | undefined;
}

/** One change of an item, as the table's change stream reports it. */
export type ItemChange =
  | {
      readonly kind: 'order';
      readonly before: Order | undefined;
      readonly after: Order;
      /** The stream's sequence number of the change: unique and the same on every redelivery. */
      readonly sequenceNumber: string;
    }
  | {
      readonly kind: 'agent';
      readonly before: AgentImage | undefined;
      readonly after: AgentImage;
      readonly sequenceNumber: string;
      /** When the stream saw the change (ISO 8601); an agent item keeps no time of its own. */
      readonly at: string;
    };

export interface NotificationEvent {
  /** Deterministic: the same change always makes the same id, so a receiver can deduplicate. */
  readonly id: string;
  readonly type: NotificationEventType;
  /** When the change happened (ISO 8601). */
  readonly created: string;
  /** The order's version (its per-order sequence number); the agent's, for agent events. */
  readonly sequence: number | undefined;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The event a change makes, with the agent whose owner hears it; undefined for most changes. */
export interface ToldEvent {
  readonly agentId: string;
  readonly orderId: string | undefined;
  /** The owner when the change itself names it (an agent item); otherwise it is looked up. */
  readonly ownerId: string | undefined;
  readonly event: NotificationEvent;
}

export function eventOfChange(change: ItemChange): ToldEvent | undefined {
  return change.kind === 'order' ? orderEvent(change) : agentEvent(change);
}

function orderEvent(change: Extract<ItemChange, { kind: 'order' }>): ToldEvent | undefined {
  const { before, after } = change;
  const type = refundFailedIn(change) ? 'order.refund_failed' : statusEventOf(before, after);
  if (type === undefined) return undefined;
  const waits = type === 'order.awaiting_confirmation' || type === 'order.held_for_review';
  const reason = after.confirmationReason ?? after.holdReason;
  const confirmBy = after.confirmBy ?? after.dueAt;
  return {
    agentId: after.agentId,
    orderId: after.orderId,
    ownerId: undefined,
    event: {
      id: eventId(after.orderId, type, String(after.version)),
      type,
      created: after.updatedAt,
      sequence: after.version,
      data: {
        ...(waits && reason ? { reason } : {}),
        ...(waits && confirmBy ? { confirmBy } : {}),
        order: orderView(after),
      },
    },
  };
}

function statusEventOf(before: Order | undefined, after: Order): NotificationEventType | undefined {
  if (before?.status === after.status) return undefined;
  // A refused refund takes the order back to PAID: the payment it told of is the same one.
  if (after.status === 'PAID' && before?.status === 'REFUND_PENDING') return undefined;
  return orderEventOf[after.status];
}

/**
 * Whether this change applied the gateway's failure of the refund (REFUND_FAILED): the user was
 * told `order.refunded`, and must hear that the money did not reach them. A move appends one
 * history entry, so a later write of the held order (an annotation) tells nothing again.
 */
function refundFailedIn({ before, after }: Extract<ItemChange, { kind: 'order' }>): boolean {
  return (
    after.history.at(-1)?.cause === 'REFUND_FAILED' &&
    after.history.length > (before?.history.length ?? 0)
  );
}

function agentEvent(change: Extract<ItemChange, { kind: 'agent' }>): ToldEvent | undefined {
  const { before, after } = change;
  if (after.suspended !== true || before?.suspended === true) return undefined;
  return {
    agentId: after.agentId,
    orderId: undefined,
    ownerId: after.ownerId,
    event: {
      id: eventId(after.agentId, 'agent.suspended', change.sequenceNumber),
      type: 'agent.suspended',
      created: change.at,
      sequence: after.version,
      data: { agent: { agentId: after.agentId, suspended: true } },
    },
  };
}

function eventId(subject: string, type: NotificationEventType, sequence: string): string {
  const digest = createHash('sha256').update(`${subject}\n${type}\n${sequence}`).digest('hex');
  return `evt_${digest.slice(0, 32)}`;
}

/** One event for one endpoint: what the notification queue carries. */
export interface NotificationMessage {
  readonly eventId: string;
  readonly eventType: NotificationEventType;
  readonly userId: string;
  readonly endpointId: string;
  /** The order the event is about, for the delivery's logs; absent for agent events. */
  readonly orderId?: string | undefined;
  /** The exact bytes delivered, fixed once, so every retry sends (and signs) the same body. */
  readonly body: string;
}

/** An endpoint as the fan-out and the delivery see it. */
export interface EndpointTarget {
  readonly endpointId: string;
  readonly url: string;
  readonly events: readonly NotificationEventType[];
}

/** The user who owns an agent; the adapter reads the agent item's `ownerId`. */
export interface AgentOwners {
  ownerOf(agentId: string): Promise<string | undefined>;
}

export interface EndpointDirectory {
  endpointsOf(userId: string): Promise<readonly EndpointTarget[]>;
  endpoint(userId: string, endpointId: string): Promise<EndpointTarget | undefined>;
}

export interface NotificationOutbox {
  send(messages: readonly NotificationMessage[]): Promise<void>;
}

export interface FanOutDeps {
  readonly owners: AgentOwners;
  readonly endpoints: EndpointDirectory;
  readonly outbox: NotificationOutbox;
}

/**
 * Turns changes into one message per (event, subscribed endpoint).
 * Steps: make the event of each change; find the agent's owner (once per agent per batch);
 * find the owner's endpoints subscribed to the event; queue one message for each.
 * Returns how many messages it queued.
 */
export function makeFanOut(deps: FanOutDeps) {
  return async (change: ItemChange, owners: Map<string, Promise<string>>): Promise<number> => {
    const told = eventOfChange(change);
    if (told === undefined) return 0;
    const userId = told.ownerId ?? (await ownerOnce(deps.owners, told.agentId, owners));
    const subscribed = (await deps.endpoints.endpointsOf(userId)).filter((endpoint) =>
      endpoint.events.includes(told.event.type),
    );
    if (subscribed.length === 0) return 0;
    const body = JSON.stringify(told.event);
    await deps.outbox.send(
      subscribed.map((endpoint) => ({
        eventId: told.event.id,
        eventType: told.event.type,
        userId,
        endpointId: endpoint.endpointId,
        ...(told.orderId ? { orderId: told.orderId } : {}),
        body,
      })),
    );
    return subscribed.length;
  };
}

/**
 * An agent without an owner on record is its own user: that is how agents were provisioned
 * before users owned them, and how the local user token of an agent names its user.
 */
function ownerOnce(
  owners: AgentOwners,
  agentId: string,
  cache: Map<string, Promise<string>>,
): Promise<string> {
  let owner = cache.get(agentId);
  if (owner === undefined) {
    owner = owners.ownerOf(agentId).then((found) => found ?? agentId);
    cache.set(agentId, owner);
  }
  return owner;
}
