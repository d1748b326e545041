import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { HistoryEntry } from '#domain/order.ts';
import type { OrderEvent } from '#domain/order-state.ts';
import type { Random } from '../../simulators/faults.ts';
import type { Check, Violation } from './checks.ts';
import { type AnyClient, orderIdOfKey, stackOf } from './sdk-middleware.ts';

/**
 * Settlement moves of an order whose answer is lost after DynamoDB applied them: played on the
 * functions' shared DynamoDB client inside the SDK's retries (its deserialize step), so the SDK
 * sends the write again and the resend is refused, as when DynamoDB answers 500 to a write that
 * landed or the answer comes after the client's request timeout. The caller must take the move
 * for its own: a late success's move to REFUND_PENDING has its refund check sent at once, before
 * the sweep could send it (at the order's `dueAt`), and the money goes back.
 */
export interface SettlementFaultRates {
  /** Of the settlement moves (one UpdateItem each). */
  readonly answerLostRate: number;
  /** Of the late successes' moves to REFUND_PENDING, which the check below looks at. */
  readonly compensationLostRate: number;
}

export interface SettlementFaultCounts {
  answerLost: number;
  compensationLost: number;
}

/** The moves the reconciler, the callbacks and payment submission make from a gateway answer. */
const settlementEvents: ReadonlySet<OrderEvent> = new Set<OrderEvent>([
  'GATEWAY_SUCCEEDED',
  'GATEWAY_PENDING',
  'GATEWAY_DECLINED',
  'SETTLEMENT_DEADLINE_PASSED',
  'PAYMENT_WINDOW_PASSED',
  'REFUND_SUCCEEDED',
  'REFUND_REJECTED',
  'COMPENSATION_REJECTED',
  'REFUND_OBSERVED',
]);
const closed: ReadonlySet<string> = new Set(['FAILED', 'CANCELLED', 'EXPIRED']);

/** A late success's move to REFUND_PENDING whose answer was lost, and when the sweep is due. */
export interface LostCompensation {
  readonly orderId: string;
  readonly lostAt: number;
  readonly dueAt: string | undefined;
}

export interface SentCheck {
  readonly check: number;
  readonly delaySeconds: number;
  readonly at: number;
}

const dynamodbMiddleware = 'chaosSettlementAnswersLost';
const sqsMiddleware = 'chaosSettlementChecksSeen';

export class SettlementFaults {
  readonly counts: SettlementFaultCounts = { answerLost: 0, compensationLost: 0 };
  readonly #lost = new Map<string, LostCompensation>();
  /** The settlement checks sent for the orders of `#lost`, by order. */
  readonly #sent = new Map<string, SentCheck[]>();

  constructor(
    private readonly random: Random,
    private readonly rates: SettlementFaultRates,
  ) {}

  attach(dynamodb: AnyClient, sqs: AnyClient, settlementQueueUrl: string): void {
    const dynamo = stackOf(dynamodb);
    dynamo.remove(dynamodbMiddleware);
    dynamo.add(
      (next, context) => async (args) => {
        const move =
          context.commandName === 'UpdateItemCommand' && args.input
            ? settlementMoveOf(args.input)
            : undefined;
        const answer = await next(args);
        // Inside the deserializer, the answer is DynamoDB's HTTP response: a refusal is a 400.
        if (move === undefined || !applied(answer)) return answer;
        const compensation = move.cause === 'GATEWAY_SUCCEEDED' && closed.has(move.from);
        const rate = compensation ? this.rates.compensationLostRate : this.rates.answerLostRate;
        if (this.random() >= rate) return answer;
        this.counts.answerLost++;
        if (compensation) {
          this.counts.compensationLost++;
          const { orderId, dueAt } = move;
          this.#lost.set(orderId, { orderId, lostAt: Date.now(), dueAt });
        }
        throw lostAnswer();
      },
      { step: 'deserialize', name: dynamodbMiddleware },
    );
    const queue = stackOf(sqs);
    queue.remove(sqsMiddleware);
    queue.add(
      (next, context) => async (args) => {
        const input = args.input;
        if (
          context.commandName === 'SendMessageCommand' &&
          input?.QueueUrl === settlementQueueUrl
        ) {
          this.#seen(input);
        }
        return next(args);
      },
      { step: 'initialize', name: sqsMiddleware },
    );
  }

  detach(dynamodb: AnyClient, sqs: AnyClient): void {
    stackOf(dynamodb).remove(dynamodbMiddleware);
    stackOf(sqs).remove(sqsMiddleware);
  }

  /**
   * Every late success whose move's answer was lost had its refund check sent before the sweep's,
   * or was refunded by another writer before it was due (`histories`: the orders' at the end).
   */
  check(histories: ReadonlyMap<string, { readonly history: readonly HistoryEntry[] }>): Check {
    return {
      name: "a late success whose move's answer was lost is refunded at once, not by the sweep",
      violations: [...this.#lost.values()].flatMap((lost) =>
        refundedAtOnce(
          lost,
          this.#sent.get(lost.orderId) ?? [],
          histories.get(lost.orderId)?.history ?? [],
        ),
      ),
    };
  }

  #seen(input: Record<string, unknown>): void {
    const { orderId, check } = JSON.parse(String(input.MessageBody)) as {
      orderId?: string;
      check?: number;
    };
    if (orderId === undefined || !this.#lost.has(orderId)) return;
    const sent = {
      check: check ?? -1,
      delaySeconds: Number(input.DelaySeconds ?? 0),
      at: Date.now(),
    };
    this.#sent.set(orderId, [...(this.#sent.get(orderId) ?? []), sent]);
  }
}

/**
 * A refund check (check 0, no delay) sent after the lost answer and before the order was due; or
 * none needed, as another writer (a racing callback or check of the same payment) read the move
 * and recorded the refund before the order was due: the resend then finds it REFUNDED.
 */
export function refundedAtOnce(
  lost: LostCompensation,
  sent: readonly SentCheck[],
  history: readonly HistoryEntry[],
): Violation[] {
  const due = lost.dueAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(lost.dueAt);
  const checkSent = sent.some(
    (each) =>
      each.check === 0 && each.delaySeconds === 0 && each.at >= lost.lostAt && each.at < due,
  );
  const refundedBeforeDue = history.some(
    (entry) =>
      entry.from === 'REFUND_PENDING' &&
      entry.cause === 'REFUND_SUCCEEDED' &&
      Date.parse(entry.at) < due,
  );
  return checkSent || refundedBeforeDue
    ? []
    : [
        {
          orderId: lost.orderId,
          detail: `no refund check sent after its move to REFUND_PENDING and before ${lost.dueAt}`,
        },
      ];
}

/** The order, cause, origin and deadline of an UpdateItem that moves an order on a settlement. */
function settlementMoveOf(input: Record<string, unknown>) {
  const orderId = orderIdOfKey(input.Key as Record<string, unknown> | undefined);
  const marshalled = input.ExpressionAttributeValues as Record<string, never> | undefined;
  if (orderId === undefined || marshalled?.[':entry'] === undefined) return undefined;
  const values = unmarshall(marshalled) as {
    ':entry': readonly { readonly cause: OrderEvent }[];
    ':from': string;
    ':f_dueAt'?: string;
  };
  const cause = values[':entry'][0]?.cause;
  if (cause === undefined || !settlementEvents.has(cause)) return undefined;
  return { orderId, cause, from: values[':from'], dueAt: values[':f_dueAt'] };
}

function applied(answer: unknown): boolean {
  return (answer as { response?: { statusCode?: number } }).response?.statusCode === 200;
}

/** What the SDK sees when DynamoDB's answer to a write that landed never comes: a 500, retried. */
function lostAnswer(): Error {
  return Object.assign(new Error('chaos: a settlement move made, its answer lost'), {
    name: 'InternalServerError',
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
  });
}
