import * as z from 'zod';
import { faultPatchSchema, faultSettings, freezeDeep } from '../faults.ts';

export interface GatewayCallbackFaults {
  enabled: boolean;
  delayMs: number;
  duplicateRate: number;
  outOfOrderRate: number;
  lostRate: number;
  strayRefundRate: number;
}

export interface GatewayFaults {
  latencyMs: { min: number; max: number };
  hangRate: number;
  hangMs: number;
  errorRate: number;
  errorStatuses: number[];
  throttleRate: number;
  retryAfterSeconds: number;
  resetRate: number;
  transportFaultsOnlyOnCreate: boolean;
  pendingRate: number;
  declineRate: number;
  declineCode: string;
  chargeThenTimeoutRate: number;
  settleAfterMs: number;
  pendingSuccessRate: number;
  neverSettleRate: number;
  autoSettle: boolean;
  lateSuccessRate: number;
  lateSuccessAfterMs: number;
  slowLateSuccessRate: number;
  slowLateSuccessAfterMs: { min: number; max: number };
  lateSuccessCallbackLostRate: number;
  refundThenTimeoutRate: number;
  /**
   * Refunds that succeed and then fail `refundFailAfterMs` later (a closed card): the money
   * comes back to the merchant, and a `refund.failed` is sent (Stripe: and a `refund.updated`).
   */
  refundFailRate: number;
  refundFailAfterMs: number;
  /**
   * Refunds made through the Stripe API that are `pending` at first and settle `settleAfterMs`
   * later: they succeed then, or fail then when they also draw `refundFailRate`.
   */
  refundPendingRate: number;
  /**
   * Refunds made through the Stripe API whose answer is a 500 after the refund was made: the
   * 500 is saved under the request's idempotency key and replayed until the key is pruned.
   */
  refundSavedErrorRate: number;
  /**
   * Of the refunds that draw `refundSavedErrorRate`, the share whose 500 came before the refund
   * was made: the 500 is saved and replayed the same, and no refund is made (Stripe promises
   * neither). Drawn only while above `0`.
   */
  refundSavedErrorUnmadeShare: number;
  /**
   * How long the Stripe API replays a key's saved answer before it prunes the key and makes a
   * request under it afresh: Stripe prunes keys at least 24 hours old.
   */
  idempotencyKeyWindowMs: number;
  callbacks: GatewayCallbackFaults;
}

export const defaultGatewayFaults: GatewayFaults = freezeDeep({
  latencyMs: { min: 0, max: 0 },
  hangRate: 0,
  hangMs: 30_000,
  errorRate: 0,
  errorStatuses: [500, 502, 503],
  throttleRate: 0,
  retryAfterSeconds: 1,
  resetRate: 0,
  transportFaultsOnlyOnCreate: false,
  pendingRate: 0,
  declineRate: 0,
  declineCode: 'card_declined',
  chargeThenTimeoutRate: 0,
  settleAfterMs: 1_000,
  pendingSuccessRate: 1,
  neverSettleRate: 0,
  autoSettle: true,
  lateSuccessRate: 0,
  lateSuccessAfterMs: 500,
  slowLateSuccessRate: 0,
  slowLateSuccessAfterMs: { min: 60_000, max: 600_000 },
  lateSuccessCallbackLostRate: 0,
  refundThenTimeoutRate: 0,
  refundFailRate: 0,
  refundFailAfterMs: 500,
  refundPendingRate: 0,
  refundSavedErrorRate: 0,
  refundSavedErrorUnmadeShare: 0,
  idempotencyKeyWindowMs: 24 * 3_600_000,
  callbacks: {
    enabled: true,
    delayMs: 0,
    duplicateRate: 0,
    outOfOrderRate: 0,
    lostRate: 0,
    strayRefundRate: 0,
  },
});

export const transportFaultNames = ['hang', 'error', 'throttle', 'reset'] as const;
export const chargeFaultNames = ['pending', 'decline', 'charge_then_timeout'] as const;
export const scriptedFaultNames = [
  'none',
  ...transportFaultNames,
  ...chargeFaultNames,
  'late_success',
  'refund_then_timeout',
  'stray_refund',
  'refund_pending',
  'refund_pending_fails',
  'refund_fails_later',
  'refund_saved_error',
  'refund_saved_error_unmade',
] as const;
export const scriptedRoutes = ['create', 'lookup', 'any'] as const;
export const strayRefundKinds = ['foreign', 'partial', 'both'] as const;

/**
 * A `refund.succeeded` the gateway sends beside the real one, for a refund it never made:
 * another refund id (`foreign`), a smaller amount (`partial`), or both.
 */
export interface StrayRefund {
  kind: (typeof strayRefundKinds)[number];
  /** Delivered before the real refund's event. */
  first: boolean;
}

export interface ScriptedGatewayFault {
  fault: (typeof scriptedFaultNames)[number];
  /** For `error`: the status to answer (default 500). */
  status?: number;
  /** For `throttle` (default: the configured retryAfterSeconds). */
  retryAfterSeconds?: number;
  /** For `decline` (default: the configured declineCode). */
  declineCode?: string;
  /** Which request takes the fault (default `create`); charge faults always wait for a create. */
  route?: (typeof scriptedRoutes)[number];
  /** For `stray_refund` (default `foreign`). */
  stray?: StrayRefund['kind'];
  /** For `stray_refund`: the stray event goes before the real one (default false). */
  first?: boolean;
  /** For `late_success`: how long after the void the capture comes (default `lateSuccessAfterMs`). */
  afterMs?: number;
  /** For `late_success`: the capture's `payment.succeeded` is never sent (default false). */
  callbackLost?: boolean;
}

const { amount, rate, range, flag, text, statuses, integer, name, choice } = faultSettings;

const gatewayFaultsSchema = z.strictObject({
  latencyMs: range(),
  hangRate: rate(),
  hangMs: amount(),
  errorRate: rate(),
  errorStatuses: statuses(defaultGatewayFaults.errorStatuses),
  throttleRate: rate(),
  retryAfterSeconds: amount(),
  resetRate: rate(),
  transportFaultsOnlyOnCreate: flag(),
  pendingRate: rate(),
  declineRate: rate(),
  declineCode: text(),
  chargeThenTimeoutRate: rate(),
  settleAfterMs: amount(),
  pendingSuccessRate: rate(),
  neverSettleRate: rate(),
  autoSettle: flag(),
  lateSuccessRate: rate(),
  lateSuccessAfterMs: amount(),
  slowLateSuccessRate: rate(),
  slowLateSuccessAfterMs: range(),
  lateSuccessCallbackLostRate: rate(),
  refundThenTimeoutRate: rate(),
  refundFailRate: rate(),
  refundFailAfterMs: amount(),
  refundPendingRate: rate(),
  refundSavedErrorRate: rate(),
  refundSavedErrorUnmadeShare: rate(),
  idempotencyKeyWindowMs: amount(),
  callbacks: z.strictObject({
    enabled: flag(),
    delayMs: amount(),
    duplicateRate: rate(),
    outOfOrderRate: rate(),
    lostRate: rate(),
    strayRefundRate: rate(),
  }),
}) satisfies z.ZodType<GatewayFaults>;

/** A partial update of GatewayFaults, from code, the environment or `PUT /admin/faults`. */
export const gatewayFaultPatchSchema = faultPatchSchema(gatewayFaultsSchema);

export const scriptedGatewayFaultSchema = z.object({
  fault: choice(scriptedFaultNames),
  status: integer(400, 599).optional(),
  retryAfterSeconds: integer(0, 86_400).optional(),
  declineCode: name().optional(),
  route: choice(scriptedRoutes).optional(),
  stray: choice(strayRefundKinds).optional(),
  first: flag().optional(),
  afterMs: integer(0, 86_400_000).optional(),
  callbackLost: flag().optional(),
}) satisfies z.ZodType<ScriptedGatewayFault>;
