import { OrderNotFoundError } from './errors.ts';
import { isOrderId, type Order } from './order.ts';
import type { OrderRepository } from './ports.ts';

export interface GetOrderDeps {
  readonly orders: OrderRepository;
}

/** An agent's own order. Another agent's order is answered as not found, never as forbidden. */
export async function findOwnOrder(
  orders: OrderRepository,
  agentId: string,
  orderId: string,
): Promise<Order> {
  // An id we never issue cannot exist: answer without a read.
  const order = isOrderId(orderId) ? await orders.get(orderId) : undefined;
  if (order === undefined || order.agentId !== agentId) {
    throw new OrderNotFoundError(orderId);
  }
  return order;
}

export function makeGetOrder(deps: GetOrderDeps) {
  return (agentId: string, orderId: string): Promise<Order> =>
    findOwnOrder(deps.orders, agentId, orderId);
}
