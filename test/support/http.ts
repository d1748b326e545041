import { randomUUID } from 'node:crypto';
import { signAgentToken } from '../../local/runtime/auth.ts';
import type { LocalRuntime } from '../../local/runtime/local-runtime.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { apiFetch } from './contract.ts';

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

/** An agent talking to the local API over real HTTP, as an agent developer's code would. */
export class AgentClient {
  private sequence = 0;

  private constructor(
    private readonly stack: LocalRuntime,
    private readonly token: string,
    private readonly prefix: string,
  ) {}

  static async for(stack: LocalRuntime, agentId: string): Promise<AgentClient> {
    return new AgentClient(stack, await signAgentToken(agentId), `${agentId}-${randomUUID()}`);
  }

  async place(overrides: Record<string, unknown> = {}, key?: string): Promise<OrderBody> {
    const response = await apiFetch(`${this.stack.apiUrl}/v1/orders`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.token}`,
        'content-type': 'application/json',
        'idempotency-key': key ?? `${this.prefix}-${++this.sequence}`,
      },
      body: JSON.stringify({ ...latteOrder, ...overrides }),
    });
    if (response.status !== 202 && response.status !== 200) {
      throw new Error(`placing an order answered ${response.status}: ${await response.text()}`);
    }
    return (await response.json()) as OrderBody;
  }

  async get(orderId: string): Promise<OrderBody> {
    const response = await apiFetch(`${this.stack.apiUrl}/v1/orders/${orderId}`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    return (await response.json()) as OrderBody;
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
