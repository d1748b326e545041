import * as z from 'zod';
import { faultPatchSchema, faultSettings, freezeDeep } from '../faults.ts';

export interface RiskFaults {
  latencyMs: { min: number; max: number };
  internalErrorRate: number;
  throttleRate: number;
  hangRate: number;
  hangMs: number;
  malformedRate: number;
  resetRate: number;
  /** A verdict drawn instead of the rules' (reject first, then review), when no fault hit. */
  rejectRate: number;
  reviewRate: number;
}

export const defaultRiskFaults: RiskFaults = freezeDeep({
  latencyMs: { min: 0, max: 0 },
  internalErrorRate: 0,
  throttleRate: 0,
  hangRate: 0,
  hangMs: 30_000,
  malformedRate: 0,
  resetRate: 0,
  rejectRate: 0,
  reviewRate: 0,
});

export const scriptedFaultNames = [
  'none',
  'internal_error',
  'throttle',
  'hang',
  'malformed',
  'reset',
  'business_error',
] as const;
/** `Response.Data.Code` values of a business failure: internal, parameter, not activated, no product. */
export const businessCodes = [6000, 1002, 4300, 4301] as const;
export const malformedBodies = ['not_json', 'no_result'] as const;

export type MalformedBody = (typeof malformedBodies)[number];

export interface ScriptedRiskFault {
  fault: (typeof scriptedFaultNames)[number];
  /**
   * For `malformed`: `not_json` (a truncated body) or `no_result` (JSON with neither Data nor
   * Error). Absent, one of the two is drawn.
   */
  body?: MalformedBody;
  /** For `business_error`: the non-zero `Response.Data.Code` under HTTP 200 (default 6000). */
  dataCode?: (typeof businessCodes)[number];
}

const { amount, rate, range, choice } = faultSettings;

/** A partial update of RiskFaults, from code, the environment or `PUT /admin/faults`. */
export const riskFaultPatchSchema = faultPatchSchema(
  z.strictObject({
    latencyMs: range(),
    internalErrorRate: rate(),
    throttleRate: rate(),
    hangRate: rate(),
    hangMs: amount(),
    malformedRate: rate(),
    resetRate: rate(),
    rejectRate: rate(),
    reviewRate: rate(),
  }) satisfies z.ZodType<RiskFaults>,
);

export const scriptedRiskFaultSchema = z.object({
  fault: choice(scriptedFaultNames),
  body: choice(malformedBodies).optional(),
  dataCode: z.union(businessCodes.map((code) => z.literal(code))).optional(),
}) satisfies z.ZodType<ScriptedRiskFault>;
