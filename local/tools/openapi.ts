/**
 * `npm run openapi`: writes docs/openapi.json (OpenAPI 3.1) from the code itself. Paths come from
 * the wiring's routes, request bodies and headers from the zod schemas the handlers validate
 * with (built with the intake policy the wiring configures), and error responses from the error
 * catalogue. test/unit/openapi.test.ts fails when the committed file differs from what this
 * builds, so the document cannot drift from the code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from 'zod';
import { type CallbackOutcome, gatewayEventSchema } from '#domain/callbacks.ts';
import { type ErrorCode, errorCatalogue, orderErrorCatalogue } from '#domain/errors.ts';
import { refundRequestSchema } from '#domain/lifecycle.ts';
import {
  type AgentView,
  createAgentSchema,
  MAX_PAGE,
  patchAgentSchema,
} from '#domain/manage-agents.ts';
import { notificationEventTypes } from '#domain/notifications.ts';
import {
  type ConfirmationReason,
  type HoldReason,
  type OrderView,
  paymentMethods,
} from '#domain/order.ts';
import { orderEvents, orderStatuses } from '#domain/order-state.ts';
import {
  createOrderSchema,
  type IntakePolicy,
  idempotencyKeySchema,
  MAX_BODY_BYTES,
  orderItemSchema,
  textRule,
} from '#domain/schemas.ts';
import { createEndpointSchema, type endpointView } from '#domain/webhook-endpoints.ts';
import { intakePolicyOf, readIntakeEnvironment } from '#shared/config.ts';
import {
  AGENT_SCOPE,
  type FunctionUrlSpec,
  functionSpecs,
  type RouteSpec,
  stackOutputs,
  USER_SCOPES,
  wiring,
} from '#shared/wiring.ts';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const openApiFile = join(projectRoot, 'docs', 'openapi.json');

// ---------------------------------------------------------------------------------------------
// Settings as the running functions read them.

/** The intake policy exactly as order-intake parses it from the wiring's environment. */
export function intakePolicyFromWiring(): IntakePolicy {
  const environment = readIntakeEnvironment({
    ...wiring.functions.orderIntake.environment,
    // Set by the platform, not by the wiring; the schemas do not depend on them.
    TABLE_NAME: 'autopay',
    PAYMENT_SUBMISSION_QUEUE_URL: 'https://sqs.invalid/paymentSubmission',
  });
  return intakePolicyOf(environment);
}

const callbackEnvironment = wiring.functions.settlementCallback.environment;

// ---------------------------------------------------------------------------------------------
// Response shapes. The domain has no schemas for them (it builds them with plain functions), so
// they are written here and checked against the domain's types at compile time below.

const exampleOrderId = 'ord_5f2c9a1e7b3d4c6a8e0f1a2b3c4d5e6f';
const exampleRequestId = '3f9c1b2e-8d4a-4c7b-9e1f-0a2b3c4d5e6f';

const confirmationReasons = [
  'ACTION_NOT_TRUSTED',
  'OVER_ORDER_LIMIT',
  'OVER_DAILY_LIMIT',
  'LIMIT_CURRENCY_MISMATCH',
  'POSSIBLE_DUPLICATE',
  'AUTOPAY_PAUSED',
] as const;
const holdReasons = [
  'RISK_REVIEW',
  'RISK_UNAVAILABLE',
  'AUTHENTICATION_REQUIRED',
  'AGENT_SUSPENDED',
  'ACTION_NOT_TRUSTED',
  'OVER_ORDER_LIMIT',
  'LIMIT_CURRENCY_MISMATCH',
] as const;
const callbackResults = ['applied', 'unchanged', 'ignored', 'mismatch'] as const;

const isoTime = (description: string) =>
  z.string().meta({ format: 'date-time', description: `${description} (ISO 8601, UTC)` });
const orderStatusSchema = z.enum(orderStatuses);

const historyEntrySchema = z.object({
  from: orderStatusSchema.nullable().describe('null for the first entry, made by intake'),
  to: orderStatusSchema,
  at: isoTime('When the order moved'),
  cause: z.enum([...orderEvents, 'INTAKE']),
  errorCode: z.string().optional(),
});

/** Mirrors `orderView` in lambdas/domain/order.ts field by field. */
export const orderViewSchema = z.object({
  orderId: z.string().meta({ description: 'ord_ and 32 hex digits', examples: [exampleOrderId] }),
  status: orderStatusSchema,
  action: z.string(),
  sessionId: z.string(),
  items: z.array(orderItemSchema),
  amount: z.number().int().positive().describe('Integer amount in minor units of the currency'),
  currency: z.string(),
  paymentMethod: z.enum(paymentMethods),
  reason: z
    .enum(confirmationReasons)
    .optional()
    .describe('Why the order waits for confirmation (AWAITING_CONFIRMATION only)'),
  duplicateOf: z
    .string()
    .optional()
    .describe(
      'The earlier order of the same intent (same sessionId, action, items, amount and ' +
        'currency) this one may duplicate (reason POSSIBLE_DUPLICATE)',
    ),
  confirmBy: isoTime('When an unconfirmed order expires').optional(),
  attempts: z.number().int().nonnegative().describe('Payment attempts made so far'),
  lastError: z
    .string()
    .optional()
    .describe(
      `The code of the last step that did not go through, or of what the order waits for:\n${Object.entries(
        orderErrorCatalogue,
      )
        .map(([code, meaning]) => `- ${code}: ${meaning}`)
        .join('\n')}`,
    ),
  deadLettered: z
    .boolean()
    .optional()
    .describe('Present (true) when the payment ran out of retries and awaits an operator'),
  gatewayRef: z.string().optional().describe("The gateway's payment id"),
  declineCode: z.string().optional(),
  holdReason: z
    .enum(holdReasons)
    .optional()
    .describe(
      'Why the order is HELD_FOR_REVIEW; the risk check itself is not shown. ' +
        'ACTION_NOT_TRUSTED, OVER_ORDER_LIMIT and LIMIT_CURRENCY_MISMATCH: its agent was to ' +
        'pay it at once, and its user changed the agent before the payment was sent so that ' +
        'it no longer may',
    ),
  settleBy: isoTime('When a pending payment must settle, or be voided').optional(),
  refundFailure: z
    .string()
    .optional()
    .describe(
      "Why the gateway failed the order's refund after accepting it (Stripe's `failure_reason`, " +
        'e.g. expired_or_canceled_card): with lastError REFUND_FAILED, the money did not reach ' +
        'the user and a person pays it back',
    ),
  createdAt: isoTime('When the order was placed'),
  updatedAt: isoTime('When the order last changed'),
  history: z.array(historyEntrySchema).describe('Every status change, oldest first'),
});

const orderListSchema = z.object({
  orders: z.array(orderViewSchema).describe('Newest first'),
  cursor: z
    .string()
    .optional()
    .describe('Opaque: pass it as `cursor` for the next page; absent on the last page'),
});

const agentChangeSchema = z.object({
  at: isoTime('When the change was made'),
  by: z.string().describe('The user who made it'),
  action: z.enum(['CREATE', 'UPDATE', 'SUSPEND', 'RESUME']),
  changes: z.record(z.string(), z.unknown()).describe('The fields it set, with their new values'),
});

/** Mirrors `agentView` in lambdas/domain/manage-agents.ts field by field. */
export const agentViewSchema = z.object({
  agentId: z.string().describe("The agent's id: the `sub` (and client id) of its tokens"),
  name: z.string(),
  ownerId: z.string().describe('The user who owns the agent'),
  suspended: z.boolean().describe('While true, new orders are refused and unsent ones held'),
  trustedActions: z.array(z.string()),
  perOrderLimit: z.number().int().nonnegative(),
  dailyLimit: z.number().int().nonnegative(),
  limitCurrency: z.string(),
  rateLimit: z
    .object({ perSecond: z.number(), burst: z.number().int() })
    .optional()
    .describe('Absent: the defaults (1 per second, burst 10)'),
  createdAt: isoTime('When the agent was created'),
  updatedAt: isoTime('When the agent last changed'),
  version: z.number().int().positive().describe('Goes up by one with every change'),
  history: z.array(agentChangeSchema).describe('Its changes, oldest first (the last 50)'),
});

const createdAgentSchema = agentViewSchema.extend({
  credentials: z
    .object({ clientId: z.string(), clientSecret: z.string() })
    .optional()
    .describe(
      "The agent's OAuth client credentials (client-credentials grant), shown once, on the " +
        'first answer only; absent locally and with an identity provider other than the ' +
        "stack's Cognito user pool",
    ),
});

const agentListSchema = z.object({
  agents: z.array(agentViewSchema).describe('Newest first'),
  cursor: z.string().optional().describe('Opaque: pass it as `cursor` for the next page'),
});

const callbackAckSchema = z.object({
  received: z.literal(true),
  result: z
    .enum(callbackResults)
    .describe(
      'applied: the order moved; unchanged: already applied or superseded; ignored: no such ' +
        'order here; mismatch: amount or currency differ from the order, nothing changed',
    ),
  status: orderStatusSchema.optional().describe("The order's status after the event"),
});

const errorCodes = Object.keys(errorCatalogue) as [ErrorCode, ...ErrorCode[]];

const errorSchema = z.object({
  error: z.object({
    code: z
      .enum(errorCodes)
      .describe(
        `A stable code from the one catalogue; never renamed or reused:\n${errorCodes
          .map(
            (code) => `- ${code} (${errorCatalogue[code].status}): ${errorCatalogue[code].message}`,
          )
          .join('\n')}`,
      ),
    message: z.string().describe('For people; may change. Branch on `code`.'),
    requestId: z.string().describe('The API request id, also on every log line of the request'),
    field: z
      .string()
      .optional()
      .describe('The offending field as a dotted path (items.0.quantity), or (body)'),
    issues: z
      .array(z.object({ field: z.string(), problem: z.string() }))
      .optional()
      .describe('Every validation problem found'),
    currentStatus: orderStatusSchema.optional().describe('409 only: the status the order is in'),
    orderId: z.string().optional().describe('422 only: the order the key belongs to'),
  }),
});

const exampleEndpointId = 'we_3c9f1a2b7d4e5f60718293a4';

const webhookEndpointSchema = z.object({
  id: z.string().meta({ description: 'we_ and 24 hex digits', examples: [exampleEndpointId] }),
  url: z.string().describe('Where events are POSTed'),
  events: z.array(z.enum(notificationEventTypes)),
  createdAt: isoTime('When the endpoint was registered'),
});

const createdWebhookEndpointSchema = webhookEndpointSchema.extend({
  secret: z
    .string()
    .describe(
      'The signing secret of this endpoint (whsec_...). Shown in this answer (and its replays) ' +
        'only: keep it to verify the Autopay-Signature header of each event.',
    ),
});

const webhookEndpointListSchema = z.object({
  data: z.array(webhookEndpointSchema).describe("The caller's endpoints, oldest first"),
});

const notificationEventSchema = z.object({
  id: z
    .string()
    .describe(
      'evt_ and 32 hex digits; the same for every delivery of one event: deduplicate by it',
    ),
  type: z.enum(notificationEventTypes),
  created: isoTime('When the change happened'),
  sequence: z
    .number()
    .int()
    .optional()
    .describe("The order's version: a later event of the same order has a larger one"),
  data: z
    .object({
      order: orderViewSchema.optional().describe('The order, for order.* events'),
      agent: z
        .object({ agentId: z.string(), suspended: z.literal(true) })
        .optional()
        .describe('The agent, for agent.suspended'),
      reason: z
        .string()
        .optional()
        .describe('Why the order waits (order.awaiting_confirmation, order.held_for_review)'),
      confirmBy: isoTime('Until when the user can act on a waiting order').optional(),
    })
    .describe('What the event is about'),
});

const gatewayMessageSchema = z
  .object({ message: z.string() })
  .describe('An answer of API Gateway itself, made before any function runs (locally too)');

// Compile-time checks that the shapes above say what the domain returns.
type Writable<T> = T extends readonly (infer U)[]
  ? Writable<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: Writable<T[K]> }
    : T;
/** Identical types, optional fields and all (readonly aside). */
type Same<A, B> =
  (<T>() => T extends Writable<A> ? 1 : 2) extends <T>() => T extends Writable<B> ? 1 : 2
    ? true
    : false;
export const shapesMatchTheDomain: readonly true[] = [
  true satisfies Same<z.output<typeof orderViewSchema>, OrderView>,
  true satisfies Same<z.output<typeof agentViewSchema>, AgentView>,
  true satisfies Same<(typeof confirmationReasons)[number], ConfirmationReason>,
  true satisfies Same<(typeof holdReasons)[number], HoldReason>,
  true satisfies Same<(typeof callbackResults)[number], CallbackOutcome['result']>,
  true satisfies Same<z.output<typeof webhookEndpointSchema>, ReturnType<typeof endpointView>>,
];

// ---------------------------------------------------------------------------------------------
// What each route is: every wiring route needs an entry, and every entry a wiring route.

type SchemaName =
  | 'CreateOrderRequest'
  | 'CreateAgentRequest'
  | 'PatchAgentRequest'
  | 'Agent'
  | 'CreatedAgent'
  | 'AgentList'
  | 'OrderList'
  | 'RefundRequest'
  | 'GatewayEvent'
  | 'Order'
  | 'CallbackAck'
  | 'Error'
  | 'GatewayMessage'
  | 'CreateWebhookEndpointRequest'
  | 'WebhookEndpoint'
  | 'CreatedWebhookEndpoint'
  | 'WebhookEndpointList'
  | 'NotificationEvent';

interface SuccessDoc {
  readonly description: string;
  /** The body's schema; none for an answer without a body (204). */
  readonly schema?: SchemaName;
  /** The answer may be a replay, marked `Idempotent-Replayed: true`. */
  readonly replayed?: true;
}

interface RouteDoc {
  readonly operationId: string;
  readonly tag: 'Orders' | 'Agents' | 'Callbacks' | 'Webhooks';
  /** Path parameters described otherwise than in `pathParameters`. */
  readonly pathParameters?: Readonly<Record<string, object>>;
  readonly summary: string;
  readonly description: string;
  readonly headers?: readonly ('IdempotencyKey' | 'StripeSignature')[];
  readonly query?: readonly (keyof typeof queryParameters)[];
  readonly body?: {
    readonly schema: SchemaName;
    readonly required: boolean;
    /** Checked against the schema by test/unit/openapi.test.ts. */
    readonly example: unknown;
  };
  readonly responses: Readonly<Record<string, SuccessDoc>>;
  /** The codes the route itself can answer; 500 and 503 are added to every route. */
  readonly errors: readonly ErrorCode[];
}

export const routeDocs: Readonly<Record<string, RouteDoc>> = {
  'POST /v1/orders': {
    operationId: 'createOrder',
    tag: 'Orders',
    summary: 'Place an order',
    description:
      'Places an order once per (agent, Idempotency-Key). It is paid automatically ' +
      "(PENDING_PAYMENT) when the agent trusts its action and it is within the agent's limits; " +
      'otherwise it waits for the user (AWAITING_CONFIRMATION, with `reason` and `confirmBy`). ' +
      'The same key and body again answers 200 with the stored order; the same key with another ' +
      'body answers 422. After a 4xx nothing was stored and the key may be reused. The same ' +
      'intent (sessionId, action, items, amount, currency) under a new key within the ' +
      'duplicate window (300 s) waits for the user: reason POSSIBLE_DUPLICATE, `duplicateOf` ' +
      'naming the first order. Each agent has a token bucket of placements (by default 1 a ' +
      'second, a burst of 10); over it, 429 RATE_LIMITED with `Retry-After` and nothing stored. ' +
      'While an operator has paused auto-pay, every order waits (reason AUTOPAY_PAUSED).',
    headers: ['IdempotencyKey'],
    body: {
      schema: 'CreateOrderRequest',
      required: true,
      example: {
        action: 'order_coffee',
        sessionId: 'sess_7d1e',
        items: [{ sku: 'latte', size: 'grande', quantity: 1 }],
        amount: 450,
        currency: 'CNY',
        paymentMethod: 'wallet',
      },
    },
    responses: {
      '202': { description: 'The order was placed', schema: 'Order' },
      '200': {
        description: 'A replay: the order this key placed before, unchanged',
        schema: 'Order',
        replayed: true,
      },
    },
    errors: [
      'MALFORMED_JSON',
      'VALIDATION_FAILED',
      'INVALID_AMOUNT',
      'UNSUPPORTED_CURRENCY',
      'INVALID_PAYMENT_METHOD',
      'IDEMPOTENCY_KEY_REQUIRED',
      'PAYLOAD_TOO_LARGE',
      'IDEMPOTENCY_KEY_REUSED',
      'RATE_LIMITED',
      'FORBIDDEN',
      'AGENT_SUSPENDED',
      'AGENT_NOT_REGISTERED',
    ],
  },
  'GET /v1/orders': {
    operationId: 'listOrders',
    tag: 'Orders',
    summary: 'List orders, newest first',
    description:
      "An agent's token lists the agent's own orders; a user's token the orders of all the " +
      "user's agents, or of one with `agentId`. Read from an index, a page at a time: pass " +
      "the answer's `cursor` to get the next page. A `status` filter applies to each page, " +
      'so a page may hold fewer orders than `limit` while a `cursor` still follows.',
    query: ['status', 'agentId', 'limit', 'cursor'],
    responses: { '200': { description: 'A page of orders', schema: 'OrderList' } },
    errors: ['VALIDATION_FAILED', 'INVALID_CURSOR', 'FORBIDDEN', 'AGENT_NOT_FOUND'],
  },
  'GET /v1/orders/{id}': {
    operationId: 'getOrder',
    tag: 'Orders',
    summary: 'Read an order',
    description:
      "The order with its status, history and last error code, for its agent or the agent's " +
      'user. Any other caller gets 404, as for an order that does not exist.',
    responses: { '200': { description: 'The order', schema: 'Order' } },
    errors: ['ORDER_NOT_FOUND', 'FORBIDDEN'],
  },
  'POST /v1/orders/{id}/confirm': {
    operationId: 'confirmOrder',
    tag: 'Orders',
    summary: 'Confirm an order that waits for the user',
    description:
      'Confirms an order in AWAITING_CONFIRMATION or HELD_FOR_REVIEW and queues its payment ' +
      '(PENDING_PAYMENT). Safe to repeat: confirming again answers 200. After `confirmBy` the ' +
      'order expires and confirming answers 409 CONFIRMATION_EXPIRED; in any other state, 409 ' +
      'ILLEGAL_TRANSITION with `currentStatus`. No body is read.',
    responses: {
      '202': { description: 'Confirmed; the payment is queued', schema: 'Order' },
      '200': {
        description: 'A replay: the order was confirmed before',
        schema: 'Order',
        replayed: true,
      },
    },
    errors: ['ORDER_NOT_FOUND', 'ILLEGAL_TRANSITION', 'CONFIRMATION_EXPIRED', 'FORBIDDEN'],
  },
  'POST /v1/orders/{id}/cancel': {
    operationId: 'cancelOrder',
    tag: 'Orders',
    summary: 'Cancel an order that waits for the user',
    description:
      'Cancels an order in AWAITING_CONFIRMATION or HELD_FOR_REVIEW; it is never charged. ' +
      "The agent's user (confirm scope) may cancel any of their agents' orders; an agent " +
      '(agent scope) only its own, to withdraw one placed by mistake; any other order is 404. ' +
      'Safe to repeat: a cancelled order answers 200 with `Idempotent-Replayed: true`; in any ' +
      'other state, 409 ILLEGAL_TRANSITION with `currentStatus` (a paid order needs the ' +
      "user's refund). No body is read.",
    responses: {
      '200': {
        description: 'The order is CANCELLED (now, or before: then Idempotent-Replayed is true)',
        schema: 'Order',
        replayed: true,
      },
    },
    errors: ['ORDER_NOT_FOUND', 'ILLEGAL_TRANSITION', 'FORBIDDEN'],
  },
  'POST /v1/orders/{id}/refund': {
    operationId: 'refundOrder',
    tag: 'Orders',
    summary: 'Refund a paid order',
    description:
      "Asks the gateway to give a PAID order's money back (REFUND_PENDING, then REFUNDED when " +
      'the gateway confirms). One refund per order: the same Idempotency-Key and body again ' +
      'answers 200; the same key with another body 422; another key, or an order not PAID, 409 ' +
      'with `currentStatus`. The body is optional (empty means `{}`).',
    headers: ['IdempotencyKey'],
    body: {
      schema: 'RefundRequest',
      required: false,
      example: { reason: 'The coffee shop was closed' },
    },
    responses: {
      '202': { description: 'The refund is under way (REFUND_PENDING)', schema: 'Order' },
      '200': {
        description: 'A replay: this refund was requested before',
        schema: 'Order',
        replayed: true,
      },
    },
    errors: [
      'IDEMPOTENCY_KEY_REQUIRED',
      'MALFORMED_JSON',
      'VALIDATION_FAILED',
      'ORDER_NOT_FOUND',
      'ILLEGAL_TRANSITION',
      'PAYLOAD_TOO_LARGE',
      'IDEMPOTENCY_KEY_REUSED',
      'FORBIDDEN',
    ],
  },
  ...agentRouteDocs(),
  'POST /v1/callbacks/{gateway}': {
    operationId: 'gatewayCallback',
    tag: 'Callbacks',
    summary: "The payment gateway's signed event",
    description:
      "For the payment gateway, not for agents. The raw body's Stripe-style signature is " +
      'verified before anything reads it; then one event makes at most one transition. ' +
      "Duplicate, late and out-of-order events are recognised by the order's state and answered " +
      '200, which tells the gateway to stop sending the event; any other answer asks it to retry. ' +
      "In AWS it is served by the callback function's own Lambda function URL, not by the HTTP " +
      "API, so a callback costs no API Gateway request: give the gateway the service stack's " +
      `\`${stackOutputs.callbackUrl}\` output. Any other path or method there answers 404 ` +
      'ROUTE_NOT_FOUND; ' +
      "Lambda itself answers 429 while the function's reserved concurrency is all in use, " +
      'and the gateway retries later.',
    headers: ['StripeSignature'],
    body: {
      schema: 'GatewayEvent',
      required: true,
      example: {
        id: 'evt_1PQx2a',
        type: 'payment.succeeded',
        created: 1717243200,
        data: {
          paymentId: 'pay_9c2f41',
          idempotencyKey: exampleOrderId,
          amount: 450,
          currency: 'CNY',
        },
      },
    },
    responses: {
      '200': { description: 'The event was received and handled', schema: 'CallbackAck' },
    },
    errors: [
      'SIGNATURE_MISSING',
      'SIGNATURE_INVALID',
      'TIMESTAMP_OUT_OF_TOLERANCE',
      'MALFORMED_JSON',
      'VALIDATION_FAILED',
      'UNKNOWN_GATEWAY',
      'ROUTE_NOT_FOUND',
      'PAYLOAD_TOO_LARGE',
    ],
  },
  'POST /v1/webhook-endpoints': {
    operationId: 'createWebhookEndpoint',
    tag: 'Webhooks',
    summary: 'Register a webhook endpoint',
    description:
      "For the user's app. Registers an endpoint once per (user, Idempotency-Key) and answers " +
      'its signing secret: every event is POSTed to `url` with an `Autopay-Signature: ' +
      't=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` header under that secret. The same key ' +
      'and body again answers 200 with the same endpoint and secret; the same key with another ' +
      'body 422. In AWS the URL must be https; the local stack also takes http to 127.0.0.1 or ' +
      'localhost. A user has at most ' +
      `${wiring.functions.webhookEndpoints.environment.WEBHOOK_ENDPOINTS_PER_USER} endpoints.`,
    headers: ['IdempotencyKey'],
    body: {
      schema: 'CreateWebhookEndpointRequest',
      required: true,
      example: {
        url: 'https://example.com/autopay/events',
        events: ['order.awaiting_confirmation', 'order.paid'],
      },
    },
    responses: {
      '201': {
        description: 'Registered; the secret is shown now only',
        schema: 'CreatedWebhookEndpoint',
      },
      '200': {
        description: 'A replay: the endpoint this key registered before, with its secret',
        schema: 'CreatedWebhookEndpoint',
        replayed: true,
      },
    },
    errors: [
      'MALFORMED_JSON',
      'VALIDATION_FAILED',
      'INVALID_WEBHOOK_URL',
      'INVALID_WEBHOOK_EVENTS',
      'IDEMPOTENCY_KEY_REQUIRED',
      'PAYLOAD_TOO_LARGE',
      'WEBHOOK_ENDPOINT_LIMIT_REACHED',
      'IDEMPOTENCY_KEY_REUSED',
    ],
  },
  'GET /v1/webhook-endpoints': {
    operationId: 'listWebhookEndpoints',
    tag: 'Webhooks',
    summary: "List the user's webhook endpoints",
    description: 'Every endpoint of the caller, oldest first; never their secrets.',
    responses: { '200': { description: 'The endpoints', schema: 'WebhookEndpointList' } },
    errors: [],
  },
  'DELETE /v1/webhook-endpoints/{id}': {
    operationId: 'deleteWebhookEndpoint',
    tag: 'Webhooks',
    summary: 'Delete a webhook endpoint',
    description:
      'Stops every delivery to the endpoint, including retries of events already queued. ' +
      "Another user's endpoint, or one deleted already, answers 404.",
    pathParameters: {
      id: {
        description: 'The webhook endpoint id: we_ and 24 hex digits.',
        schema: { type: 'string' },
        example: exampleEndpointId,
      },
    },
    responses: { '204': { description: 'Deleted' } },
    errors: ['WEBHOOK_ENDPOINT_NOT_FOUND'],
  },
};

/** The user's management of their agents: every route needs the user's agents scope. */
function agentRouteDocs(): Record<string, RouteDoc> {
  const settingsErrors: ErrorCode[] = [
    'MALFORMED_JSON',
    'VALIDATION_FAILED',
    'INVALID_AMOUNT',
    'UNSUPPORTED_CURRENCY',
    'PAYLOAD_TOO_LARGE',
  ];
  const exampleAgent = {
    name: 'Coffee runner',
    trustedActions: ['order_coffee', 'submit_payment'],
    perOrderLimit: 5000,
    dailyLimit: 20000,
    limitCurrency: 'CNY',
  };
  const change = (what: string, action: string): RouteDoc => ({
    operationId: `${action}Agent`,
    tag: 'Agents',
    summary: what,
    description:
      `${what}. Applies to the agent's next order (intake and payment read the agent on every ` +
      'order), is kept in its history, and is safe to repeat.',
    responses: { '200': { description: 'The agent after the change', schema: 'Agent' } },
    errors: ['AGENT_NOT_FOUND', 'ILLEGAL_TRANSITION', 'FORBIDDEN'],
  });
  return {
    'POST /v1/agents': {
      operationId: 'createAgent',
      tag: 'Agents',
      summary: 'Create an agent',
      description:
        'Creates an agent owned by the calling user, once per (user, Idempotency-Key). In AWS ' +
        "it gets its own OAuth client (client-credentials grant) in the stack's user pool, " +
        'whose credentials the first answer shows once. The same key and body again answers ' +
        '200 with the agent (without credentials); the same key with another body 422.',
      headers: ['IdempotencyKey'],
      body: { schema: 'CreateAgentRequest', required: true, example: exampleAgent },
      responses: {
        '201': { description: 'The agent was created', schema: 'CreatedAgent' },
        '200': {
          description: 'A replay: the agent this key created before',
          schema: 'Agent',
          replayed: true,
        },
      },
      errors: [
        'IDEMPOTENCY_KEY_REQUIRED',
        ...settingsErrors,
        'IDEMPOTENCY_KEY_REUSED',
        'FORBIDDEN',
      ],
    },
    'GET /v1/agents': {
      operationId: 'listAgents',
      tag: 'Agents',
      summary: "List the user's agents, newest first",
      description: 'Read from an index, a page at a time; pass `cursor` for the next page.',
      query: ['limit', 'cursor'],
      responses: { '200': { description: 'A page of agents', schema: 'AgentList' } },
      errors: ['VALIDATION_FAILED', 'INVALID_CURSOR', 'FORBIDDEN'],
    },
    'GET /v1/agents/{agentId}': {
      operationId: 'getAgent',
      tag: 'Agents',
      summary: 'Read an agent',
      description: "The agent with its settings and history; another user's agent is 404.",
      responses: { '200': { description: 'The agent', schema: 'Agent' } },
      errors: ['AGENT_NOT_FOUND', 'FORBIDDEN'],
    },
    'PATCH /v1/agents/{agentId}': {
      ...change("Change an agent's trust, limits or rate", 'update'),
      description:
        "Change an agent's trust, limits or rate. Applies to the agent's next order (intake " +
        'and payment read the agent on every order) and to its orders paid at once not yet ' +
        'sent to the gateway: one it may no longer pay on its own (its action or ' +
        '`submit_payment` no longer trusted, another limit currency, a per-order limit below ' +
        'its amount) is held (HELD_FOR_REVIEW, with holdReason ACTION_NOT_TRUSTED, ' +
        'LIMIT_CURRENCY_MISMATCH or OVER_ORDER_LIMIT) for its user to confirm or cancel. It is ' +
        'kept in its history and is safe to repeat.',
      body: {
        schema: 'PatchAgentRequest',
        required: true,
        example: { perOrderLimit: 3000, rateLimit: { perSecond: 2, burst: 5 } },
      },
      errors: ['AGENT_NOT_FOUND', 'ILLEGAL_TRANSITION', ...settingsErrors, 'FORBIDDEN'],
    },
    'POST /v1/agents/{agentId}/suspend': change(
      'Suspend an agent: its new orders are refused (403 AGENT_SUSPENDED) and its orders not yet sent to the gateway are held (HELD_FOR_REVIEW, holdReason AGENT_SUSPENDED)',
      'suspend',
    ),
    'POST /v1/agents/{agentId}/resume': change('Resume a suspended agent', 'resume'),
  };
}

/** The query parameters of the listings. */
const queryParameters = {
  status: {
    description: 'Only orders in this status',
    schema: { type: 'string', enum: [...orderStatuses] },
  },
  agentId: {
    description: "Only this agent's orders (a user's token: one of the user's agents)",
    schema: { type: 'string' },
  },
  limit: {
    description: `Items read for the page: 1 to ${MAX_PAGE}, 20 when absent`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 20 },
  },
  cursor: {
    description: "The previous page's `cursor`, as it was given",
    schema: { type: 'string' },
  },
} as const;

/** Answers every route can give: our own failures, and a dependency that is down. */
const everyRouteErrors: readonly ErrorCode[] = ['INTERNAL_ERROR', 'SERVICE_UNAVAILABLE'];

const pathParameters: Readonly<Record<string, object>> = {
  id: {
    description: 'The order id: ord_ and 32 hex digits. Any other value answers 404.',
    schema: { type: 'string' },
    example: exampleOrderId,
  },
  agentId: {
    description: "The agent's id. Another user's agent, or none, answers 404 AGENT_NOT_FOUND.",
    schema: { type: 'string' },
    example: 'demo-agent',
  },
  gateway: {
    description:
      'The name of the gateway that sends callbacks here (GATEWAY_NAME). Any other name ' +
      'answers 404 UNKNOWN_GATEWAY.',
    schema: { type: 'string' },
    example: callbackEnvironment.GATEWAY_NAME,
  },
};

// ---------------------------------------------------------------------------------------------
// The document.

function componentSchemas(policy: IntakePolicy): Record<string, object> {
  const registry = z.registry<{ id: string }>();
  const schemas: Record<SchemaName | 'OrderItem' | 'IdempotencyKey', z.core.$ZodType> = {
    CreateOrderRequest: createOrderSchema(policy),
    CreateAgentRequest: createAgentSchema(policy),
    PatchAgentRequest: patchAgentSchema(policy),
    Agent: agentViewSchema,
    CreatedAgent: createdAgentSchema,
    AgentList: agentListSchema,
    OrderList: orderListSchema,
    OrderItem: orderItemSchema,
    IdempotencyKey: idempotencyKeySchema,
    RefundRequest: refundRequestSchema,
    GatewayEvent: gatewayEventSchema,
    Order: orderViewSchema,
    CallbackAck: callbackAckSchema,
    Error: errorSchema,
    GatewayMessage: gatewayMessageSchema,
    CreateWebhookEndpointRequest: createEndpointSchema(
      wiring.functions.webhookEndpoints.environment.WEBHOOK_URL_POLICY,
    ),
    WebhookEndpoint: webhookEndpointSchema,
    CreatedWebhookEndpoint: createdWebhookEndpointSchema,
    WebhookEndpointList: webhookEndpointListSchema,
    NotificationEvent: notificationEventSchema,
  };
  for (const [id, schema] of Object.entries(schemas)) {
    registry.add(schema, { id });
  }
  const converted = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    // Requests are strict objects, as the handlers parse them (additionalProperties: false);
    // the answers' objects are not, so clients accept fields added later.
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const out: Record<string, object> = {};
  for (const id of Object.keys(schemas)) {
    const { $schema: _dialect, $id: _id, ...schema } = converted.schemas[id] ?? {};
    if (Object.keys(schema).length === 0) {
      throw new Error(`zod produced no JSON Schema for ${id}`);
    }
    out[id] = schema;
  }
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: object, extra: object = {}) => ({
  'application/json': { schema, ...extra },
});

/** What some errors add to their body, for the examples. */
const exampleDetails: Partial<Record<ErrorCode, object>> = {
  VALIDATION_FAILED: { field: 'items.0.quantity' },
  INVALID_AMOUNT: { field: 'amount' },
  UNSUPPORTED_CURRENCY: { field: 'currency' },
  INVALID_PAYMENT_METHOD: { field: 'paymentMethod' },
  ILLEGAL_TRANSITION: { currentStatus: 'FAILED' },
  CONFIRMATION_EXPIRED: { currentStatus: 'EXPIRED' },
  IDEMPOTENCY_KEY_REUSED: { orderId: exampleOrderId },
  RATE_LIMITED: { retryAfterSeconds: 1 },
};

/** An answer in JSON, with named examples. */
interface JsonResponse {
  readonly description: string;
  readonly headers?: object;
  readonly content: {
    readonly 'application/json': { readonly schema: object; readonly examples: object };
  };
}

function errorResponse(status: number, codes: readonly ErrorCode[]): JsonResponse {
  const names = codes.map((code) => `\`${code}\``).join(', ');
  const examples = Object.fromEntries(
    codes.map((code) => [
      code,
      {
        summary: errorCatalogue[code].message,
        value: {
          error: {
            code,
            message: errorCatalogue[code].message,
            requestId: exampleRequestId,
            ...exampleDetails[code],
          },
        },
      },
    ]),
  );
  const schema = {
    allOf: [ref('Error'), { properties: { error: { properties: { code: { enum: codes } } } } }],
  };
  return {
    description: `${statusText(status)}: ${names}`,
    ...(status === 503 || status === 429
      ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } }
      : {}),
    content: { 'application/json': { schema, examples } },
  };
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: 'Bad request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not found',
    405: 'Method not allowed',
    409: 'Conflict',
    413: 'Payload too large',
    415: 'Unsupported media type',
    422: 'Unprocessable',
    429: 'Too many requests',
    500: 'Internal error',
    503: 'Service unavailable',
  };
  const text = texts[status];
  if (text === undefined) throw new Error(`No text for HTTP status ${status}`);
  return text;
}

/** What API Gateway answers itself, as `{"message": ...}`, whatever the function would say. */
interface GatewayAnswer {
  readonly status: number;
  readonly message: string;
  readonly when: string;
  readonly onlyWithPathParameters?: true;
}

const gatewayAnswers: readonly GatewayAnswer[] = [
  {
    status: 400,
    message: 'Bad Request',
    when: 'the path holds a malformed percent-encoding',
    onlyWithPathParameters: true,
  },
  { status: 413, message: 'Request Entity Too Large', when: 'the body is over 10 MB' },
  { status: 500, message: 'Internal Server Error', when: 'the function itself failed' },
];

/** A status the function answers may also come from API Gateway, in its own shape. */
function withGatewayAnswer(
  functionAnswer: JsonResponse | undefined,
  answer: GatewayAnswer,
): JsonResponse {
  const description = `API Gateway's own \`{"message":"${answer.message}"}\` when ${answer.when}`;
  const example = {
    [answer.message]: { summary: answer.when, value: { message: answer.message } },
  };
  if (functionAnswer === undefined) {
    return {
      description: `${statusText(answer.status)}: ${description}`,
      content: { 'application/json': { schema: ref('GatewayMessage'), examples: example } },
    };
  }
  const media = functionAnswer.content['application/json'];
  return {
    ...functionAnswer,
    description: `${functionAnswer.description}; or ${description}`,
    content: {
      'application/json': {
        schema: { anyOf: [media.schema, ref('GatewayMessage')] },
        examples: { ...media.examples, ...example },
      },
    },
  };
}

/** How a deployed stage reaches the operation: through the HTTP API, or a function URL. */
type Entry = 'api' | 'functionUrl';

/** What Lambda answers itself at a function URL, before or instead of the function. */
const functionUrlAnswers: Readonly<Record<number, string>> = {
  413: "Lambda's own answer, not the `Error` schema, when the body is over its 6 MB invocation payload limit",
  429: "Too many requests: Lambda refuses the call before the function runs while the function's reserved concurrency is all in use. The gateway retries later",
};

function responsesOf(route: RouteSpec, doc: RouteDoc, entry: Entry): Record<string, object> {
  const responses: Record<string, object> = {};
  for (const [status, success] of Object.entries(doc.responses)) {
    responses[status] = {
      description: success.description,
      ...(success.replayed
        ? {
            headers: { 'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' } },
          }
        : {}),
      ...(success.schema ? { content: jsonContent(ref(success.schema)) } : {}),
    };
  }
  const answered = new Map<number, JsonResponse>();
  for (const code of [...doc.errors, ...everyRouteErrors]) {
    const status = errorCatalogue[code].status;
    if (!answered.has(status)) {
      const codes = [...doc.errors, ...everyRouteErrors].filter(
        (other) => errorCatalogue[other].status === status,
      );
      answered.set(status, errorResponse(status, codes));
    }
  }
  if (entry === 'functionUrl') {
    return withFunctionUrlAnswers(responses, answered);
  }
  for (const answer of gatewayAnswers) {
    if (answer.onlyWithPathParameters && !route.path.includes('{')) continue;
    answered.set(answer.status, withGatewayAnswer(answered.get(answer.status), answer));
  }
  const byStatus = new Map<number, object>(answered);
  // Answered by API Gateway itself, before any function runs.
  if (route.auth === 'jwt') {
    byStatus.set(401, { $ref: '#/components/responses/Unauthorized' });
  }
  if ((route.scopes ?? []).length > 0) {
    // The authorizer's own 403, beside the function's coded ones where it has some.
    byStatus.set(
      403,
      withGatewayAnswer(answered.get(403), {
        status: 403,
        message: 'Forbidden',
        when: `the token holds none of the route's scopes (${(route.scopes ?? []).join(', ')})`,
      }),
    );
  }
  const ownThrottling = answered.get(429);
  byStatus.set(
    429,
    ownThrottling === undefined
      ? { $ref: '#/components/responses/Throttled' }
      : withGatewayAnswer(ownThrottling, {
          status: 429,
          message: 'Too Many Requests',
          when: "the route's throttling refuses the request before any function runs",
        }),
  );
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    responses[String(status)] = byStatus.get(status) ?? {};
  }
  return responses;
}

/** A function URL's answers: the function's, and Lambda's own where it answers first. */
function withFunctionUrlAnswers(
  responses: Record<string, object>,
  answered: ReadonlyMap<number, JsonResponse>,
): Record<string, object> {
  const byStatus = new Map<number, object>(answered);
  for (const [status, description] of Object.entries(functionUrlAnswers)) {
    const functionAnswer = answered.get(Number(status));
    byStatus.set(
      Number(status),
      functionAnswer === undefined
        ? { description }
        : { ...functionAnswer, description: `${functionAnswer.description}; or ${description}` },
    );
  }
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    responses[String(status)] = byStatus.get(status) ?? {};
  }
  return responses;
}

function operationOf(route: RouteSpec, doc: RouteDoc, entry: Entry): object {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((found) => found[1] ?? '');
  const parameters: object[] = names.map((name) => {
    const parameter = doc.pathParameters?.[name] ?? pathParameters[name];
    if (parameter === undefined) {
      throw new Error(`Path parameter {${name}} of ${route.path} has no description in openapi.ts`);
    }
    return { name, in: 'path', required: true, ...parameter };
  });
  for (const header of doc.headers ?? []) {
    parameters.push({ $ref: `#/components/parameters/${header}` });
  }
  for (const name of doc.query ?? []) {
    parameters.push({ name, in: 'query', required: false, ...queryParameters[name] });
  }
  return {
    operationId: doc.operationId,
    tags: [doc.tag],
    summary: doc.summary,
    description: doc.description,
    // The authorizer admits a token holding any one of the route's scopes: in OpenAPI that is
    // one security requirement per scope (the requirements of the list are alternatives).
    security:
      route.auth !== 'jwt'
        ? []
        : route.scopes && route.scopes.length > 0
          ? route.scopes.map((scope) => ({ bearerJwt: [scope] }))
          : [{ bearerJwt: [] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: doc.body.required,
            content: jsonContent(ref(doc.body.schema), { example: doc.body.example }),
          },
        }
      : {}),
    responses: responsesOf(route, doc, entry),
  };
}

function pathsOf(): Record<string, Record<string, object>> {
  const paths: Record<string, Record<string, object>> = {};
  const documented = new Set<string>();
  const entries = Object.values(functionSpecs).flatMap((spec) => [
    ...spec.routes.map((route) => ({ route, entry: 'api' as const })),
    ...(spec.functionUrl ? [{ route: spec.functionUrl, entry: 'functionUrl' as const }] : []),
  ]);
  for (const { route, entry } of entries) {
    const key = `${route.method} ${route.path}`;
    const doc = routeDocs[key];
    if (doc === undefined) {
      throw new Error(
        `The wiring has the route ${key} but local/tools/openapi.ts does not document it: add it to routeDocs.`,
      );
    }
    documented.add(key);
    const item: Record<string, object> = paths[route.path] ?? {};
    item[route.method.toLowerCase()] = operationOf(route, doc, entry);
    if (entry === 'functionUrl') item.servers = functionUrlServers(route);
    paths[route.path] = item;
  }
  const stale = Object.keys(routeDocs).filter((key) => !documented.has(key));
  if (stale.length > 0) {
    throw new Error(
      `local/tools/openapi.ts documents routes the wiring does not have: ${stale.join(', ')}`,
    );
  }
  return paths;
}

function packageInfo(): { version: string; license: string } {
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
    version?: unknown;
    license?: unknown;
  };
  if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
  if (typeof pkg.license !== 'string') throw new Error('package.json has no license');
  return { version: pkg.version, license: pkg.license };
}

/** The local API first: it is the one a reader can call without deploying anything. */
function servers(): object[] {
  return [
    {
      url: 'http://127.0.0.1:{port}',
      description: '`npm start` on this machine (set PORT to change the port)',
      variables: { port: { default: '3000' } },
    },
    {
      url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
      description: "A deployed stage: the HTTP API's $default stage (the service stack's API id)",
      variables: {
        apiId: { default: 'your-api-id', description: 'The HTTP API id of the deployed stage' },
        region: { default: 'us-east-1', description: 'The AWS region it is deployed in' },
      },
    },
  ];
}

/**
 * Where a function URL's path is served: the local API as every other path, and in AWS the
 * function's own URL (the service stack's output) instead of the HTTP API.
 */
function functionUrlServers(route: FunctionUrlSpec): object[] {
  const [local] = servers();
  return [
    local ?? {},
    {
      url: 'https://{urlId}.lambda-url.{region}.on.aws',
      description:
        `A deployed stage: the Lambda function URL that serves ${route.method} ${route.path} ` +
        `(the service stack output \`${stackOutputs.callbackUrl}\` is the whole URL), not the HTTP API`,
      variables: {
        urlId: { default: 'your-url-id', description: "The function URL's id in its host name" },
        region: { default: 'us-east-1', description: 'The AWS region it is deployed in' },
      },
    },
  ];
}

/** What autopay POSTs to a registered endpoint: one operation per event type. */
function notificationWebhooks(): Record<string, object> {
  return Object.fromEntries(
    notificationEventTypes.map((type) => [
      type,
      {
        post: {
          operationId: `event_${type.replace('.', '_')}`,
          tags: ['Webhooks'],
          summary: `The ${type} event`,
          // Authenticated by its signature, which the receiver checks.
          security: [],
          description:
            'Sent at least once, with retries and backoff until the endpoint answers 2xx ' +
            '(about 40 minutes of tries). Verify `Autopay-Signature` over the raw body before ' +
            'reading it, and deduplicate by `id`; order the events of one order by `sequence`.',
          parameters: [
            {
              name: 'Autopay-Signature',
              in: 'header',
              required: true,
              description:
                '`t=<unix>,v1=<hex>`: the hex HMAC-SHA256 of `"<t>.<raw body>"` under the ' +
                "endpoint's signing secret.",
              schema: { type: 'string' },
            },
          ],
          requestBody: {
            required: true,
            content: jsonContent({
              allOf: [ref('NotificationEvent'), { properties: { type: { const: type } } }],
            }),
          },
          responses: {
            '200': { description: 'Any 2xx: received. Anything else, or no answer: sent again' },
          },
        },
      },
    ]),
  );
}

/** The OpenAPI 3.1 document of autopay's HTTP API, built from the code; deterministic. */
export function buildOpenApi(): object {
  const policy = intakePolicyFromWiring();
  const tolerance = callbackEnvironment.WEBHOOK_TOLERANCE_SECONDS;
  const { version, license } = packageInfo();
  return {
    openapi: '3.1.0',
    info: {
      title: 'autopay',
      version,
      license: { name: license },
      summary: 'A serverless payment pipeline for AI agents.',
      description:
        'Agents place orders that are paid automatically within the limits their users set, or ' +
        'wait for the user to confirm them. Amounts are integers in minor units of the ' +
        `currency (450 = 4.50 CNY), at most ${policy.maxOrderAmount}; currencies: ` +
        `${policy.supportedCurrencies.join(', ')}. Bodies are JSON, at most ${MAX_BODY_BYTES} ` +
        `bytes. Every string a request carries, header or body, must have ${textRule}: ` +
        'anything else answers 400 and changes nothing. Every error answered by a function has the shape of the `Error` schema with a ' +
        'stable `code`; 401 and throttling are answered by API Gateway itself as ' +
        '`{"message": ...}`, and so is a path or method no operation here lists: 404 ' +
        '`{"message":"Not Found"}` (the `GatewayMessage` schema), except under `/v1/callbacks/`, whose function answers 404 ROUTE_NOT_FOUND itself. This document is generated by `npm run openapi` from the schemas ' +
        'the handlers validate with: do not edit it by hand.',
    },
    servers: servers(),
    tags: [
      { name: 'Orders', description: "An agent's orders: place, read, confirm, cancel, refund" },
      { name: 'Agents', description: "A user's agents: create, read, change, suspend, resume" },
      { name: 'Callbacks', description: "The payment gateway's signed settlement events" },
      { name: 'Webhooks', description: "The user's webhook endpoints and the events sent to them" },
    ],
    paths: pathsOf(),
    webhooks: notificationWebhooks(),
    components: {
      schemas: componentSchemas(policy),
      securitySchemes: {
        bearerJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "An access token admitted by the HTTP API's JWT authorizer. An agent's token (the " +
            `client-credentials grant of its own client; \`${AGENT_SCOPE}\`) has the agent id ` +
            "as `sub` and reaches only the agent's own orders. A user's token (the user's app; " +
            `\`${USER_SCOPES.join('`, `')}\`) reaches the user's agents and their orders. ` +
            'Locally: `npm run -s token -- <agentId>`, `npm run -s token -- --user <userId>`.',
        },
      },
      parameters: {
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: true,
          description:
            'Makes the request safe to retry: the same key and body answer the stored result ' +
            '(200, `Idempotent-Replayed: true`); the same key with another body answers 422 ' +
            'IDEMPOTENCY_KEY_REUSED. Missing or invalid: 400 IDEMPOTENCY_KEY_REQUIRED.',
          schema: ref('IdempotencyKey'),
          example: 'coffee-2024-06-01-0001',
        },
        StripeSignature: {
          name: 'Stripe-Signature',
          in: 'header',
          required: true,
          description:
            '`t=<unix>,v1=<hex>`: `t` is the signing time in Unix seconds and each `v1` the hex ' +
            'HMAC-SHA256 of `"<t>.<raw body>"` under a webhook signing secret. Several `v1` ' +
            'values are accepted (one per secret while a secret rotates); other schemes are ' +
            `ignored. \`t\` must be within ${tolerance} s of our clock. Missing or malformed: ` +
            '400 SIGNATURE_MISSING; no v1 matches: SIGNATURE_INVALID; too old or new: ' +
            'TIMESTAMP_OUT_OF_TOLERANCE.',
          schema: { type: 'string' },
          example:
            't=1717243200,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd',
        },
      },
      headers: {
        IdempotentReplayed: {
          description:
            '`true` when the answer is a replay of an earlier request with the same ' +
            'Idempotency-Key and body (or of the same confirm or cancel): nothing changed now.',
          schema: { type: 'string', const: 'true' },
        },
        RetryAfter: {
          description:
            'Seconds to wait before retrying with the same Idempotency-Key (503), or before the ' +
            "agent's token bucket admits another order (429).",
          schema: { type: 'string', pattern: '^\\d+$' },
        },
      },
      responses: {
        Unauthorized: {
          description:
            'No token, or a bad or expired one: the JWT authorizer answers before any function ' +
            'runs, with `{"message":"Unauthorized"}` and no error code.',
          headers: {
            'WWW-Authenticate': { schema: { type: 'string' }, example: 'Bearer' },
          },
          content: jsonContent(ref('GatewayMessage'), { example: { message: 'Unauthorized' } }),
        },
        Throttled: {
          description:
            'Too many requests: API Gateway\'s route throttling answers `{"message":"Too Many ' +
            'Requests"}` before any function runs. Retry later with the same Idempotency-Key.',
          content: jsonContent(ref('GatewayMessage'), {
            example: { message: 'Too Many Requests' },
          }),
        },
      },
    },
  };
}

/** The document as written to docs/openapi.json and served locally at GET /openapi.json. */
export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
}

const runAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runAsScript) {
  writeFileSync(openApiFile, renderOpenApi());
  process.stdout.write(`Wrote ${openApiFile}\n`);
}
