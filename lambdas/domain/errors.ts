/**
 * The one catalogue of error codes autopay answers with. A code is a stable contract with the
 * agents that call us: add codes, never rename or reuse one.
 */
export const errorCatalogue = {
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  INVALID_AMOUNT: {
    status: 400,
    message: 'amount must be a positive integer in minor units, at most the maximum.',
  },
  UNSUPPORTED_CURRENCY: { status: 400, message: 'The currency is not supported.' },
  INVALID_PAYMENT_METHOD: { status: 400, message: 'The payment method is not supported.' },
  IDEMPOTENCY_KEY_REQUIRED: {
    status: 400,
    message: 'The Idempotency-Key header is required: 1 to 255 visible ASCII characters.',
  },
  SIGNATURE_MISSING: {
    status: 400,
    message: 'The Stripe-Signature header is missing or malformed (t=<unix>,v1=<hex>).',
  },
  SIGNATURE_INVALID: { status: 400, message: 'No signature matches the payload.' },
  TIMESTAMP_OUT_OF_TOLERANCE: {
    status: 400,
    message: 'The signature timestamp is outside the tolerance window.',
  },
  INVALID_CURSOR: { status: 400, message: 'The cursor is not one this listing issued.' },
  UNAUTHENTICATED: { status: 401, message: 'A valid bearer token is required.' },
  INVALID_WEBHOOK_URL: {
    status: 400,
    message:
      'url must be an absolute https URL without credentials (http only to loopback locally).',
  },
  INVALID_WEBHOOK_EVENTS: {
    status: 400,
    message: 'events must be a non-empty list of distinct known event types.',
  },
  FORBIDDEN: { status: 403, message: 'This token may not do this.' },
  AGENT_SUSPENDED: {
    status: 403,
    message: 'The agent is suspended by its user: it may place no orders until resumed.',
  },
  AGENT_NOT_REGISTERED: {
    status: 403,
    message: 'No agent is registered for this token: its user creates it with POST /v1/agents.',
  },
  AGENT_NOT_FOUND: { status: 404, message: 'No such agent.' },
  ORDER_NOT_FOUND: { status: 404, message: 'No such order.' },
  WEBHOOK_ENDPOINT_NOT_FOUND: { status: 404, message: 'No such webhook endpoint.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route.' },
  UNKNOWN_GATEWAY: { status: 404, message: 'No gateway of that name sends callbacks here.' },
  ILLEGAL_TRANSITION: { status: 409, message: 'The order is not in a state that allows this.' },
  CONFIRMATION_EXPIRED: {
    status: 409,
    message: 'The confirmation window of this order has passed; it has expired.',
  },
  WEBHOOK_ENDPOINT_LIMIT_REACHED: {
    status: 409,
    message: 'The user has as many webhook endpoints as allowed: delete one first.',
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message: 'This Idempotency-Key was already used with a different request.',
  },
  RATE_LIMITED: {
    status: 429,
    message:
      'This agent places orders faster than its rate allows: retry after Retry-After seconds.',
  },
  INTERNAL_ERROR: { status: 500, message: 'Something went wrong on our side: retry later.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'A dependency is unavailable: retry later.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/**
 * The codes an order's `lastError` carries: why its last payment, settlement or refund step did
 * not go through, or what it waits for. Not answers to a request, so not in the catalogue above;
 * as stable as its codes. The OpenAPI description of `lastError` lists them with these meanings.
 */
export const orderErrorCatalogue = {
  GATEWAY_DECLINED: 'The gateway declined the payment; `declineCode` says why. Nothing was taken.',
  SETTLEMENT_TIMEOUT:
    'The gateway did not settle the pending payment by `settleBy`: it was voided and the order failed.',
  PAYMENT_WINDOW_EXPIRED:
    'The order could not be paid within its payment window: nothing was charged, or what was open was voided.',
  CIRCUIT_OPEN:
    'The gateway was failing, so autopay held the payment back for a while; it is tried again, never charged twice.',
  GATEWAY_UNAUTHORIZED:
    'The gateway refused our credentials; the payment is tried again once they are renewed.',
  GATEWAY_THROTTLED: 'The gateway asked us to slow down; the payment is tried again later.',
  GATEWAY_UNAVAILABLE: 'The gateway did not answer or failed; the payment is tried again later.',
  GATEWAY_OUTCOME_UNKNOWN:
    'A gateway call ended without an answer: the payment is looked up before anything is sent again, never charged twice.',
  GATEWAY_MISCONFIGURED:
    "The gateway refused the request as malformed (autopay's configuration, not the card); it is tried again while operators fix it.",
  REFUND_REJECTED:
    'The gateway refused the refund for good (PAID: the money stays taken; REFUND_PENDING: the money is still owed and a person settles it).',
  REFUND_FAILED:
    'The gateway failed the refund after accepting it (`refundFailure` says why): the money did not reach the user, and a person pays it back.',
  REDRIVE_LIMIT_REACHED:
    "The order's step kept failing and autopay stopped retrying it; operators are alerted and settle it.",
  REFUND_AFTER_KEY_WINDOW:
    "The gateway kept failing the refund, replaying one saved answer under the refund's idempotency key: autopay sends it again once the gateway's key window has passed, about a day later.",
} as const satisfies Record<string, string>;

export type OrderErrorCode = keyof typeof orderErrorCatalogue;

/**
 * `lastError` (and the history's error code) once the gateway failed an order's refund after the
 * refund succeeded: the money is back with the merchant and the order owes it again.
 */
export const REFUND_FAILED = 'REFUND_FAILED' satisfies OrderErrorCode;

/** Why an order the sweep stopped setting moving waits: its redrive budget is spent. */
export const REDRIVE_LIMIT_REACHED = 'REDRIVE_LIMIT_REACHED' satisfies OrderErrorCode;

/**
 * Why an order owing a refund waits, its redrive budget spent: the gateway may be replaying a
 * saved error under the refund's key, so the refund is sent again, from the due index, once the
 * key window has passed.
 */
export const REFUND_AFTER_KEY_WINDOW = 'REFUND_AFTER_KEY_WINDOW' satisfies OrderErrorCode;

export interface ErrorDetail {
  /** The field the error is about, as a dotted path (`items.0.quantity`). */
  readonly field?: string;
  readonly [key: string]: unknown;
}

/** The base of every error autopay raises on purpose; anything else is a bug (a 500). */
export class AutopayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail | undefined;

  constructor(code: ErrorCode, message?: string, details?: ErrorDetail, options?: ErrorOptions) {
    super(message ?? errorCatalogue[code].message, options);
    this.name = 'AutopayError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.details = details;
  }

  /** Whether the message may be shown to the caller: never for our own failures. */
  get exposable(): boolean {
    return this.status < 500;
  }
}

export class ValidationError extends AutopayError {
  constructor(code: ErrorCode, message?: string, details?: ErrorDetail) {
    super(code, message, details);
    this.name = 'ValidationError';
  }
}

export class OrderNotFoundError extends AutopayError {
  constructor(orderId: string) {
    super('ORDER_NOT_FOUND', `No order ${orderId}.`);
    this.name = 'OrderNotFoundError';
  }
}

export class IllegalTransitionError extends AutopayError {
  readonly from: string;
  readonly event: string;

  constructor(from: string, event: string) {
    super('ILLEGAL_TRANSITION', `An order in ${from} cannot take the event ${event}.`, {
      currentStatus: from,
      event,
    });
    this.name = 'IllegalTransitionError';
    this.from = from;
    this.event = event;
  }
}

export class IdempotencyKeyReusedError extends AutopayError {
  constructor(orderId: string) {
    super('IDEMPOTENCY_KEY_REUSED', undefined, { orderId });
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** A dependency of ours failed in a way a retry may fix (throttled, timed out, unreachable). */
export class TransientDependencyError extends AutopayError {
  readonly dependency: string;

  constructor(dependency: string, options?: ErrorOptions) {
    super('SERVICE_UNAVAILABLE', undefined, { dependency }, options);
    this.name = 'TransientDependencyError';
    this.dependency = dependency;
  }
}

/** Over the agent's token bucket: nothing was stored; the agent may retry after the wait. */
export class RateLimitedError extends AutopayError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super('RATE_LIMITED', undefined, { retryAfterSeconds });
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
