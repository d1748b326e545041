/**
 * What a tool tells the model: for an order, whether money was taken, whether the user must act
 * (and by when), or why it failed, so that the model has no reason to call again; for a refusal,
 * the API's stable code and what to do about it, as a tool error (`isError: true`).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { REDRIVE_LIMIT_REACHED, REFUND_AFTER_KEY_WINDOW, REFUND_FAILED } from '#domain/errors.ts';
import { wiring } from '#shared/wiring.ts';
import { AutopayApiError, type Order } from '../client/autopay-client.ts';

/**
 * How long after a hold the settlement check that looks for a racing delivery's charge runs,
 * and how long a refund the gateway kept failing waits before it is sent again.
 */
const raceCheckSeconds = Number(
  wiring.functions.paymentSubmission.environment.SETTLEMENT_INTERVAL_SECONDS,
);
const keyWindowHours =
  Number(wiring.functions.sweep.environment.GATEWAY_IDEMPOTENCY_KEY_WINDOW_SECONDS) / 3600;

/** 450 CNY minor units as `4.50 CNY`: the currency's own number of decimals (JPY has none). */
function money(order: Order): string {
  const digits =
    new Intl.NumberFormat('en', { style: 'currency', currency: order.currency }).resolvedOptions()
      .maximumFractionDigits ?? 2;
  return `${(order.amount / 10 ** digits).toFixed(digits)} ${order.currency}`;
}

/** Why an order waits for the user (`reason`), one entry per reason the API gives. */
export const confirmationReasons: Readonly<Record<NonNullable<Order['reason']>, string>> = {
  ACTION_NOT_TRUSTED: 'the user has not allowed this agent to pay for this on its own',
  OVER_ORDER_LIMIT: "the amount is over this agent's per-order limit",
  OVER_DAILY_LIMIT: 'it would take this agent over its daily limit',
  LIMIT_CURRENCY_MISMATCH: "the order's currency is not the one the agent's limits are set in",
  POSSIBLE_DUPLICATE:
    'it looks like a second copy of an order this agent placed moments ago for the same session and basket',
  AUTOPAY_PAUSED:
    "automatic payments are paused by autopay's operators for now, so every order waits for its user whatever this agent may pay for",
};

/** Why an order is held for review (`holdReason`), one entry per reason the API gives. */
export const holdReasons: Readonly<Record<NonNullable<Order['holdReason']>, string>> = {
  RISK_REVIEW: 'the risk check flagged it',
  RISK_UNAVAILABLE: 'the risk check could not be reached, so it was not paid blind',
  AUTHENTICATION_REQUIRED:
    "the card's bank asks the user to authenticate this payment, which nobody can do off-session: only the user can approve or cancel it",
  AGENT_SUSPENDED:
    'the user suspended this agent before the payment was sent: this agent may place no orders until the user resumes it',
  ACTION_NOT_TRUSTED:
    'before the payment was sent, the user stopped trusting this agent to pay for this action on its own: only the user can approve or cancel it',
  OVER_ORDER_LIMIT:
    "before the payment was sent, the user lowered this agent's per-order limit below the amount: only the user can approve or cancel it",
  LIMIT_CURRENCY_MISMATCH:
    "before the payment was sent, the user set this agent's limits in another currency than the order's: only the user can approve or cancel it",
};

/**
 * When autopay looks for a charge that another delivery of the order's payment may have made
 * just before the order was held, or refused by the risk check: one settlement interval after
 * that move, a lookup finds such a charge and records it (PAID, or given back). Undefined when
 * the order's data leaves no such charge possible: it never had a payment message, or the
 * gateway's own answer for its one idempotency key (the bank asked the user to authenticate)
 * held it. `unknown` when the moment of the move is not in the history.
 */
function racingLookupAt(order: Order): string | 'unknown' | undefined {
  if (order.holdReason === 'AUTHENTICATION_REQUIRED') return undefined;
  const history = order.history ?? [];
  const last = history.at(-1);
  const held =
    order.status === 'HELD_FOR_REVIEW' ||
    (order.status === 'CANCELLED' && last?.from === 'HELD_FOR_REVIEW');
  const refused = order.status === 'FAILED' && last?.cause === 'RISK_REJECTED';
  if (!held && !refused) return undefined;
  const movedAt = held ? history.findLast((entry) => entry.to === 'HELD_FOR_REVIEW')?.at : last?.at;
  return movedAt === undefined
    ? 'unknown'
    : new Date(Date.parse(movedAt) + raceCheckSeconds * 1000).toISOString();
}

/** What the lookup for a racing charge means for the model now, in one or two sentences. */
function racingCharge(lookupAt: string, now: Date, found: string): string {
  if (lookupAt !== 'unknown' && Date.parse(lookupAt) <= now.getTime()) {
    return `The lookup for a payment sent just before was due at ${lookupAt} and has recorded none: no charge is known.`;
  }
  const by =
    lookupAt === 'unknown'
      ? `within about ${raceCheckSeconds / 60} minutes`
      : `by about ${lookupAt}`;
  return `A payment sent for it just before may still be found at the gateway ${by}, and ${found}: until then, do not tell the user that nothing was charged; read it again with get_order after that.`;
}

/**
 * A held order. No payment is sent while it is held, but one sent just before the hold may still
 * turn up: only the gateway's own answer (authentication asked) proves that nothing was taken.
 */
function describeHold(order: Order, now: Date): string {
  const why = order.holdReason
    ? `${order.holdReason}: ${holdReasons[order.holdReason]}`
    : 'no reason given';
  const act =
    'Tell the user; do not place it again. If it was placed by mistake, cancel it with cancel_order';
  const lookupAt = racingLookupAt(order);
  if (lookupAt === undefined) {
    return `NOT CHARGED, HELD FOR REVIEW (${why}): the gateway asked for the authentication and took nothing; the user or an operator decides whether it is paid. ${act}.`;
  }
  return `HELD FOR REVIEW (${why}): autopay sends no payment while the order is held; the user or an operator decides whether it is paid. ${racingCharge(lookupAt, now, 'the order then reads PAID')} ${act} (money a racing payment took is then given back).`;
}

/** A failed order: declined, refused by the risk check, or failed for another reason. */
function describeFailure(order: Order, now: Date): string {
  const why = order.declineCode
    ? `the payment was declined (${order.declineCode})`
    : `the payment failed (${order.lastError ?? order.history?.at(-1)?.errorCode ?? 'no code'})`;
  const again =
    'Placing the same order again returns this same failed order: ask the user what to do (another payment method is a new order).';
  const lookupAt = racingLookupAt(order);
  return lookupAt === undefined
    ? `NOT CHARGED, FAILED: ${why}. ${again}`
    : `FAILED: ${why}. ${racingCharge(lookupAt, now, 'it is then given back automatically')} ${again}`;
}

/** A cancelled order; one cancelled while held may have met a payment that raced the hold. */
function describeCancel(order: Order, now: Date): string {
  const lookupAt = racingLookupAt(order);
  return lookupAt === undefined
    ? 'NOT CHARGED, CANCELLED: this order will not be paid.'
    : `CANCELLED: this order will not be paid. ${racingCharge(lookupAt, now, 'it is then given back automatically')}`;
}

/** An order owing money back: on its way, delayed by the gateway, or left to a person. */
function describeRefundOwed(order: Order): string {
  switch (order.lastError) {
    case REFUND_AFTER_KEY_WINDOW:
      return `CHARGED, REFUND DELAYED BY THE GATEWAY: ${money(order)} was taken and is owed back. The payment gateway kept failing the refund, so autopay waits out the gateway's idempotency-key window (about a day: ${keyWindowHours} hours after it last tried) and then sends the refund again by itself. Tell the user the refund is delayed, not lost; do not ask for it again.`;
    case REFUND_FAILED:
      return `CHARGED, REFUND FAILED AT THE GATEWAY (${order.refundFailure ?? 'no reason given'}): ${money(order)} was taken, and the gateway could not return it to the card; autopay's operators pay the user back another way. Tell the user.`;
    case 'REFUND_REJECTED':
    case REDRIVE_LIMIT_REACHED:
      return `CHARGED, REFUND STUCK (${order.lastError}): ${money(order)} was taken and is owed back, but the gateway has not accepted the refund; autopay's operators are alerted and settle it by hand. Tell the user.`;
    default:
      return `CHARGED, REFUND UNDER WAY: ${money(order)} was taken and is being given back.`;
  }
}

/** One sentence per status, in the words a model should act on. */
export function describeOrder(order: Order, now = new Date()): string {
  switch (order.status) {
    case 'PAID':
      return `CHARGED: ${money(order)} was paid. The purchase is done; do not place it again.`;
    case 'PENDING_PAYMENT':
      return `ACCEPTED, NOT YET CHARGED: the payment of ${money(order)} is under way. Do not place it again; read it with get_order in a few seconds to see PAID or FAILED.`;
    case 'AWAITING_SETTLEMENT':
      return `PENDING SETTLEMENT: the payment of ${money(order)} was submitted and the payment gateway has not settled it yet${order.settleBy ? ` (it settles or is voided by ${order.settleBy})` : ''}; the money may already be held. Do not place it again; read it later with get_order.`;
    case 'AWAITING_CONFIRMATION': {
      const reason = order.reason ? confirmationReasons[order.reason] : 'not given';
      const duplicate = order.duplicateOf
        ? ` (the earlier order: ${order.duplicateOf}). If the user wanted it once, the earlier order is the one: cancel this one with cancel_order (or the user may, in their app), or let it expire`
        : '';
      return `NOT CHARGED, WAITING FOR THE USER: ${money(order)} is charged only if the user confirms it in their app before ${order.confirmBy ?? 'its window closes'}; after that it expires. Reason: ${order.reason ?? 'none'}, ${reason}${duplicate}. Tell the user; you cannot confirm it yourself, and placing it again does not help; if it was placed by mistake, cancel it with cancel_order.`;
    }
    case 'HELD_FOR_REVIEW':
      return describeHold(order, now);
    case 'FAILED':
      return describeFailure(order, now);
    case 'CANCELLED':
      return describeCancel(order, now);
    case 'EXPIRED':
      return 'NOT CHARGED, EXPIRED: the user did not confirm it in time. If the user still wants it, ask them, then place it with repeatOf set to this orderId.';
    case 'REFUND_PENDING':
      return describeRefundOwed(order);
    case 'REFUNDED':
      return `REFUNDED: ${money(order)} was taken and given back.`;
    default:
      return `Status ${String(order.status)}: read the history for what happened.`;
  }
}

export function orderResult(order: Order, lead = ''): CallToolResult {
  return {
    content: [
      { type: 'text', text: `${lead}Order ${order.orderId}: ${describeOrder(order)}` },
      { type: 'text', text: JSON.stringify(order) },
    ],
    structuredContent: { order },
  };
}

/** Which call a refusal answered, so its advice fits. */
export type Operation = 'place' | 'read' | 'list' | 'cancel';

function advice(error: AutopayApiError, operation: Operation, code = error.code): string {
  const field = error.field ? ` (${error.field})` : '';
  switch (code) {
    case 'MALFORMED_JSON':
    case 'VALIDATION_FAILED':
    case 'INVALID_AMOUNT':
    case 'UNSUPPORTED_CURRENCY':
    case 'INVALID_PAYMENT_METHOD':
    case 'PAYLOAD_TOO_LARGE':
      return `Nothing was placed or changed. Correct the input${field} and call again.`;
    case 'UNAUTHENTICATED':
      return "This server's autopay token is missing, invalid or expired. Calling again will not help: tell the user that the agent's autopay credentials must be renewed.";
    case 'FORBIDDEN':
      return 'This agent is not allowed to do this: only the user can, in their own app. Tell the user.';
    case 'AGENT_SUSPENDED':
      return 'The user has suspended this agent: this call placed nothing, and no order will be placed until the user resumes the agent in their app. An order an earlier call with the same details placed stands as it is (it may be paid): list_orders shows it. Calling again will not help: tell the user.';
    case 'AGENT_NOT_REGISTERED':
      return "autopay knows no agent for this server's token: the user must create the agent in their app and give this server that agent's token. Nothing was placed; calling again will not help: tell the user.";
    case 'INVALID_CURSOR':
      return 'That cursor is not one list_orders gave (or it was changed): call list_orders again without cursor to start from the first page.';
    case 'ORDER_NOT_FOUND':
      return 'This agent has no order with that id. Use an orderId that place_order or list_orders gave.';
    case 'ROUTE_NOT_FOUND':
      return 'This autopay API does not offer this operation. Do not retry.';
    case 'ILLEGAL_TRANSITION':
      return operation === 'cancel'
        ? `The order is ${error.currentStatus ?? 'in another state'}: only an order waiting for the user (AWAITING_CONFIRMATION) or held for review (HELD_FOR_REVIEW) can be cancelled, and it was not. Once payment has started it cannot be cancelled: if the money should come back, ask the user to request a refund in their app. Do not retry.`
        : `The order is ${error.currentStatus ?? 'in another state'}, which does not allow this. Read it with get_order.`;
    case 'CONFIRMATION_EXPIRED':
      return 'The confirmation window has passed and the order expired; it will not be paid.';
    case 'IDEMPOTENCY_KEY_REQUIRED':
      return 'This server sent the order without a valid key, a fault of the server: nothing was placed. Tell the user; do not retry.';
    case 'IDEMPOTENCY_KEY_REUSED':
      return `This intent was placed before with other details${error.body.orderId ? ` (order ${String(error.body.orderId)})` : ''}. Nothing new was placed. Read the earlier order with get_order or list_orders; do not retry.`;
    case 'RATE_LIMITED':
      return `Too many requests${error.retryAfterSeconds !== undefined ? `: wait ${error.retryAfterSeconds} s` : ''}, then call again with the same arguments${operation === 'place' ? ': the same order is never placed or charged twice' : ''}.`;
    case 'SERVICE_UNAVAILABLE':
    case 'INTERNAL_ERROR':
    case 'NETWORK_ERROR':
      return operation === 'place'
        ? 'The outcome is unknown: the order may or may not have been placed. Calling place_order again with the same order later is safe: it returns the same order and never charges twice.'
        : 'autopay is unavailable for now: try again in a little while.';
    default:
      return adviceByStatus(error, operation);
  }
}

/** For a code this server does not know yet (the catalogue grows), what its status implies. */
function adviceByStatus(error: AutopayApiError, operation: Operation): string {
  if (error.status === 403) return advice(error, operation, 'FORBIDDEN');
  if (error.status === 429) return advice(error, operation, 'RATE_LIMITED');
  if (error.status >= 500) return advice(error, operation, 'SERVICE_UNAVAILABLE');
  return 'Nothing was done. Calling again with the same arguments gives the same answer: tell the user what happened.';
}

/** A refusal of the API as a tool error, or the error itself when it is not the API's. */
export function errorResult(error: unknown, operation: Operation): CallToolResult {
  if (!(error instanceof AutopayApiError)) throw error;
  const status = error.status > 0 ? `HTTP ${error.status}, ` : '';
  return {
    content: [
      {
        type: 'text',
        text: `${error.code}: ${error.message} (${status}request ${error.requestId ?? 'unknown'}). ${advice(error, operation)}`,
      },
    ],
    structuredContent: {
      error: {
        code: error.code,
        status: error.status,
        message: error.message,
        ...(error.retryAfterSeconds !== undefined
          ? { retryAfterSeconds: error.retryAfterSeconds }
          : {}),
        ...error.body,
      },
    },
    isError: true,
  };
}
