import { createHash } from 'node:crypto';
import { decideAutoPay } from './agent.ts';
import {
  AutopayError,
  IdempotencyKeyReusedError,
  TransientDependencyError,
  ValidationError,
} from './errors.ts';
import {
  type NewOrder,
  type Order,
  type OrderRequestResult,
  openOrder,
  requestHashOf,
} from './order.ts';
import {
  type DeadlinePolicy,
  defaultDeadlinePolicy,
  dueAtFor,
  secondsAfter,
} from './order-moves.ts';
import type { AgentDirectory, Clock, OrderRepository, PaymentQueue } from './ports.ts';
import {
  createOrderSchema,
  type IntakePolicy,
  idempotencyKeySchema,
  parseWith,
} from './schemas.ts';

export interface PlaceOrderDeps {
  readonly orders: OrderRepository;
  readonly agents: AgentDirectory;
  readonly payments: PaymentQueue;
  readonly clock: Clock;
  readonly policy: IntakePolicy;
  readonly deadlines?: DeadlinePolicy;
}

export interface PlaceOrderCommand {
  readonly agentId: string;
  readonly idempotencyKey: string | undefined;
  /** The parsed JSON body, not yet validated. */
  readonly body: unknown;
}

/** The order id is a function of (agent, key): intake needs no lookup to be idempotent. */
export function orderIdFor(agentId: string, idempotencyKey: string): string {
  const digest = createHash('sha256').update(`${agentId}\n${idempotencyKey}`).digest('hex');
  return `ord_${digest.slice(0, 32)}`;
}

/**
 * Places an order once per (agent, Idempotency-Key). An unregistered or suspended agent's order is
 * refused and nothing is stored. Trusted orders within the agent's limits are stored as
 * PENDING_PAYMENT and queued for payment; the rest wait for the user.
 */
export function makePlaceOrder(deps: PlaceOrderDeps) {
  const schema = createOrderSchema(deps.policy);

  return async function placeOrder(command: PlaceOrderCommand): Promise<OrderRequestResult> {
    const idempotencyKey = command.idempotencyKey;
    if (idempotencyKey === undefined || !idempotencyKeySchema.safeParse(idempotencyKey).success) {
      throw new ValidationError('IDEMPOTENCY_KEY_REQUIRED');
    }
    const request = parseWith(schema, command.body);
    const agent = await deps.agents.get(command.agentId);
    if (agent === undefined) {
      throw new AutopayError('AGENT_NOT_REGISTERED');
    }
    if (agent.suspended) {
      // Read afresh on every order, so a suspension holds from the next request on.
      throw new AutopayError('AGENT_SUSPENDED');
    }
    const now = deps.clock.now();
    const base = {
      orderId: orderIdFor(command.agentId, idempotencyKey),
      agentId: command.agentId,
      // The owner index's key: who may see and act on the order, without reading the agent.
      ownerId: agent.ownerId,
      idempotencyKey,
      requestHash: requestHashOf(request),
      ...request,
      attempts: 0,
      createdAt: now.toISOString(),
    };

    const decision = decideAutoPay(agent, request.action, request, now);
    const deadlines = deps.deadlines ?? defaultDeadlinePolicy;
    if (decision.autoPay) {
      const payBy = secondsAfter(now, deadlines.paymentWindowSeconds);
      const dueAt = dueAtFor('PENDING_PAYMENT', now, { payBy }, deadlines);
      const order = openOrder({
        ...base,
        status: 'PENDING_PAYMENT',
        payBy,
        spendDay: decision.spend.day,
        dueAt,
      });
      const outcome = await deps.orders.create(order, decision.spend);
      if (outcome.kind === 'created') {
        await enqueue(order).catch(async (error: unknown) => {
          // The client is told 503 and retries with the same key; the mark lets that replay, and
          // only a replay that can help, queue the payment. If the mark is lost too, the sweep
          // sends the payment once the order is overdue.
          await deps.orders
            .annotate(order.orderId, 'PENDING_PAYMENT', { unqueued: true })
            .catch(() => false);
          throw error;
        });
        return { order, replayed: false };
      }
      if (outcome.kind === 'exists') {
        return replay(outcome.existing, order.requestHash);
      }
    }
    const reason = decision.autoPay ? 'OVER_DAILY_LIMIT' : decision.reason;
    const confirmBy = new Date(now.getTime() + deps.policy.confirmationWindowSeconds * 1000);
    const waiting: NewOrder = {
      ...base,
      status: 'AWAITING_CONFIRMATION',
      confirmationReason: reason,
      confirmBy: confirmBy.toISOString(),
      dueAt: confirmBy.toISOString(),
    };
    const order = openOrder(waiting);
    const outcome = await deps.orders.create(order);
    if (outcome.kind === 'exists') {
      return replay(outcome.existing, order.requestHash);
    }
    return { order, replayed: false };
  };

  async function replay(existing: Order, requestHash: string): Promise<OrderRequestResult> {
    if (existing.requestHash !== requestHash) {
      throw new IdempotencyKeyReusedError(existing.orderId);
    }
    // Only the replay of a placement that could not queue its payment queues it: one that did
    // queue it would only multiply the deliveries, each asking the risk engine on its own.
    if (existing.status === 'PENDING_PAYMENT' && existing.unqueued === true) {
      await enqueue(existing);
      await deps.orders
        .annotate(existing.orderId, 'PENDING_PAYMENT', { unqueued: undefined })
        .catch(() => false);
    }
    return { order: existing, replayed: true };
  }

  async function enqueue(order: Order): Promise<void> {
    try {
      await deps.payments.enqueue({ orderId: order.orderId, agentId: order.agentId });
    } catch (error) {
      throw new TransientDependencyError('payment-queue', { cause: error });
    }
  }
}
