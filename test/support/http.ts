import { randomUUID } from 'node:crypto';
import { AutopayClient, type CreateOrderRequest } from '../../client/autopay-client.ts';
import { signLocalToken } from '../../local/runtime/auth.ts';
import type { LocalRuntime } from '../../local/runtime/local-runtime.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { apiFetchRequest } from './contract.ts';

export interface OrderBody {
  orderId: string;
  status: string;
  attempts: number;
  lastError?: string;
  declineCode?: string;
  holdReason?: string;
  gatewayRef?: string;
  history: Array<{ from: string | null; to: string; cause: string; errorCode?: string }>;
  [key: string]: unknown;
}

/**
 * An agent talking to the local API over real HTTP through the typed client, as an agent
 * developer's code would; every answer is checked against docs/openapi.json on the way.
 */
export class AgentClient {
  private sequence = 0;

  private constructor(
    private readonly client: AutopayClient,
    private readonly prefix: string,
  ) {}

  static async for(stack: LocalRuntime, agentId: string): Promise<AgentClient> {
    const client = new AutopayClient({
      baseUrl: stack.apiUrl,
      token: await signLocalToken(agentId),
      fetch: apiFetchRequest,
      // A test sees each refusal itself: nothing is retried for it.
      maxRetries: 0,
    });
    return new AgentClient(client, `${agentId}-${randomUUID()}`);
  }

  async place(overrides: Record<string, unknown> = {}, key?: string): Promise<OrderBody> {
    const order = { ...latteOrder, ...overrides } as unknown as CreateOrderRequest;
    const idempotencyKey = key ?? `${this.prefix}-${++this.sequence}`;
    return (await this.client.placeOrder(order, { idempotencyKey })).order as OrderBody;
  }

  async get(orderId: string): Promise<OrderBody> {
    return (await this.client.getOrder(orderId)) as OrderBody;
  }

  /** Polls the order until `done` holds, or fails naming the last status seen. */
  async waitFor(
    orderId: string,
    done: (order: OrderBody) => boolean,
    timeoutMs = 30_000,
  ): Promise<OrderBody> {
    const deadline = Date.now() + timeoutMs;
    let order = await this.get(orderId);
    while (!done(order)) {
      if (Date.now() > deadline) {
        throw new Error(`order ${orderId} still ${order.status}: ${JSON.stringify(order)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      order = await this.get(orderId);
    }
    return order;
  }

  waitForStatus(orderId: string, status: string, timeoutMs?: number): Promise<OrderBody> {
    return this.waitFor(orderId, (order) => order.status === status, timeoutMs);
  }
}
