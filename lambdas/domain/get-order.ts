import { AutopayError, OrderNotFoundError, ValidationError } from './errors.ts';
import { pageLimit } from './manage-agents.ts';
import { isOrderId, type Order } from './order.ts';
import { isOrderStatus } from './order-state.ts';
import type { AgentDirectory, OrderIndex, OrderPage, OrderRepository } from './ports.ts';
import type { Principal } from './principal.ts';

export interface GetOrderDeps {
  readonly orders: OrderRepository;
  readonly agents: AgentDirectory;
}

/**
 * An order the caller may see: an agent's own, or one of a user's agents'. Anything else is
 * answered as not found, never as forbidden, so ids of other callers' orders reveal nothing.
 */
export async function findVisibleOrder(
  deps: GetOrderDeps,
  principal: Principal,
  orderId: string,
): Promise<Order> {
  // An id we never issue cannot exist: answer without a read.
  const order = isOrderId(orderId) ? await deps.orders.get(orderId) : undefined;
  if (order === undefined || !(await mayReach(deps, principal, order))) {
    throw new OrderNotFoundError(orderId);
  }
  return order;
}

async function mayReach(deps: GetOrderDeps, principal: Principal, order: Order): Promise<boolean> {
  if (principal.kind === 'agent') {
    return order.agentId === principal.agentId;
  }
  // Intake copies the agent's owner onto the order; only an order older than owners costs a read.
  const ownerId = order.ownerId ?? (await deps.agents.get(order.agentId))?.ownerId;
  return ownerId === principal.userId;
}

export function makeGetOrder(deps: GetOrderDeps) {
  return (principal: Principal, orderId: string): Promise<Order> =>
    findVisibleOrder(deps, principal, orderId);
}

export interface ListOrdersQuery {
  readonly status?: string | undefined;
  readonly agentId?: string | undefined;
  readonly limit?: string | undefined;
  readonly cursor?: string | undefined;
}

/**
 * `GET /v1/orders`: an agent lists its own orders; a user those of all their agents, or of one
 * of them. Another's agent is answered as not found.
 */
export interface ListOrdersDeps {
  readonly orders: OrderIndex;
  readonly agents: AgentDirectory;
}

export function makeListOrders(deps: ListOrdersDeps) {
  return async function listOrders(
    principal: Principal,
    query: ListOrdersQuery,
  ): Promise<OrderPage> {
    const status = query.status;
    if (status !== undefined && !isOrderStatus(status)) {
      throw new ValidationError('VALIDATION_FAILED', 'status: not an order status', {
        field: 'status',
      });
    }
    const page = { status, limit: pageLimit(query.limit), cursor: query.cursor };
    const agentId = query.agentId;
    if (principal.kind === 'agent') {
      if (agentId !== undefined && agentId !== principal.agentId) {
        throw new AutopayError('AGENT_NOT_FOUND', `No agent ${agentId}.`);
      }
      const self = await deps.agents.get(principal.agentId);
      if (self === undefined) {
        throw new AutopayError('AGENT_NOT_REGISTERED');
      }
      return deps.orders.list({
        by: 'agent',
        agentId: self.agentId,
        ownerId: self.ownerId,
        ...page,
      });
    }
    if (agentId === undefined) {
      return deps.orders.list({ by: 'owner', ownerId: principal.userId, ...page });
    }
    const agent = agentId.length <= 128 ? await deps.agents.get(agentId) : undefined;
    if (agent?.ownerId !== principal.userId) {
      throw new AutopayError('AGENT_NOT_FOUND', `No agent ${agentId}.`);
    }
    return deps.orders.list({ by: 'agent', agentId, ownerId: agent.ownerId, ...page });
  };
}
