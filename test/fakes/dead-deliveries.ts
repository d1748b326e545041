import { expect } from 'vitest';
import type { Order } from '#domain/order.ts';
import { latteOrder } from '../fixtures/orders.ts';
import { type FakePipeline, firstDelivery, sweepEverySeconds } from './pipeline.ts';

const maxReceiveCount = 8;

/** The `receiveCount`th of the queue's eight deliveries, with time to spare. */
export function deliveryNumber(receiveCount: number) {
  return { receiveCount, maxReceiveCount, remainingMs: () => 30_000 };
}

/**
 * Every delivery of the order's payment message dies on the order's write (DynamoDB throttling
 * it) until SQS moves the message to the DLQ: the first delivery charges first. The table then
 * recovers.
 */
export async function chargeThenDieOnWrites(p: FakePipeline, order: Order): Promise<void> {
  const transition = p.orders.transition.bind(p.orders);
  const annotate = p.orders.annotate.bind(p.orders);
  p.orders.transition = async () => {
    throw new Error('ProvisionedThroughputExceededException');
  };
  p.orders.annotate = async () => {
    throw new Error('ProvisionedThroughputExceededException');
  };
  for (let receiveCount = 1; receiveCount <= maxReceiveCount; receiveCount++) {
    const request = { orderId: order.orderId, agentId: order.agentId };
    await expect(p.deliver(request, deliveryNumber(receiveCount))).rejects.toThrow();
    p.clock.advance(2 ** receiveCount);
  }
  p.orders.transition = transition;
  p.orders.annotate = annotate;
}

/**
 * The sweep runs every five minutes for `days`, and every payment message and check it sends is
 * delivered; nobody redrives the DLQ.
 */
export async function sweepDelivering(p: FakePipeline, days: number): Promise<void> {
  for (let run = 0; run < days * 24 * 12; run++) {
    p.clock.advance(sweepEverySeconds);
    await p.sweep();
    for (const message of p.payments.sent.splice(0)) {
      await p.deliver(message, firstDelivery);
    }
    await p.runChecks();
  }
}

/**
 * `count` dead payment messages of orders long settled, then an order whose payment charged and
 * whose every delivery died on its writes, its message last in the DLQ; no message waits to be
 * sent.
 */
export async function chargedBehindDeadMessages(p: FakePipeline, count: number): Promise<Order> {
  for (let n = 0; n < count; n++) {
    p.deadPayments.messages.push({ orderId: `ord_gone_${n}`, agentId: 'demo-agent' });
  }
  const { order } = await p.placeOrder({
    agentId: 'demo-agent',
    idempotencyKey: 'k-1',
    body: latteOrder,
  });
  await chargeThenDieOnWrites(p, order);
  expect(p.deadPayments.messages).toHaveLength(count + 1);
  p.payments.sent.length = 0;
  return order;
}

/** An order charged and stranded: every delivery of its message died on its writes. */
export async function chargedAndStranded(p: FakePipeline, key: string): Promise<Order> {
  const { order } = await p.placeOrder({
    agentId: 'demo-agent',
    idempotencyKey: key,
    body: { ...latteOrder, sessionId: key },
  });
  await chargeThenDieOnWrites(p, order);
  return order;
}

/** 60,000 dead messages of orders long settled, behind those already in the DLQ. */
export function deepen(p: FakePipeline): void {
  for (let n = 0; n < 60_000; n++) {
    p.deadPayments.messages.push({ orderId: `ord_gone_${n}`, agentId: 'demo-agent' });
  }
  p.payments.sent.length = 0;
}

/** The sweep runs `count` times, five minutes apart; nothing it sends is delivered. */
export async function sweepRunsUndelivered(p: FakePipeline, count: number): Promise<void> {
  for (let run = 0; run < count; run++) {
    p.clock.advance(sweepEverySeconds);
    await p.sweep();
  }
}
