import type {
  BreakerSnapshot,
  BreakerState,
  BreakerStore,
  ChargeRequest,
  GatewayOutcome,
  PaymentGateway,
  PaymentLookup,
  RefundOutcome,
  RefundRequest,
  RiskAnswer,
  RiskEngine,
  RiskRequest,
  VoidOutcome,
} from '#domain/payment-ports.ts';

/**
 * A gateway that keeps a ledger and is idempotent on the key, like the real contract; each call
 * takes the next scripted answer, if any, before doing what a healthy gateway would.
 */
export class FakeGateway implements PaymentGateway {
  readonly name = 'fake';
  readonly charges = new Map<
    string,
    Extract<GatewayOutcome, { kind: 'succeeded' | 'pending' | 'declined' }>
  >();
  readonly calls: string[] = [];
  /** Scripted answers for the next charges: `charge-then-unknown` charges and loses the answer. */
  readonly chargeScript: Array<GatewayOutcome | 'charge-then-unknown'> = [];
  readonly lookupScript: PaymentLookup[] = [];
  refreshes = 0;
  nextStatus: 'succeeded' | 'pending' | 'declined' = 'succeeded';
  private held: { readonly charged: () => void; readonly released: Promise<void> } | undefined;

  /**
   * The next charge is made at once and answered only once `release` is called: a slow answer,
   * during which other deliveries run.
   */
  holdNextAnswer(): { readonly charged: Promise<void>; release(): void } {
    let release = () => {};
    let charged = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const made = new Promise<void>((resolve) => {
      charged = resolve;
    });
    this.held = { charged, released };
    return { charged: made, release };
  }

  async charge(request: ChargeRequest): Promise<GatewayOutcome> {
    this.calls.push(`charge:${request.idempotencyKey}`);
    const scripted = this.chargeScript.shift();
    if (scripted !== undefined && scripted !== 'charge-then-unknown') {
      return scripted;
    }
    const existing = this.charges.get(request.idempotencyKey);
    const outcome = existing ?? this.newCharge(request.idempotencyKey);
    const held = this.held;
    if (held) {
      this.held = undefined;
      held.charged();
      await held.released;
    }
    return scripted === 'charge-then-unknown' ? { kind: 'unknown', detail: 'timed out' } : outcome;
  }

  async findByIdempotencyKey(idempotencyKey: string): Promise<PaymentLookup> {
    this.calls.push(`lookup:${idempotencyKey}`);
    const scripted = this.lookupScript.shift();
    if (scripted !== undefined) return scripted;
    const outcome = this.charges.get(idempotencyKey);
    if (outcome === undefined) return { kind: 'not-found' };
    const amountRefunded = [...this.refunds.values()]
      .filter((refund) => refund.paymentId === outcome.paymentId)
      .reduce((sum, refund) => sum + refund.amount, 0);
    return { kind: 'found', outcome, amountRefunded };
  }

  async refreshCredentials(): Promise<void> {
    this.refreshes++;
  }

  readonly refunds = new Map<string, { paymentId: string; amount: number }>();
  readonly voided = new Set<string>();
  /** Scripted answers for the next refunds, before any refund is made. */
  readonly refundScript: RefundOutcome[] = [];
  /** The next void answers `voided` and the payment captures anyway (a misbehaving gateway). */
  captureDespiteVoid = false;

  /** Voids a pending payment; one that settled first answers how it settled. */
  async void(paymentId: string): Promise<VoidOutcome> {
    this.calls.push(`void:${paymentId}`);
    for (const [key, outcome] of this.charges) {
      if (outcome.paymentId !== paymentId) continue;
      if (outcome.kind !== 'pending') return { kind: 'settled', outcome };
      if (this.captureDespiteVoid) {
        this.captureDespiteVoid = false;
        this.charges.set(key, { kind: 'succeeded', paymentId });
        return { kind: 'voided' };
      }
      this.charges.set(key, { kind: 'declined', paymentId, declineCode: 'voided' });
      this.voided.add(paymentId);
      return { kind: 'voided' };
    }
    return { kind: 'unavailable', detail: 'no such payment' };
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    this.calls.push(`refund:${request.paymentId}`);
    const scripted = this.refundScript.shift();
    if (scripted !== undefined) return scripted;
    const existing = this.refunds.get(request.idempotencyKey);
    if (existing) return { kind: 'refunded', refundId: `re_${request.idempotencyKey}` };
    // As a gateway does, it refuses to give back more than is left of the payment: a whole refund
    // (autopay's only kind) is refused once anything was given back under another key.
    const given = [...this.refunds.values()].some(
      (refund) => refund.paymentId === request.paymentId,
    );
    if (given) return { kind: 'rejected', reason: 'charge_already_refunded' };
    this.refunds.set(request.idempotencyKey, {
      paymentId: request.paymentId,
      amount: request.amount,
    });
    return { kind: 'refunded', refundId: `re_${request.idempotencyKey}` };
  }

  /** Settles a pending payment, as the gateway does on its own time. */
  settle(idempotencyKey: string, kind: 'succeeded' | 'declined'): void {
    const outcome = this.charges.get(idempotencyKey);
    if (outcome?.kind !== 'pending' || outcome.paymentId === undefined) return;
    this.charges.set(
      idempotencyKey,
      kind === 'succeeded'
        ? { kind, paymentId: outcome.paymentId }
        : { kind, paymentId: outcome.paymentId, declineCode: 'settlement_failed' },
    );
  }

  chargeCount(): number {
    return this.charges.size;
  }

  private newCharge(key: string) {
    const paymentId = `pay_${this.charges.size + 1}`;
    const outcome =
      this.nextStatus === 'declined'
        ? ({ kind: 'declined', paymentId, declineCode: 'card_declined' } as const)
        : ({ kind: this.nextStatus, paymentId } as const);
    this.charges.set(key, outcome);
    return outcome;
  }
}

export class FakeRiskEngine implements RiskEngine {
  readonly script: RiskAnswer[] = [];
  calls = 0;
  fallback: RiskAnswer = { kind: 'assessed', level: 'pass', requestId: 'risk-req' };

  async assess(_request: RiskRequest): Promise<RiskAnswer> {
    this.calls++;
    return this.script.shift() ?? this.fallback;
  }
}

/** Shared breaker state in memory, with the conditional semantics of the DynamoDB store. */
export class InMemoryBreakerStore implements BreakerStore {
  state: BreakerState = 'closed';
  openedAt = 0;
  probeUntil = 0;
  epoch = 0;
  readonly windows = new Map<string, { successes: number; failures: number }>();
  writes = 0;
  reads = 0;

  async read(_gateway: string, windowId: number, epochHint: number): Promise<BreakerSnapshot> {
    this.reads++;
    const counts =
      epochHint === this.epoch ? this.windows.get(`${this.epoch}:${windowId}`) : undefined;
    return {
      state: this.state,
      openedAt: this.openedAt,
      probeUntil: this.probeUntil,
      epoch: this.epoch,
      windowId,
      windowSuccesses: counts?.successes ?? 0,
      windowFailures: counts?.failures ?? 0,
    };
  }

  async count(
    _gateway: string,
    epoch: number,
    windowId: number,
    successes: number,
    failures: number,
  ) {
    this.writes++;
    const key = `${epoch}:${windowId}`;
    const current = this.windows.get(key) ?? { successes: 0, failures: 0 };
    const next = {
      successes: current.successes + successes,
      failures: current.failures + failures,
    };
    this.windows.set(key, next);
    return next;
  }

  async open(_gateway: string, from: BreakerState, at: number): Promise<boolean> {
    this.writes++;
    if (this.state !== from) return false;
    this.state = 'open';
    this.openedAt = at;
    this.probeUntil = 0;
    this.epoch++;
    return true;
  }

  async acquireProbe(_gateway: string, now: number, leaseUntil: number, openedAt: number) {
    this.writes++;
    const free =
      (this.state === 'open' && this.openedAt === openedAt) ||
      (this.state === 'half_open' && this.probeUntil < now);
    if (!free) return false;
    this.state = 'half_open';
    this.probeUntil = leaseUntil;
    return true;
  }

  async close(_gateway: string): Promise<boolean> {
    this.writes++;
    if (this.state !== 'half_open') return false;
    this.state = 'closed';
    this.probeUntil = 0;
    return true;
  }
}
