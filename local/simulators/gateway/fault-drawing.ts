import { between, chance, FaultScript, pick, type Random, seededRandom } from '../faults.ts';
import {
  chargeFaultNames,
  type GatewayFaults,
  type ScriptedGatewayFault,
  type StrayRefund,
  strayRefundKinds,
} from './fault-settings.ts';

/** Callback draws use their own stream, so callback timing cannot shift the request draws. */
const CALLBACK_STREAM = 0x9e3779b9;
/** How a late capture comes (when, and whether it is announced): its own stream, drawn per void. */
const LATE_CAPTURE_STREAM = 0x85ebca6b;

/** `manage`: key and webhook-secret management, which never takes latency or a fault. */
export type RouteKind = 'create' | 'lookup' | 'void' | 'refund' | 'manage';

export type TransportFault =
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'error'; status: number }
  | { kind: 'throttle'; retryAfterSeconds: number };

/** How a new charge turns out; decided when the request arrives, applied if it is new. */
export interface ChargePlan {
  status: 'SUCCESS' | 'PENDING' | 'FAILED';
  declineCode?: string;
  /** The charge is made but its answer never leaves. */
  timeout: boolean;
  /** Where a PENDING charge ends when it settles by itself. */
  settlesAs: 'SUCCESS' | 'FAILED';
  /** False: a PENDING charge waits for `settle()` or a void. */
  settlesByItself: boolean;
}

/** A void that does not hold: the payment is captured `afterMs` after it answered. */
export interface LateCapture {
  afterMs: number;
  /** Slower than `lateSuccessAfterMs`: the `slowLateSuccessRate` fault. */
  slow: boolean;
  /** Its `payment.succeeded` is never sent. */
  callbackLost: boolean;
}

export interface Decision {
  latencyMs: number;
  transport?: TransportFault;
  charge: ChargePlan;
  /** For a void: the payment captures anyway, after the void answered. */
  lateSuccess: false | LateCapture;
  /** For a refund: it is made, but its answer never leaves. */
  refundTimeout: boolean;
  /** For a refund: a second, false `refund.succeeded` goes with the real one. */
  stray?: StrayRefund;
  /**
   * For a refund: it is `pending` at first, and succeeds `settleAfterMs` later (fails then, with
   * `refundFailsLater`).
   */
  refundPending?: boolean;
  /** For a refund: it succeeds, and fails `refundFailAfterMs` later (the money comes back). */
  refundFailsLater?: boolean;
  /**
   * For a refund through the Stripe API: answered a 500 saved under its key, after the refund
   * was made (`made`) or before anything was (`unmade`).
   */
  refundSavedError?: 'made' | 'unmade';
}

function scriptApplies(fault: ScriptedGatewayFault, kind: RouteKind): boolean {
  if ((chargeFaultNames as readonly string[]).includes(fault.fault)) return kind === 'create';
  if (fault.fault === 'late_success') return kind === 'void';
  if (
    fault.fault === 'stray_refund' ||
    fault.fault === 'refund_then_timeout' ||
    fault.fault === 'refund_pending' ||
    fault.fault === 'refund_pending_fails' ||
    fault.fault === 'refund_fails_later' ||
    fault.fault === 'refund_saved_error' ||
    fault.fault === 'refund_saved_error_unmade'
  ) {
    return kind === 'refund';
  }
  const route = fault.route ?? 'create';
  return route === 'any' || route === kind;
}

/**
 * Every fault the gateway simulator injects, drawn from the seed or taken from the script. All
 * draws happen on arrival, so their order is the arrival order.
 */
export class FaultDraws {
  readonly #seed: number;
  readonly #faults: () => GatewayFaults;
  readonly #script = new FaultScript<ScriptedGatewayFault>();
  readonly #spared = new Set<string>();
  #random: Random;
  #callbackRandom: Random;
  #lateCaptureRandom: Random;

  constructor(seed: number, faults: () => GatewayFaults) {
    this.#seed = seed;
    this.#faults = faults;
    this.#random = seededRandom(seed);
    this.#callbackRandom = seededRandom(seed ^ CALLBACK_STREAM);
    this.#lateCaptureRandom = seededRandom(seed ^ LATE_CAPTURE_STREAM);
  }

  /** Nothing scripted or spared, and the draws start again from the seed. */
  reset(): void {
    this.#script.clear();
    this.#spared.clear();
    this.#random = seededRandom(this.#seed);
    this.#callbackRandom = seededRandom(this.#seed ^ CALLBACK_STREAM);
    this.#lateCaptureRandom = seededRandom(this.#seed ^ LATE_CAPTURE_STREAM);
  }

  /** Queues the faults and says how many wait now. */
  scriptNext(faults: readonly ScriptedGatewayFault[]): number {
    this.#script.push(faults);
    return this.#script.size;
  }

  /**
   * Charges under these order keys take no fault, drawn or scripted: they are made and answered
   * SUCCESS. Their draws are still made, so sparing an order shifts no other request's faults.
   */
  spare(orderKeys: readonly string[]): void {
    for (const key of orderKeys) this.#spared.add(key);
  }

  /** `orderKey`: the order a charge is for, as its idempotency key or Stripe metadata names it. */
  decide(kind: RouteKind, orderKey?: string): Decision {
    const latencyMs = between(this.#random, this.#faults().latencyMs);
    const spared = kind === 'create' && orderKey !== undefined && this.#spared.has(orderKey);
    const scripted = spared ? undefined : this.#script.take((fault) => scriptApplies(fault, kind));
    if (scripted) return { latencyMs, ...this.#fromScript(scripted) };
    const plain = {
      charge: this.#plainCharge(),
      lateSuccess: false as const,
      refundTimeout: false,
    };
    const drawn = this.#draw(kind, latencyMs, plain);
    return spared ? { latencyMs, ...plain } : drawn;
  }

  #draw(
    kind: RouteKind,
    latencyMs: number,
    plain: Pick<Decision, 'charge' | 'lateSuccess' | 'refundTimeout'>,
  ): Decision {
    const mayFail = kind === 'create' || !this.#faults().transportFaultsOnlyOnCreate;
    const transport = mayFail ? this.#drawTransportFault() : undefined;
    if (transport) return { latencyMs, transport, ...plain };
    switch (kind) {
      case 'create':
        return { latencyMs, ...plain, charge: this.#drawCharge() };
      case 'void': {
        const late = chance(this.#random, this.#faults().lateSuccessRate);
        const capture = this.#drawLateCapture();
        return { latencyMs, ...plain, lateSuccess: late && capture };
      }
      case 'refund': {
        const refundTimeout = chance(this.#random, this.#faults().refundThenTimeoutRate);
        const stray = this.#drawStrayRefund();
        // Drawn only when asked for, so runs without it keep the draws they always had.
        const { refundFailRate, refundPendingRate } = this.#faults();
        const refundFailsLater = refundFailRate > 0 && chance(this.#random, refundFailRate);
        const refundPending = refundPendingRate > 0 && chance(this.#random, refundPendingRate);
        const refundSavedError = this.#drawRefundSavedError();
        return {
          latencyMs,
          ...plain,
          refundTimeout,
          ...(stray ? { stray } : {}),
          ...(refundFailsLater ? { refundFailsLater } : {}),
          ...(refundPending ? { refundPending } : {}),
          ...(refundSavedError ? { refundSavedError } : {}),
        };
      }
      default:
        return { latencyMs, ...plain };
    }
  }

  /** Whether a refund's answer is a saved 500, and whether the refund was made before it. */
  #drawRefundSavedError(): Decision['refundSavedError'] {
    const { refundSavedErrorRate, refundSavedErrorUnmadeShare } = this.#faults();
    if (refundSavedErrorRate === 0 || !chance(this.#random, refundSavedErrorRate)) return undefined;
    const unmade =
      refundSavedErrorUnmadeShare > 0 && chance(this.#random, refundSavedErrorUnmadeShare);
    return unmade ? 'unmade' : 'made';
  }

  /** Whether a `payment.pending` is held back, to arrive after the event that settles it. */
  holdsPendingBack(): boolean {
    return chance(this.#callbackRandom, this.#faults().callbacks.outOfOrderRate);
  }

  /** The events as they will be delivered: each may be lost or sent twice. */
  deliveries<E extends { readonly id: string }>(events: readonly E[]): E[] {
    const { callbacks } = this.#faults();
    return events.flatMap((event) => {
      const lost = chance(this.#callbackRandom, callbacks.lostRate);
      const duplicated = chance(this.#callbackRandom, callbacks.duplicateRate);
      if (lost) return [];
      return duplicated ? [event, event] : [event];
    });
  }

  /** When a late capture comes and whether it is announced; all three always draw. */
  #drawLateCapture(): LateCapture {
    const faults = this.#faults();
    const random = this.#lateCaptureRandom;
    const slow = chance(random, faults.slowLateSuccessRate);
    const slowMs = between(random, faults.slowLateSuccessAfterMs);
    const callbackLost = chance(random, faults.lateSuccessCallbackLostRate);
    return { afterMs: slow ? slowMs : faults.lateSuccessAfterMs, slow, callbackLost };
  }

  /** From the callback stream, as the event it adds is a callback fault; all three always draw. */
  #drawStrayRefund(): StrayRefund | undefined {
    const random = this.#callbackRandom;
    const stray = chance(random, this.#faults().callbacks.strayRefundRate);
    const kind = pick(random, strayRefundKinds) ?? 'foreign';
    const first = chance(random, 0.5);
    return stray ? { kind, first } : undefined;
  }

  #drawTransportFault(): TransportFault | undefined {
    const faults = this.#faults();
    const random = this.#random;
    if (chance(random, faults.resetRate)) return { kind: 'reset' };
    if (chance(random, faults.hangRate)) return { kind: 'hang' };
    if (chance(random, faults.errorRate)) {
      return { kind: 'error', status: pick(random, faults.errorStatuses) ?? 500 };
    }
    if (chance(random, faults.throttleRate)) {
      return { kind: 'throttle', retryAfterSeconds: faults.retryAfterSeconds };
    }
    return undefined;
  }

  #drawCharge(): ChargePlan {
    const faults = this.#faults();
    const random = this.#random;
    if (chance(random, faults.chargeThenTimeoutRate)) return this.#timedOutCharge();
    if (chance(random, faults.declineRate)) return this.#declinedCharge(faults.declineCode);
    if (chance(random, faults.pendingRate)) return this.#pendingCharge();
    return this.#plainCharge();
  }

  #fromScript(scripted: ScriptedGatewayFault): Omit<Decision, 'latencyMs'> {
    const plain = {
      charge: this.#plainCharge(),
      lateSuccess: false as const,
      refundTimeout: false,
    };
    switch (scripted.fault) {
      case 'none':
        return plain;
      case 'hang':
      case 'reset':
        return { transport: { kind: scripted.fault }, ...plain };
      case 'error':
        return { transport: { kind: 'error', status: scripted.status ?? 500 }, ...plain };
      case 'throttle': {
        const retryAfterSeconds = scripted.retryAfterSeconds ?? this.#faults().retryAfterSeconds;
        return { transport: { kind: 'throttle', retryAfterSeconds }, ...plain };
      }
      case 'pending':
        return { ...plain, charge: this.#pendingCharge() };
      case 'decline':
        return {
          ...plain,
          charge: this.#declinedCharge(scripted.declineCode ?? this.#faults().declineCode),
        };
      case 'charge_then_timeout':
        return { ...plain, charge: this.#timedOutCharge() };
      case 'late_success': {
        const { lateSuccessAfterMs } = this.#faults();
        const afterMs = scripted.afterMs ?? lateSuccessAfterMs;
        const callbackLost = scripted.callbackLost ?? false;
        return {
          ...plain,
          lateSuccess: { afterMs, slow: afterMs > lateSuccessAfterMs, callbackLost },
        };
      }
      case 'refund_then_timeout':
        return { ...plain, refundTimeout: true };
      case 'refund_pending':
        return { ...plain, refundPending: true };
      case 'refund_pending_fails':
        return { ...plain, refundPending: true, refundFailsLater: true };
      case 'refund_fails_later':
        return { ...plain, refundFailsLater: true };
      case 'refund_saved_error':
        return { ...plain, refundSavedError: 'made' };
      case 'refund_saved_error_unmade':
        return { ...plain, refundSavedError: 'unmade' };
      case 'stray_refund':
        return {
          ...plain,
          stray: { kind: scripted.stray ?? 'foreign', first: scripted.first ?? false },
        };
    }
  }

  #plainCharge(): ChargePlan {
    return { status: 'SUCCESS', timeout: false, settlesAs: 'SUCCESS', settlesByItself: true };
  }

  #declinedCharge(declineCode: string): ChargePlan {
    return {
      status: 'FAILED',
      declineCode,
      timeout: false,
      settlesAs: 'FAILED',
      settlesByItself: true,
    };
  }

  #pendingCharge(): ChargePlan {
    const settlesAs = chance(this.#random, this.#faults().pendingSuccessRate)
      ? 'SUCCESS'
      : 'FAILED';
    const stuck = chance(this.#random, this.#faults().neverSettleRate);
    return { status: 'PENDING', timeout: false, settlesAs, settlesByItself: !stuck };
  }

  #timedOutCharge(): ChargePlan {
    const pending = chance(this.#random, this.#faults().pendingRate);
    return { ...(pending ? this.#pendingCharge() : this.#plainCharge()), timeout: true };
  }
}
