import { randomUUID } from 'node:crypto';
import {
  AutopayApiError,
  AutopayClient,
  type CreateOrderRequest,
} from '../../client/autopay-client.ts';
import { signAgentToken } from '../../local/runtime/auth.ts';
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

/** How often a placement refused by the agent's token bucket is tried again. */
const RATE_LIMITED_ATTEMPTS = 30;

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
      token: await signAgentToken(agentId),
      fetch: apiFetchRequest,
      // A test sees each refusal itself: nothing is retried for it.
      maxRetries: 0,
    });
    return new AgentClient(client, `${agentId}-${randomUUID()}`);
  }

  /**
   * Places an order. Each key is its own intent (its own sessionId) unless `overrides` say
   * otherwise; a 429 is retried after its Retry-After, as an agent developer's code would.
   */
  async place(overrides: Record<string, unknown> = {}, key?: string): Promise<OrderBody> {
    const idempotencyKey = key ?? `${this.prefix}-${++this.sequence}`;
    const order = {
      ...latteOrder,
      sessionId: idempotencyKey,
      ...overrides,
    } as unknown as CreateOrderRequest;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.client.placeOrder(order, { idempotencyKey })).order as OrderBody;
      } catch (error) {
        if (
          !(error instanceof AutopayApiError) ||
          error.code !== 'RATE_LIMITED' ||
          attempt >= RATE_LIMITED_ATTEMPTS
        ) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, (error.retryAfterSeconds ?? 1) * 1000));
      }
    }
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
