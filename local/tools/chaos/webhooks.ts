import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Order } from '#domain/order.ts';
import type { OrderStatus } from '#domain/order-state.ts';
import { verifyWebhookSignature } from '#domain/webhook-signature.ts';
import type { Random } from '../../simulators/faults.ts';
import type { Check, Placed, Violation } from './checks.ts';

/**
 * The users' webhook endpoints of the chaos run: one loopback server that answers 500 to some
 * deliveries and never answers others, and records every event whose signature verifies under
 * the secret of the endpoint it was sent to.
 */
export interface EndpointFaults {
  readonly errorRate: number;
  readonly hangRate: number;
}

interface Received {
  readonly id: string;
  readonly type: string;
  readonly orderId: string | undefined;
}

export class FlakyEndpoints {
  readonly refused = { errors: 0, hangs: 0, badSignatures: 0 };
  /** Event id → the event, once however many times it came. */
  readonly events = new Map<string, Received>();
  private readonly secrets = new Map<string, string>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(random: Random, faults: EndpointFaults): Promise<FlakyEndpoints> {
    let endpoints: FlakyEndpoints | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () =>
        endpoints?.receive(req.url ?? '', req.headers, Buffer.concat(chunks), res, random, faults),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoints = new FlakyEndpoints(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    );
    return endpoints;
  }

  /** The URL of one user's endpoint; its secret is set once it is registered. */
  urlOf(userId: string): string {
    return `${this.baseUrl}/${encodeURIComponent(userId)}`;
  }

  registered(userId: string, secret: string): void {
    this.secrets.set(`/${encodeURIComponent(userId)}`, secret);
  }

  private receive(
    path: string,
    headers: NodeJS.Dict<string | string[]>,
    body: Buffer,
    res: import('node:http').ServerResponse,
    random: Random,
    faults: EndpointFaults,
  ): void {
    const draw = random();
    if (draw < faults.hangRate) {
      this.refused.hangs++;
      return;
    }
    if (draw < faults.hangRate + faults.errorRate) {
      this.refused.errors++;
      res.writeHead(500).end();
      return;
    }
    try {
      verifyWebhookSignature({
        header: headers['autopay-signature'] as string | undefined,
        body,
        secrets: [this.secrets.get(path) ?? ''],
        nowSeconds: Math.floor(Date.now() / 1000),
      });
    } catch {
      this.refused.badSignatures++;
      res.writeHead(400).end();
      return;
    }
    const event = JSON.parse(body.toString('utf8')) as {
      id: string;
      type: string;
      data: { order?: { orderId: string } };
    };
    this.events.set(event.id, {
      id: event.id,
      type: event.type,
      orderId: event.data.order?.orderId,
    });
    res.writeHead(200).end();
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The event each status an order enters must make; written here apart from the fan-out's own. */
const told: Partial<Record<OrderStatus, string>> = {
  AWAITING_CONFIRMATION: 'order.awaiting_confirmation',
  HELD_FOR_REVIEW: 'order.held_for_review',
  PAID: 'order.paid',
  FAILED: 'order.failed',
  EXPIRED: 'order.expired',
  REFUNDED: 'order.refunded',
};

/** Each order's events as its history says they must be, sorted, e.g. `order.paid`. */
export function expectedEvents(order: Pick<Order, 'history'>): string[] {
  // A refused refund takes it back to PAID, and a foreign refund of a refunded order is
  // recorded without a move: neither tells the user anything new. A refund the gateway failed
  // after it succeeded is told whatever status it leaves.
  return order.history
    .flatMap((entry) => {
      if (entry.cause === 'REFUND_FAILED') return ['order.refund_failed'];
      if (entry.from === entry.to) return [];
      if (entry.to === 'PAID' && entry.from === 'REFUND_PENDING') return [];
      return told[entry.to] ?? [];
    })
    .sort();
}

/** What arrived for each order, one per event id. */
export function receivedEvents(endpoints: FlakyEndpoints): Map<string, string[]> {
  const byOrder = new Map<string, string[]>();
  for (const event of endpoints.events.values()) {
    if (event.orderId === undefined) continue;
    byOrder.set(event.orderId, [...(byOrder.get(event.orderId) ?? []), event.type].sort());
  }
  return byOrder;
}

export function missingEvents(
  placed: readonly Placed[],
  orders: ReadonlyMap<string, Order>,
  endpoints: FlakyEndpoints,
): Violation[] {
  const received = receivedEvents(endpoints);
  const violations: Violation[] = [];
  for (const { orderId } of placed) {
    const order = orders.get(orderId);
    if (!order) continue;
    const expected = expectedEvents(order);
    const got = received.get(orderId) ?? [];
    if (expected.join() !== got.join()) {
      violations.push({
        orderId,
        detail: `its user was told [${got.join(', ')}], its history says [${expected.join(', ')}]`,
      });
    }
  }
  return violations;
}

/**
 * Waits until every order's events have arrived. Delivery is at least once, behind the table's
 * stream and a queue with backoff, so a large run's last events come minutes after its orders
 * settle: the wait lasts while events keep arriving, and gives up only after `quietMs` without a
 * new one (or at `capMs`).
 */
export async function waitForEvents(
  placed: readonly Placed[],
  orders: ReadonlyMap<string, Order>,
  endpoints: FlakyEndpoints,
  quietMs: number,
  capMs = 15 * 60_000,
): Promise<Check> {
  const cap = Date.now() + capMs;
  let seen = endpoints.events.size;
  let lastArrival = Date.now();
  let missing = missingEvents(placed, orders, endpoints);
  while (missing.length > 0 && Date.now() - lastArrival < quietMs && Date.now() < cap) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (endpoints.events.size !== seen) {
      seen = endpoints.events.size;
      lastArrival = Date.now();
    }
    missing = missingEvents(placed, orders, endpoints);
  }
  return { name: "every order's events reached its user's endpoint, signed", violations: missing };
}
