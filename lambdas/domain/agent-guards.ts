import { createHash } from 'node:crypto';
import type { AgentProfile } from './agent.ts';

/**
 * The guards intake keeps in each agent-day item, beside the day's spend, so that the one
 * conditional write intake makes anyway also enforces them:
 *
 * - a token bucket per agent, kept as GCRA's theoretical arrival time `tat` (ms): a placement is
 *   admitted when `tat <= now + (burst - 1) * interval`, and moves it to
 *   `max(tat, now) + interval`. DynamoDB has no max(), so the write names the case it assumed
 *   (`full`: tat <= now, or `draining`: tat > now) in its condition; a wrong guess fails, the
 *   item comes back with the failure, and the second attempt is right.
 * - the recent intents (duplicate guard), in a ring of String Sets, one per slot of
 *   `intentSlotSeconds`: slot `s` lives in ring attribute `s mod ringSize`, marked by the
 *   element `@s`, and holds the intent hashes placed in it and, per placement,
 *   `hash=firstOrderId.token` (at most 56 bytes a placement: a day item stays under 1 KB while
 *   its agent places fewer than ~18 in the window). An
 *   attribute whose marker is another slot's is stale and replaced whole, so the item stays
 *   bounded (ringSize slots of at most rate × slot seconds + burst intents each).
 */
export interface GuardPolicy {
  /** The same intent under a new key within this many seconds waits for the user. */
  readonly duplicateWindowSeconds: number;
  /** The ring's granularity: a duplicate is always caught within the window, never after window + slot. */
  readonly intentSlotSeconds: number;
  readonly defaultRatePerSecond: number;
  readonly defaultBurst: number;
}

/**
 * The most a user may set an agent's bucket to. They bound the agent-day item: six ring slots of
 * at most 5 × 60 + 50 placements, at most 56 bytes each, ~120 KB of DynamoDB's 400 KB per item.
 */
export const MAX_RATE_PER_SECOND = 5;
export const MAX_RATE_BURST = 50;

export const defaultGuardPolicy: GuardPolicy = {
  duplicateWindowSeconds: 300,
  intentSlotSeconds: 60,
  defaultRatePerSecond: 1,
  defaultBurst: 10,
};

/** What intake knows of an agent-day item's guards: from its own last write, or a refusal. */
export interface GuardState {
  readonly tat?: number | undefined;
  /** Ring index → the elements of that ring attribute. */
  readonly ring: Readonly<Record<number, readonly string[]>>;
  readonly spent?: number | undefined;
}

export const emptyGuardState: GuardState = { ring: {} };

export type BucketClaim =
  | { readonly kind: 'full'; readonly now: number; readonly next: number }
  | {
      readonly kind: 'draining';
      readonly now: number;
      readonly limit: number;
      readonly intervalMs: number;
    };

/** One ring slot the write requires not to hold the intent. */
export interface IntentCheck {
  readonly ring: number;
  readonly marker: string;
}

export interface IntentClaim {
  readonly hash: string;
  readonly ring: number;
  readonly marker: string;
  /** The ring attribute is stale or absent: replaced by `elements`; else they are added to it. */
  readonly fresh: boolean;
  readonly elements: readonly string[];
  /** The slots of this day that must not hold the intent; empty when a duplicate is known. */
  readonly checks: readonly IntentCheck[];
}

/** What one placement claims of its agent-day item, written with the order or not at all. */
export interface GuardClaim {
  readonly agentId: string;
  readonly day: string;
  readonly bucket: BucketClaim;
  readonly intent: IntentClaim;
  /** The previous UTC day's slots still within the window (just after midnight only). */
  readonly previousDay?: { readonly day: string; readonly checks: readonly IntentCheck[] };
}

export interface AgentRate {
  readonly perSecond: number;
  readonly burst: number;
}

export function rateOf(agent: AgentProfile | undefined, policy: GuardPolicy): AgentRate {
  return {
    perSecond: agent?.ratePerSecond ?? policy.defaultRatePerSecond,
    burst: agent?.rateBurst ?? policy.defaultBurst,
  };
}

/**
 * The intent an agent means: the same session, action, items and price, whatever the key. The
 * items are a cart: listed in another order, or with their fields in another order, they are the
 * same intent.
 */
export function intentHashOf(intent: {
  readonly sessionId: string;
  readonly action: string;
  readonly items: readonly object[];
  readonly amount: number;
  readonly currency: string;
}): string {
  const items = intent.items.map((item) => JSON.stringify(item, Object.keys(item).sort())).sort();
  const canonical = JSON.stringify([
    intent.sessionId,
    intent.action,
    items,
    intent.amount,
    intent.currency,
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 12);
}

/** An order id as the ring keeps it: `ord_` and 32 hex digits in 22 characters. */
function compactOrderId(orderId: string): string {
  const hex = /^ord_([0-9a-f]{32})$/.exec(orderId)?.[1];
  return hex === undefined ? orderId : Buffer.from(hex, 'hex').toString('base64url');
}

function expandOrderId(kept: string): string {
  return kept.length === 22 ? `ord_${Buffer.from(kept, 'base64url').toString('hex')}` : kept;
}

export function ringSizeOf(policy: GuardPolicy): number {
  return Math.ceil(policy.duplicateWindowSeconds / policy.intentSlotSeconds) + 1;
}

const DAY_MS = 24 * 3600 * 1000;

function slotOf(atMs: number, policy: GuardPolicy): number {
  return Math.floor(atMs / (policy.intentSlotSeconds * 1000));
}

/**
 * What tells one placement's record from another's of the same order in the same slot (two
 * requests with the same key at once): the millisecond within the slot it was placed at, in base 36
 * (1 to 4 characters for a 60 s slot), then the placement's random characters (4), which tell
 * apart two placements in the same millisecond.
 */
function placementTokenOf(now: number, policy: GuardPolicy, placement?: string): string {
  const millisecond = (now - slotOf(now, policy) * policy.intentSlotSeconds * 1000).toString(36);
  return `${millisecond}${placement ?? ''}`;
}

/** The slots a duplicate may sit in at `now`, split by the UTC day their item belongs to. */
function liveSlots(now: number, policy: GuardPolicy) {
  const ringSize = ringSizeOf(policy);
  const current = slotOf(now, policy);
  const dayStart = Math.floor(now / DAY_MS) * DAY_MS;
  const today: IntentCheck[] = [];
  const yesterday: IntentCheck[] = [];
  for (let slot = current - ringSize + 1; slot <= current; slot++) {
    const check = { ring: slot % ringSize, marker: `@${slot}` };
    // A slot that straddles midnight is in both items.
    if ((slot + 1) * policy.intentSlotSeconds * 1000 > dayStart) today.push(check);
    if (slot * policy.intentSlotSeconds * 1000 < dayStart) yesterday.push(check);
  }
  return { current, today, yesterday, dayStart };
}

/** Whether a retry should wait, in whole seconds (at least 1); undefined when admitted. */
export function retryAfterSeconds(
  state: GuardState,
  now: number,
  rate: AgentRate,
): number | undefined {
  const intervalMs = 1000 / rate.perSecond;
  const limit = now + (rate.burst - 1) * intervalMs;
  if (state.tat === undefined || state.tat <= limit) return undefined;
  return Math.max(1, Math.ceil((state.tat - limit) / 1000));
}

/**
 * The first order of the same intent still within the window in `state`, if any. An intent
 * whose records under an order id are all gone was given back (its order never stored): it is no
 * duplicate of anything, which `'given-back'` says. A record is `hash=<order id>.<placement
 * token>`; one written before records named their placement has no token and reads the same.
 */
export function duplicateIn(
  state: GuardState,
  hash: string,
  checks: readonly IntentCheck[],
): string | undefined {
  let givenBack = false;
  for (const check of checks) {
    const elements = state.ring[check.ring] ?? [];
    if (elements.includes(check.marker) && elements.includes(hash)) {
      const detail = elements.find((element) => element.startsWith(`${hash}=`));
      if (detail !== undefined) return orderIdOfRecord(detail, hash);
      givenBack = true;
    }
  }
  return givenBack ? GIVEN_BACK : undefined;
}

/** The order id in a record `hash=<order id>.<placement token>`, or `hash=<order id>` as before. */
function orderIdOfRecord(record: string, hash: string): string {
  const [kept = ''] = record.slice(hash.length + 1).split('.', 1);
  return expandOrderId(kept);
}

/** What `duplicateIn` answers for an intent whose only claims were given back. */
export const GIVEN_BACK = 'given-back';

export interface ClaimRequest {
  readonly agentId: string;
  readonly now: number;
  readonly rate: AgentRate;
  readonly hash: string;
  /** The order recorded as the intent's first: this one, or the one it duplicates. */
  readonly firstOrderId: string;
  /** False once the placement is known to duplicate another: it only records itself. */
  readonly checkDuplicate: boolean;
  /**
   * A few random characters drawn once per placement and kept by all its attempts, added to the
   * token: two placements of one key in the same millisecond (a client sending its request twice
   * at once) still write records of their own, so neither takes the other's for its own send, nor
   * deletes it when giving its claim back.
   */
  readonly placement?: string | undefined;
}

/**
 * The claim of one placement, built on what intake last saw of the item (a guess: the write's
 * condition says what it assumed, and fails when the item is otherwise).
 */
export function claimFor(
  state: GuardState,
  request: ClaimRequest,
  policy: GuardPolicy,
): GuardClaim {
  const { now, rate } = request;
  const intervalMs = 1000 / rate.perSecond;
  const bucket: BucketClaim =
    state.tat === undefined || state.tat <= now
      ? { kind: 'full', now, next: now + intervalMs }
      : { kind: 'draining', now, limit: now + (rate.burst - 1) * intervalMs, intervalMs };
  const slots = liveSlots(now, policy);
  const ringSize = ringSizeOf(policy);
  const ring = slots.current % ringSize;
  const marker = `@${slots.current}`;
  const fresh = !(state.ring[ring] ?? []).includes(marker);
  const day = new Date(now).toISOString().slice(0, 10);
  const previousDay =
    request.checkDuplicate && slots.yesterday.length > 0
      ? {
          day: new Date(slots.dayStart - DAY_MS).toISOString().slice(0, 10),
          checks: slots.yesterday,
        }
      : undefined;
  return {
    agentId: request.agentId,
    day,
    bucket,
    intent: {
      hash: request.hash,
      ring,
      marker,
      fresh,
      elements: [
        marker,
        request.hash,
        `${request.hash}=${compactOrderId(request.firstOrderId)}.${placementTokenOf(now, policy, request.placement)}`,
      ],
      checks: request.checkDuplicate ? slots.today : [],
    },
    ...(previousDay ? { previousDay } : {}),
  };
}

/** The interval of the bucket a claim took: what giving the claim back returns to it. */
export function intervalOf(bucket: BucketClaim): number {
  return bucket.kind === 'full' ? bucket.next - bucket.now : bucket.intervalMs;
}

/** The element of the claim's ring slot that names the order and the placement it was made for. */
export function ownRecordOf(claim: GuardClaim): string {
  const own = claim.intent.elements.find((element) => element.startsWith(`${claim.intent.hash}=`));
  if (own === undefined) throw new Error('A claim always records its intent under an order id');
  return own;
}

/**
 * Whether the item in `state` holds the claim's own record in the claim's slot: this claim (or
 * another attempt of its placement, at the same createdAt) was written there. Another placement
 * with the same key wrote a record of its own, even for the same order and intent.
 */
export function ownRecordIn(state: GuardState, claim: GuardClaim): boolean {
  const elements = state.ring[claim.intent.ring] ?? [];
  return elements.includes(claim.intent.marker) && elements.includes(ownRecordOf(claim));
}

/** Whether the item in `state` is as the claim assumed (the write's condition, in one place). */
export function claimHolds(state: GuardState, claim: GuardClaim): boolean {
  const { bucket, intent } = claim;
  const bucketHolds =
    bucket.kind === 'full'
      ? state.tat === undefined || state.tat <= bucket.now
      : state.tat !== undefined && state.tat > bucket.now && state.tat <= bucket.limit;
  const current = state.ring[intent.ring] ?? [];
  const ringHolds = intent.fresh
    ? !current.includes(intent.marker)
    : current.includes(intent.marker);
  return bucketHolds && ringHolds && duplicateIn(state, intent.hash, intent.checks) === undefined;
}

/** The item after the claim's write. */
export function applyClaim(state: GuardState, claim: GuardClaim): GuardState {
  const { bucket, intent } = claim;
  const tat = bucket.kind === 'full' ? bucket.next : (state.tat ?? bucket.now) + bucket.intervalMs;
  const before = intent.fresh ? [] : (state.ring[intent.ring] ?? []);
  const elements = [...new Set([...before, ...intent.elements])];
  return { ...state, tat, ring: { ...state.ring, [intent.ring]: elements } };
}
