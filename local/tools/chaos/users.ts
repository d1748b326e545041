import type { Order } from '#domain/order.ts';
import { between, chance, type Random } from '../../simulators/faults.ts';
import type { Violation } from './checks.ts';

/** What the users of the run's agents do while payments run; every rate is of the orders seen. */
export interface UserBehaviour {
  /** Orders waiting for confirmation: decided within `withinMs`, so some after their window. */
  readonly waiting: {
    readonly confirmRate: number;
    readonly cancelRate: number;
    readonly withinMs: number;
  };
  /** Orders held for review; the rest are left held. */
  readonly held: { readonly confirmRate: number; readonly cancelRate: number };
  /**
   * Paid orders refunded; of those, some are asked twice with the same key, some a second time
   * with another key (each pair sent together half the time, one after the other otherwise).
   */
  readonly refund: {
    readonly rate: number;
    readonly sameKeyTwiceRate: number;
    readonly otherKeyRate: number;
  };
}

export interface UserAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** A request with the user's token of the agent's owner: POST `path`, with a key if given. */
export type UserApi = (
  agentId: string,
  path: string,
  idempotencyKey?: string,
  body?: unknown,
) => Promise<UserAnswer>;

type Decision = 'confirmed' | 'cancelled' | 'left';

export interface UserCounts {
  readonly waiting: Record<Decision, number>;
  readonly held: Record<Decision, number>;
  readonly refunds: { once: number; sameKeyTwice: number; otherKey: number };
  /** `<action> <HTTP status>` → how many answers. */
  readonly answers: Record<string, number>;
}

/**
 * The people behind the agents: they confirm or cancel what waits for them, decide on what is
 * held for review, and ask for refunds, racing the deliveries and callbacks that move the same
 * orders. Each order gets one decision; every request is tracked until it is answered.
 */
export class Users {
  readonly counts: UserCounts = {
    waiting: { confirmed: 0, cancelled: 0, left: 0 },
    held: { confirmed: 0, cancelled: 0, left: 0 },
    refunds: { once: 0, sameKeyTwice: 0, otherKey: 0 },
    answers: {},
  };
  /** Answers of 500 and above: a user's request must never get one. */
  readonly serverErrors: Violation[] = [];
  readonly #decided = new Set<string>();
  readonly #running = new Set<Promise<void>>();

  constructor(
    private readonly api: UserApi,
    private readonly random: Random,
    private readonly behaviour: UserBehaviour,
  ) {}

  /** An order placed to wait for its user, who answers a while later, or never. */
  waiting(order: Pick<Order, 'orderId' | 'agentId'>): void {
    const { confirmRate, cancelRate, withinMs } = this.behaviour.waiting;
    const decision = this.#decide(confirmRate, cancelRate);
    const delayMs = between(this.random, { min: 0, max: withinMs });
    this.counts.waiting[decision] += 1;
    if (decision === 'left') return;
    this.#track(
      new Promise((resolve) => setTimeout(resolve, delayMs)).then(() =>
        this.#act(order, decision === 'confirmed' ? 'confirm' : 'cancel'),
      ),
    );
  }

  /** Decides, once per order, on those now held for review or paid. Returns the requests sent. */
  look(orders: Iterable<Pick<Order, 'orderId' | 'agentId' | 'status'>>): number {
    const before = this.#running.size;
    for (const order of orders) {
      if (this.#decided.has(order.orderId)) continue;
      if (order.status === 'HELD_FOR_REVIEW') {
        this.#decided.add(order.orderId);
        this.#review(order);
      } else if (order.status === 'PAID') {
        this.#decided.add(order.orderId);
        this.#maybeRefund(order);
      }
    }
    return this.#running.size - before;
  }

  /** Requests sent and not yet answered. */
  inFlight(): number {
    return this.#running.size;
  }

  async done(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  #review(order: Pick<Order, 'orderId' | 'agentId'>): void {
    const { confirmRate, cancelRate } = this.behaviour.held;
    const decision = this.#decide(confirmRate, cancelRate);
    this.counts.held[decision] += 1;
    if (decision !== 'left')
      this.#track(this.#act(order, decision === 'confirmed' ? 'confirm' : 'cancel'));
  }

  #maybeRefund(order: Pick<Order, 'orderId' | 'agentId'>): void {
    const { rate, sameKeyTwiceRate, otherKeyRate } = this.behaviour.refund;
    const refunds = chance(this.random, rate);
    const variant = this.random();
    const together = chance(this.random, 0.5);
    if (!refunds) return;
    const first = `refund-${order.orderId}`;
    const keys =
      variant < sameKeyTwiceRate
        ? [first, first]
        : variant < sameKeyTwiceRate + otherKeyRate
          ? [first, `${first}-again`]
          : [first];
    const kind = keys.length === 1 ? 'once' : keys[1] === first ? 'sameKeyTwice' : 'otherKey';
    this.counts.refunds[kind] += 1;
    const refund = (key: string) => this.#act(order, 'refund', key);
    this.#track(
      together
        ? Promise.all(keys.map(refund)).then(() => undefined)
        : keys.reduce((previous, key) => previous.then(() => refund(key)), Promise.resolve()),
    );
  }

  #decide(confirmRate: number, cancelRate: number): Decision {
    const draw = this.random();
    return draw < confirmRate
      ? 'confirmed'
      : draw < confirmRate + cancelRate
        ? 'cancelled'
        : 'left';
  }

  async #act(
    order: Pick<Order, 'orderId' | 'agentId'>,
    action: 'confirm' | 'cancel' | 'refund',
    idempotencyKey?: string,
  ): Promise<void> {
    const path = `/v1/orders/${order.orderId}/${action}`;
    const body = action === 'refund' ? { reason: 'The user changed their mind.' } : undefined;
    const answer = await this.api(order.agentId, path, idempotencyKey, body);
    const label = `${action} ${answer.status}`;
    this.counts.answers[label] = (this.counts.answers[label] ?? 0) + 1;
    if (answer.status >= 500) {
      this.serverErrors.push({
        orderId: order.orderId,
        detail: `${action} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
      });
    }
  }

  #track(work: Promise<void>): void {
    const running = work.catch((error: unknown) => {
      this.serverErrors.push({ detail: `a user's request failed: ${String(error)}` });
    });
    this.#running.add(running);
    void running.finally(() => this.#running.delete(running));
  }
}
