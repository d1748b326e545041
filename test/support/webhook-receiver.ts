import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '#domain/webhook-signature.ts';

export interface ReceivedEvent {
  readonly path: string;
  readonly signature: string | undefined;
  readonly rawBody: string;
  readonly event: {
    id: string;
    type: string;
    created: string;
    sequence?: number;
    data: { order?: { orderId: string; status: string }; reason?: string; confirmBy?: string };
  };
  readonly answeredStatus: number;
}

/** In a plan: keep the request open and never answer (an endpoint that hangs). */
export const neverAnswer = 0;

/**
 * A user's webhook endpoint on the loopback interface: it records every POST and answers with
 * the status its plan for that path says next (200 once the plan is used up).
 */
export class WebhookReceiver {
  readonly received: ReceivedEvent[] = [];
  private readonly plans = new Map<string, number[]>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        const status = receiver?.plans.get(path)?.shift() ?? 200;
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const signature = req.headers['autopay-signature'];
        receiver?.received.push({
          path,
          signature: typeof signature === 'string' ? signature : undefined,
          rawBody,
          event: JSON.parse(rawBody) as ReceivedEvent['event'],
          answeredStatus: status,
        });
        if (status !== neverAnswer) res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}`);
    return receiver;
  }

  /** The statuses the next POSTs to `path` get, in order. */
  answer(path: string, statuses: readonly number[]): void {
    this.plans.set(path, [...statuses]);
  }

  /** Every event POSTed to `path` whose signature verifies under `secret`. */
  verified(path: string, secret: string): ReceivedEvent[] {
    return this.received.filter((received) => {
      if (received.path !== path) return false;
      try {
        verifyWebhookSignature({
          header: received.signature,
          body: received.rawBody,
          secrets: [secret],
          nowSeconds: Math.floor(Date.now() / 1000),
        });
        return true;
      } catch {
        return false;
      }
    });
  }

  /** Waits until `done` holds for the POSTs to `path`, or fails naming what arrived. */
  async waitFor(
    path: string,
    done: (received: ReceivedEvent[]) => boolean,
    timeoutMs = 20_000,
  ): Promise<ReceivedEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mine = this.received.filter((received) => received.path === path);
      if (done(mine)) return mine;
      if (Date.now() > deadline) {
        const seen = mine.map((received) => `${received.event.type}:${received.answeredStatus}`);
        throw new Error(`${path} received only [${seen.join(', ')}]`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
