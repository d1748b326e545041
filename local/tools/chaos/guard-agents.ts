import { randomUUID } from 'node:crypto';
import type { Order } from '#domain/order.ts';
import { between, type Random } from '../../simulators/faults.ts';
import type { Check, Violation } from './checks.ts';

/**
 * Two agents that misbehave on purpose, beside the run's well-behaved ones: one stuck in a retry
 * loop that mints a fresh Idempotency-Key for the same intent each time (the duplicate guard
 * must keep it from paying twice), and one flooding orders as fast as it can (its token bucket
 * must refuse the excess, and a refused request must change nothing).
 */
export const guardAgentIds = { retryLoop: 'chaos-retry-loop', flood: 'chaos-flood' } as const;

export interface GuardAgentSettings {
  /** Intents the retry loop places, each `placements` times under fresh keys. */
  readonly intents: number;
  readonly placements: number;
  /** The loop's pause between two placements of one intent, ms. */
  readonly pauseMs: { readonly min: number; readonly max: number };
  /** Requests the flooding agent fires, `concurrency` at a time, never retried. */
  readonly floodRequests: number;
  readonly floodConcurrency: number;
  /** The flooding agent's bucket (the defaults of the wiring). */
  readonly floodRate: { readonly perSecond: number; readonly burst: number };
}

export const defaultGuardAgentSettings: GuardAgentSettings = {
  intents: 3,
  placements: 5,
  pauseMs: { min: 200, max: 1_500 },
  floodRequests: 40,
  floodConcurrency: 20,
  floodRate: { perSecond: 1, burst: 10 },
};

export interface PlacedAnswer {
  readonly status: number;
  readonly body: { readonly orderId?: string; readonly status?: string };
  readonly retryAfterSeconds?: number;
}

export type PostOrder = (agentId: string, key: string, body: object) => Promise<PlacedAnswer>;

/** What the two agents did, for the checks and the summary. */
export interface GuardRun {
  /** Each intent of the retry loop → the orders its placements made. */
  readonly intents: ReadonlyMap<string, readonly string[]>;
  /** 429s the loop waited out (then placed again under the same key). */
  readonly loopRefused: number;
  readonly flood: {
    readonly admitted: readonly string[];
    /** The order ids the refused requests' keys would have made. */
    readonly refused: readonly string[];
    readonly other: readonly Violation[];
    readonly seconds: number;
  };
}

export async function runGuardAgents(
  post: PostOrder,
  orderIdOf: (agentId: string, key: string) => string,
  orderBody: (amount: number, sessionId: string) => object,
  random: Random,
  settings: GuardAgentSettings,
  placed: (agentId: string, key: string, answer: PlacedAnswer, amount: number) => void,
): Promise<GuardRun> {
  const intents = new Map<string, string[]>();
  let loopRefused = 0;
  const retryLoop = async (intent: number) => {
    const sessionId = `retry-loop-${intent}`;
    const amount = 300 + intent * 100;
    for (let placement = 0; placement < settings.placements; placement++) {
      const key = `loop-${intent}-${placement}-${randomUUID()}`;
      const body = orderBody(amount, sessionId);
      let answer = await post(guardAgentIds.retryLoop, key, body);
      for (
        let attempt = 0;
        answer.status === 429 || (answer.status >= 500 && attempt < 5);
        attempt++
      ) {
        if (answer.status === 429) loopRefused++;
        await sleep((answer.retryAfterSeconds ?? 1) * 1000);
        answer = await post(guardAgentIds.retryLoop, key, body);
      }
      if (answer.body.orderId !== undefined) {
        intents.set(sessionId, [...(intents.get(sessionId) ?? []), answer.body.orderId]);
        placed(guardAgentIds.retryLoop, key, answer, amount);
      }
      await sleep(between(random, settings.pauseMs));
    }
  };

  const admitted: string[] = [];
  const refused: string[] = [];
  const other: Violation[] = [];
  let fired = 0;
  const started = Date.now();
  const flood = async () => {
    while (fired < settings.floodRequests) {
      const key = `flood-${++fired}-${randomUUID()}`;
      const amount = 100 + (fired % 40) * 100;
      const body = orderBody(amount, `flood-${fired}`);
      let answer = await post(guardAgentIds.flood, key, body);
      // Even a flooding client retries a 5xx under its key: that is what the key is for.
      for (let attempt = 0; answer.status >= 500 && attempt < 5; attempt++) {
        await sleep((answer.retryAfterSeconds ?? 1) * 1000);
        answer = await post(guardAgentIds.flood, key, body);
      }
      if (answer.status === 429) {
        refused.push(orderIdOf(guardAgentIds.flood, key));
      } else if (
        answer.body.orderId !== undefined &&
        (answer.status === 202 || answer.status === 200)
      ) {
        // 200: the retry of a 5xx that had stored the order (e.g. its payment could not be
        // queued) replays it, as the key promises; the order is admitted all the same.
        admitted.push(answer.body.orderId);
        placed(guardAgentIds.flood, key, answer, amount);
      } else {
        other.push({ detail: `${key} answered ${answer.status}` });
      }
    }
  };

  await Promise.all([
    ...Array.from({ length: settings.intents }, (_, intent) => retryLoop(intent)),
    ...Array.from({ length: settings.floodConcurrency }, flood),
  ]);
  return {
    intents,
    loopRefused,
    flood: { admitted, refused, other, seconds: (Date.now() - started) / 1000 },
  };
}

/**
 * What must hold of the two agents whatever else happened: no intent paid twice without its
 * user, each repeat held as a duplicate of the first, every refused request leaving nothing
 * behind, and the flood admitted no faster than its bucket.
 */
export function checkGuards(
  run: GuardRun,
  orders: ReadonlyMap<string, Order>,
  storedRefused: readonly string[],
  settings: GuardAgentSettings,
): Check[] {
  const twice: Violation[] = [];
  const notHeld: Violation[] = [];
  for (const [intent, orderIds] of run.intents) {
    const autoPaid = orderIds.filter((id) => orders.get(id)?.history[0]?.to === 'PENDING_PAYMENT');
    if (autoPaid.length > 1) {
      twice.push({ detail: `${intent} was paid without its user by ${autoPaid.join(', ')}` });
    }
    for (const id of orderIds) {
      const order = orders.get(id);
      if (order === undefined || autoPaid.includes(id)) continue;
      const ofThisIntent = orderIds.includes(order.duplicateOf ?? '');
      if (order.confirmationReason !== 'POSSIBLE_DUPLICATE' || !ofThisIntent) {
        notHeld.push({
          orderId: id,
          detail: `${intent}: reason ${order.confirmationReason ?? '-'}, duplicateOf ${order.duplicateOf ?? '-'}`,
        });
      }
    }
  }
  const { perSecond, burst } = settings.floodRate;
  const allowed = Math.floor(burst + perSecond * run.flood.seconds) + 1;
  return [
    { name: 'no intent was paid twice without a confirmation (retry loop)', violations: twice },
    {
      name: "the retry loop's repeats waited for the user as POSSIBLE_DUPLICATE of the first",
      violations: notHeld,
    },
    {
      name: 'every refused (429) request changed nothing',
      violations: [
        ...storedRefused.map((orderId) => ({ orderId, detail: 'stored though refused' })),
        ...run.flood.other,
      ],
    },
    {
      name: 'the flooding agent was refused, and admitted no faster than its bucket',
      violations: [
        ...(run.flood.refused.length === 0 ? [{ detail: 'no request was refused' }] : []),
        ...(run.flood.admitted.length > allowed
          ? [{ detail: `${run.flood.admitted.length} admitted, at most ${allowed} allowed` }]
          : []),
      ],
    },
  ];
}

/** The two agents as the summary shows them. */
export function guardAgentRows(
  run: GuardRun,
  orders: ReadonlyMap<string, Order>,
): [string, string][] {
  const loopOrders = [...run.intents.values()].flat();
  const autoPaid = loopOrders.filter((id) => orders.get(id)?.history[0]?.to === 'PENDING_PAYMENT');
  const confirmed = loopOrders.filter((id) =>
    orders.get(id)?.history.some((entry) => entry.cause === 'CONFIRM'),
  );
  return [
    [
      `${guardAgentIds.retryLoop} (same intent, fresh key each time)`,
      `${run.intents.size} intents, ${loopOrders.length} orders: ${autoPaid.length} paid at once, ` +
        `${loopOrders.length - autoPaid.length} held POSSIBLE_DUPLICATE (${confirmed.length} ` +
        `confirmed by the user), ${run.loopRefused} 429s waited out`,
    ],
    [
      `${guardAgentIds.flood} (as fast as it can)`,
      `${run.flood.admitted.length + run.flood.refused.length + run.flood.other.length} ` +
        `requests in ${run.flood.seconds.toFixed(1)} s: ${run.flood.admitted.length} admitted, ` +
        `${run.flood.refused.length} refused 429`,
    ],
  ];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
