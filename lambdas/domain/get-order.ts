import { OrderNotFoundError } from './errors.ts';
import type { Order } from './order.ts';
import type { OrderRepository } from './ports.ts';

const orderIdPattern = /^ord_[0-9a-f]{32}$/;

export interface GetOrderDeps {
  readonly orders: OrderRepository;
}

/** An agent's own order. Another agent's order is answered as not found, never as forbidden. */
export function makeGetOrder(deps: GetOrderDeps) {
  return async function getOrder(agentId: string, orderId: string): Promise<Order> {
    // An id we never issue cannot exist: answer without a read.
    const order = orderIdPattern.test(orderId) ? await deps.orders.get(orderId) : undefined;
    if (order === undefined || order.agentId !== agentId) {
      throw new OrderNotFoundError(orderId);
    }
    return order;
  };
}
