import { describe, expect, it } from 'vitest';
import {
  eventOfChange,
  type ItemChange,
  makeFanOut,
  type NotificationEvent,
} from '#domain/notifications.ts';
import { type HistoryEntry, type Order, openOrder } from '#domain/order.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import { FakeOwners, InMemoryWebhookEndpoints, RecordingOutbox } from '../fakes/notifications.ts';

const placed = openOrder({
  orderId: `ord_${'c'.repeat(32)}`,
  agentId: 'cautious-agent',
  idempotencyKey: 'key-1',
  requestHash: 'f'.repeat(64),
  action: 'order_coffee',
  sessionId: 's-1',
  items: [{ sku: 'latte', quantity: 1 }],
  amount: 450,
  currency: 'CNY',
  paymentMethod: 'wallet',
  status: 'AWAITING_CONFIRMATION',
  confirmationReason: 'ACTION_NOT_TRUSTED',
  confirmBy: '2026-11-29T10:05:00.000Z',
  attempts: 0,
  createdAt: '2026-11-29T10:00:00.000Z',
});

function moved(from: Order, status: OrderStatus, extra: Partial<Order> = {}): Order {
  return {
    ...from,
    ...extra,
    status,
    version: from.version + 1,
    updatedAt: '2026-11-29T10:01:00.000Z',
  };
}

/** A move as the table records it: the status, and an entry appended to the history. */
function recorded(
  from: Order,
  status: OrderStatus,
  cause: HistoryEntry['cause'],
  extra: Partial<Order> = {},
): Order {
  const to = moved(from, status, extra);
  return {
    ...to,
    history: [...from.history, { from: from.status, to: status, at: to.updatedAt, cause }],
  };
}

const orderChange = (before: Order | undefined, after: Order, sequenceNumber = '100') =>
  ({ kind: 'order', before, after, sequenceNumber }) satisfies ItemChange;

describe('the event a change of the table makes', () => {
  it('tells of a new order waiting for the user, with its reason and deadline', () => {
    // Act
    const told = eventOfChange(orderChange(undefined, placed));

    // Assess
    expect(told).toMatchObject({
      agentId: 'cautious-agent',
      orderId: placed.orderId,
      event: {
        type: 'order.awaiting_confirmation',
        created: placed.updatedAt,
        sequence: 1,
        data: {
          reason: 'ACTION_NOT_TRUSTED',
          confirmBy: '2026-11-29T10:05:00.000Z',
          order: { orderId: placed.orderId, status: 'AWAITING_CONFIRMATION' },
        },
      },
    });
  });

  it.each([
    ['HELD_FOR_REVIEW', 'order.held_for_review'],
    ['PAID', 'order.paid'],
    ['FAILED', 'order.failed'],
    ['EXPIRED', 'order.expired'],
    ['REFUNDED', 'order.refunded'],
  ] as const)('tells of an order entering %s as %s', (status, type) => {
    expect(eventOfChange(orderChange(placed, moved(placed, status)))?.event.type).toBe(type);
  });

  it('gives a held order the reason it is held for', () => {
    // Act
    const held = moved(placed, 'HELD_FOR_REVIEW', {
      confirmationReason: undefined,
      holdReason: 'RISK_REVIEW',
      confirmBy: undefined,
      dueAt: '2026-11-30T10:01:00.000Z',
    });

    // Assess
    expect(eventOfChange(orderChange(placed, held))?.event.data).toMatchObject({
      reason: 'RISK_REVIEW',
      confirmBy: '2026-11-30T10:01:00.000Z',
    });
  });

  it.each(['PENDING_PAYMENT', 'AWAITING_SETTLEMENT', 'CANCELLED', 'REFUND_PENDING'] as const)(
    'tells nothing of an order entering %s',
    (status) => {
      expect(eventOfChange(orderChange(placed, moved(placed, status)))).toBeUndefined();
    },
  );

  it('tells nothing when the status stays (attempts, deadlines), nor of a refused refund', () => {
    // Prepare
    const paid = moved(placed, 'PAID');
    const refunding = moved(paid, 'REFUND_PENDING');

    // Act / Assess
    expect(eventOfChange(orderChange(paid, { ...paid, attempts: 2 }))).toBeUndefined();
    expect(eventOfChange(orderChange(refunding, moved(refunding, 'PAID')))).toBeUndefined();
  });

  it('tells once that a refund failed after the user was told it was refunded, with why', () => {
    // Prepare: REFUNDED, then the gateway fails the refund (REFUND_FAILED: REFUND_PENDING again).
    const refunded = recorded(moved(placed, 'PAID'), 'REFUNDED', 'REFUND_SUCCEEDED');
    const owing = recorded(refunded, 'REFUND_PENDING', 'REFUND_FAILED', {
      lastError: 'REFUND_FAILED',
      refundFailure: 'expired_or_canceled_card',
    });

    // Act
    const told = eventOfChange(orderChange(refunded, owing, '400'));
    const again = eventOfChange(orderChange(refunded, owing, '401'));
    const annotated = eventOfChange(orderChange(owing, { ...owing, redrives: 1 }, '402'));

    // Assess
    expect(told).toMatchObject({
      orderId: placed.orderId,
      event: {
        type: 'order.refund_failed',
        sequence: owing.version,
        data: {
          order: {
            status: 'REFUND_PENDING',
            lastError: 'REFUND_FAILED',
            refundFailure: 'expired_or_canceled_card',
          },
        },
      },
    });
    expect(told?.event.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(again?.event.id).toBe(told?.event.id);
    expect(annotated).toBeUndefined();
  });

  it('tells that a refund failed before its success was recorded (REFUND_PENDING kept)', () => {
    // Prepare
    const refunding = recorded(moved(placed, 'PAID'), 'REFUND_PENDING', 'REFUND_REQUESTED');
    const owing = recorded(refunding, 'REFUND_PENDING', 'REFUND_FAILED', {
      lastError: 'REFUND_FAILED',
      refundFailure: 'declined',
    });

    // Act / Assess
    expect(eventOfChange(orderChange(refunding, owing))?.event).toMatchObject({
      type: 'order.refund_failed',
      data: { order: { refundFailure: 'declined' } },
    });
  });

  it('gives one change the same id every time, and another change another id', () => {
    // Prepare
    const paid = moved(placed, 'PAID');

    // Act
    const ids = [
      eventOfChange(orderChange(placed, paid, '100'))?.event.id,
      eventOfChange(orderChange(placed, paid, '200'))?.event.id,
      eventOfChange(orderChange(undefined, placed))?.event.id,
    ];

    // Assess
    expect(ids[0]).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it("tells of an agent's suspension once, when it goes from false to true, to its owner", () => {
    // Prepare
    const agent = { agentId: 'demo-agent', ownerId: 'demo-user', suspended: false };
    const change = (before: typeof agent | undefined, suspended: boolean): ItemChange => ({
      kind: 'agent',
      before,
      after: { ...agent, suspended },
      sequenceNumber: '300',
      at: '2026-11-29T10:02:00.000Z',
    });

    // Act
    const suspended = eventOfChange(change(agent, true));

    // Assess
    expect(suspended).toMatchObject({
      agentId: 'demo-agent',
      ownerId: 'demo-user',
      event: {
        type: 'agent.suspended',
        created: '2026-11-29T10:02:00.000Z',
        data: { agent: { agentId: 'demo-agent', suspended: true } },
      },
    });
    expect(eventOfChange(change({ ...agent, suspended: true }, true))).toBeUndefined();
    expect(eventOfChange(change(agent, false))).toBeUndefined();
  });
});

describe('the fan-out', () => {
  function setUp(owners: Record<string, string> = { 'cautious-agent': 'demo-user' }) {
    const endpoints = new InMemoryWebhookEndpoints();
    const outbox = new RecordingOutbox();
    const lookups = new FakeOwners(owners);
    const fanOut = makeFanOut({ owners: lookups, endpoints, outbox });
    const add = (userId: string, endpointId: string, events: NotificationEvent['type'][]) =>
      endpoints.create(
        {
          endpointId,
          userId,
          url: `https://example.com/${endpointId}`,
          events,
          createdAt: '2026-11-29T09:00:00.000Z',
          requestHash: 'h',
        },
        10,
      );
    return { fanOut, outbox, lookups, endpoints, add };
  }

  it("queues one message per endpoint of the agent's owner subscribed to the event", async () => {
    // Prepare
    const { fanOut, outbox, add } = setUp();
    await add('demo-user', 'we_a', ['order.awaiting_confirmation', 'order.paid']);
    await add('demo-user', 'we_b', ['order.awaiting_confirmation']);
    await add('demo-user', 'we_c', ['order.paid']);
    await add('other-user', 'we_d', ['order.awaiting_confirmation']);

    // Act
    const queued = await fanOut(orderChange(undefined, placed), new Map());

    // Assess
    expect(queued).toBe(2);
    expect(outbox.sent.map((message) => message.endpointId).sort()).toEqual(['we_a', 'we_b']);
    const [first, second] = outbox.sent;
    expect(first?.body).toBe(second?.body);
    expect(first).toMatchObject({
      eventType: 'order.awaiting_confirmation',
      userId: 'demo-user',
      orderId: placed.orderId,
    });
    expect(JSON.parse(first?.body ?? '{}')).toMatchObject({ id: first?.eventId });
  });

  it('looks up an agent owner once per batch, and takes the agent as its own user when it has none', async () => {
    // Prepare
    const { fanOut, outbox, lookups, add } = setUp({});
    await add('cautious-agent', 'we_a', ['order.awaiting_confirmation', 'order.paid']);
    const owners = new Map<string, Promise<string>>();

    // Act
    await fanOut(orderChange(undefined, placed), owners);
    await fanOut(orderChange(placed, moved(placed, 'PAID')), owners);

    // Assess
    expect(lookups.lookups).toBe(1);
    expect(outbox.sent.map((message) => message.eventType)).toEqual([
      'order.awaiting_confirmation',
      'order.paid',
    ]);
  });

  it('reads nothing for a change that tells nothing', async () => {
    // Prepare
    const { fanOut, outbox, lookups, endpoints } = setUp();

    // Act
    const queued = await fanOut(orderChange(placed, { ...placed, attempts: 1 }), new Map());

    // Assess
    expect(queued).toBe(0);
    expect(lookups.lookups + endpoints.reads).toBe(0);
    expect(outbox.sent).toEqual([]);
  });
});
