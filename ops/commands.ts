import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAgentDirectory } from '#adapters/dynamodb-agents.ts';
import { DynamoDbControlPanel, type Switch } from '#adapters/dynamodb-controls.ts';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { SqsPaymentQueue } from '#adapters/sqs-payment-queue.ts';
import { SqsSettlementCheckQueue } from '#adapters/sqs-settlement-checks.ts';
import { AutopayError } from '#domain/errors.ts';
import { makeLifecycle } from '#domain/lifecycle.ts';
import { orderView } from '#domain/order.ts';
import type { DeadlinePolicy } from '#domain/order-moves.ts';
import { systemClock } from '#domain/ports.ts';
import { closedStatuses } from '#domain/settlement.ts';
import {
  functionSpecs,
  type QueueName,
  queueNames,
  type SecretName,
  secretNames,
  wiring,
} from '#shared/wiring.ts';

/** The secrets a function rotates; the webhook endpoint key is not one of them. */
const rotatedSecrets: readonly SecretName[] = secretNames.filter((secret) =>
  Object.values(functionSpecs).some((spec) => spec.rotates?.includes(secret)),
);

/** Where the operator tools act: the local stack, or a deployed stage. */
export interface OpsTarget {
  readonly name: string;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly queues: Readonly<Record<QueueName, { readonly url: string; readonly dlqUrl: string }>>;
  /** The deadlines the functions apply, so an order an operator moves is due when theirs are. */
  readonly deadlines: DeadlinePolicy;
  /** Moves every message of a queue's DLQ back to the queue; answers how many. */
  redrive(queue: QueueName): Promise<string>;
  /** Rotates a secret now; answers what happened. */
  rotate(secret: SecretName): Promise<string>;
  /**
   * Stops or restarts the payment consumer's receives (in AWS, its event source mapping), so
   * paused payments wait in the queue, neither failed nor dead-lettered; answers what it did.
   */
  paymentPolling(enabled: boolean): Promise<string>;
  /** Who runs the command, recorded with a pause. */
  readonly operator: string;
  /** Makes a Stripe API key an operator rolled in Stripe's dashboard current, once it works. */
  rotateStripeApiKey(newKey: string): Promise<string>;
}

export class OpsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpsError';
  }
}

export const opsUsage = `usage: npm run ops -- [--stage <stage>] <command> [args]

Without --stage the tools act on the local stack of \`npm start\`; with it, on that deployed
stage, through the standard AWS credential chain.

commands:
  order <orderId>     the order, its status, its history and its risk verdict
  refund <orderId> [reason]
                      ask for a PAID order's money back, as its user would
  stuck               orders past their deadline in their current state
  dlq                 what each dead-letter queue holds, and why
  redrive <queue>     move a dead-letter queue's messages back (${queueNames.join(', ')})
  rotate <secret>     rotate a secret now (${rotatedSecrets.join(', ')})
  preflight [--rotation on] [--callback-concurrency N]
                      with --stage only: what a deploy of the stage needs from the account
                      and region (read-only); --rotation on: also that the secrets hold real
                      values, before a deploy with -c rotation=on; --callback-concurrency N:
                      the reservation of a deploy with -c callbackConcurrency=N
  pause autopay       every new order waits for its user (reason AUTOPAY_PAUSED)
  pause payments      payment messages stay queued, neither failed nor dead-lettered
  resume autopay|payments
                      undo the pause
  paused              what is paused, by whom and since when
  rotate stripeApiKey < key
                      make the Stripe key read from standard input current, once Stripe
                      accepts it (a Stripe key is rolled in Stripe's dashboard, not by autopay)
`;

type Print = (line: string) => void;

/** Runs one operator command against a target, printing what an operator needs to read. */
export async function runOps(
  args: readonly string[],
  target: OpsTarget,
  print: Print,
  input: () => Promise<string> = async () => '',
): Promise<void> {
  const [command, argument] = args;
  const orders = new DynamoDbOrderRepository(target.dynamodb, target.tableName);
  switch (command) {
    case 'order': {
      if (!argument) throw new OpsError('order needs an order id');
      const order = await orders.get(argument);
      if (order === undefined) throw new OpsError(`No order ${argument} in ${target.name}`);
      // Beyond what the agent sees: whose order it is, the risk verdict and the deadline.
      const shown = {
        ...orderView(order),
        agentId: order.agentId,
        risk: order.risk,
        dueAt: order.dueAt,
        ...(order.refundId ? { refundId: order.refundId } : {}),
        ...(order.refundFailure ? { refundFailure: order.refundFailure } : {}),
      };
      print(JSON.stringify(shown, null, 2));
      return;
    }
    case 'refund': {
      if (!argument) throw new OpsError('refund needs an order id');
      const reason = args.slice(2).join(' ');
      await refund(target, orders, argument, reason === '' ? {} : { reason }, print);
      return;
    }
    case 'stuck': {
      const now = new Date().toISOString();
      // A closed order in the index waits for a lookup after the void of its payment, not stuck.
      const stuck = (await orders.findDue(now, 1000)).filter(
        (order) => !closedStatuses.has(order.status),
      );
      print(`${stuck.length} order(s) past their deadline in ${target.name} at ${now}`);
      for (const order of stuck) {
        const why = order.lastError ? `  lastError=${order.lastError}` : '';
        print(
          `${order.orderId}  ${order.status.padEnd(21)} due ${order.dueAt}  attempts=${order.attempts}${why}`,
        );
      }
      return;
    }
    case 'dlq':
      for (const queue of queueNames) {
        await describeDeadLetters(target, orders, queue, print);
      }
      return;
    case 'redrive': {
      const queue = queueOf(argument);
      print(await target.redrive(queue));
      return;
    }
    case 'rotate': {
      if (argument === 'stripeApiKey') {
        print(await target.rotateStripeApiKey(await input()));
        return;
      }
      if (!rotatedSecrets.includes(argument as SecretName)) {
        throw new OpsError(`rotate needs one of: ${rotatedSecrets.join(', ')}`);
      }
      print(await target.rotate(argument as SecretName));
      return;
    }
    case 'pause':
    case 'resume':
      await setPause(target, switchOf(command, argument), command === 'pause', print);
      return;
    case 'paused': {
      const controls = await new DynamoDbControlPanel(target.dynamodb, target.tableName, 0).read();
      for (const which of switches) {
        const pause = controls[`${which}Paused`];
        print(pause ? `${which}: paused by ${pause.by} at ${pause.at}` : `${which}: running`);
      }
      return;
    }
    default:
      throw new OpsError(opsUsage);
  }
}

const switches: readonly Switch[] = ['autopay', 'payments'];

function switchOf(command: string, argument: string | undefined): Switch {
  if (!switches.includes(argument as Switch)) {
    throw new OpsError(`${command} needs one of: ${switches.join(', ')}`);
  }
  return argument as Switch;
}

/**
 * Turns a switch. The item is written first on a pause, and removed last on a resume, so that
 * whenever the payment mapping is off the dashboard and the logs say by whom.
 */
async function setPause(
  target: OpsTarget,
  which: Switch,
  paused: boolean,
  print: Print,
): Promise<void> {
  const controls = new DynamoDbControlPanel(target.dynamodb, target.tableName, 0);
  const record = { by: target.operator, at: new Date().toISOString() };
  if (paused) {
    const before = await controls.set(which, record);
    const already = before[`${which}Paused`];
    if (already) print(`${which} was already paused by ${already.by} at ${already.at}.`);
  }
  if (which === 'payments') print(await target.paymentPolling(!paused));
  if (!paused) await controls.set(which, undefined);
  print(
    `${which} ${paused ? 'paused' : 'resumed'} in ${target.name} by ${record.by} at ${record.at}` +
      (which === 'autopay' ? ` (every instance within ${AUTOPAY_SWITCH_SECONDS} s)` : ''),
  );
}

/** The order-intake function's cache of the switches (CONTROL_CACHE_SECONDS in the wiring). */
const AUTOPAY_SWITCH_SECONDS = Number(
  wiring.functions.orderIntake.environment.CONTROL_CACHE_SECONDS,
);

/**
 * One Idempotency-Key for every operator refund: the order carries the key of its one refund, so
 * running the same command again is a replay, never a second refund.
 */
const OPERATOR_REFUND_KEY = 'operator-refund';

/** The user's refund use case, as the order-lifecycle function runs it, for the agent's owner. */
async function refund(
  target: OpsTarget,
  orders: DynamoDbOrderRepository,
  orderId: string,
  body: { readonly reason?: string },
  print: Print,
): Promise<void> {
  const order = await orders.get(orderId);
  if (order === undefined) throw new OpsError(`No order ${orderId} in ${target.name}`);
  const agents = new DynamoDbAgentDirectory(target.dynamodb, target.tableName);
  const lifecycle = makeLifecycle({
    orders,
    agents,
    payments: new SqsPaymentQueue(target.sqs, target.queues.paymentSubmission.url),
    settlementChecks: new SqsSettlementCheckQueue(target.sqs, target.queues.settlementCheck.url),
    clock: systemClock,
    deadlines: target.deadlines,
  });
  try {
    // The operator acts on the user's behalf: the use case checks the order is that user's.
    const ownerId = order.ownerId ?? (await agents.get(order.agentId))?.ownerId;
    if (ownerId === undefined) throw new OpsError(`${orderId}: its agent has no owner`);
    const result = await lifecycle.refund(ownerId, orderId, OPERATOR_REFUND_KEY, body);
    print(
      result.replayed
        ? `The refund of ${orderId} was asked for before; the order is ${result.order.status}.`
        : `Refund of ${orderId} asked for: the order is ${result.order.status} until the gateway confirms.`,
    );
  } catch (error) {
    if (error instanceof AutopayError && error.exposable) {
      throw new OpsError(`${orderId}: ${error.code}: ${error.message}`);
    }
    throw error;
  }
}

function queueOf(argument: string | undefined): QueueName {
  if (!queueNames.includes(argument as QueueName)) {
    throw new OpsError(`redrive needs one of: ${queueNames.join(', ')}`);
  }
  return argument as QueueName;
}

async function describeDeadLetters(
  target: OpsTarget,
  orders: DynamoDbOrderRepository,
  queue: QueueName,
  print: Print,
): Promise<void> {
  const url = target.queues[queue].dlqUrl;
  const attributes = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const depth = Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0);
  const hidden = Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  // The sweep hides the payment messages it has read for a while; a redrive moves them later.
  print(
    `${queue} DLQ: ${depth} message(s)` +
      (hidden > 0 ? `, and ${hidden} hidden for now (a later redrive moves them)` : ''),
  );
  if (depth === 0) return;
  // A peek: a zero visibility timeout leaves the messages where they are.
  const peeked = await target.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
  );
  for (const message of peeked.Messages ?? []) {
    const orderId = readOrderId(message.Body);
    const order = orderId ? await orders.get(orderId) : undefined;
    const event = readEvent(message.Body);
    const why = event
      ? `event ${event} (an endpoint that never answered 2xx)`
      : order
        ? `order ${order.status}, lastError=${order.lastError ?? '-'}, attempts=${order.attempts}`
        : 'no such order (an unreadable or foreign message)';
    print(`  ${message.MessageId}  ${orderId ?? '?'}  ${why}`);
  }
}

/** `<type> <eventId> to <endpointId>` for a notification message, else undefined. */
function readEvent(body: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(body ?? '') as Record<string, unknown>;
    const { eventType, eventId, endpointId } = parsed;
    return typeof eventType === 'string'
      ? `${eventType} ${String(eventId)} to ${String(endpointId)}`
      : undefined;
  } catch {
    return undefined;
  }
}

function readOrderId(body: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(body ?? '') as { orderId?: unknown };
    return typeof parsed.orderId === 'string' ? parsed.orderId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Redrive for an SQS that has no StartMessageMoveTask (the local emulator): receive from the
 * DLQ, send to the queue, then delete from the DLQ, in batches of ten. A crash midway leaves
 * duplicates, never losses; every consumer is idempotent per order.
 */
export async function redriveByResending(
  sqs: SQSClient,
  from: string,
  to: string,
): Promise<number> {
  let moved = 0;
  for (;;) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: from,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return moved;
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: to,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          MessageBody: message.Body ?? '',
          ...(message.MessageAttributes ? { MessageAttributes: message.MessageAttributes } : {}),
        })),
      }),
    );
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: from,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle ?? '',
        })),
      }),
    );
    moved += messages.length;
  }
}
