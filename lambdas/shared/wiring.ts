/**
 * The one description of how autopay is wired: its functions, their HTTP routes, the queues and
 * the event source mappings between them. `infra/` builds the CDK stack from it and `local/`
 * builds the local API and queue pollers from it, so the two cannot drift apart.
 *
 * It is plain data: no CDK and no SDK imports, so both sides can read it cheaply.
 */

import { type ItemKind, indexAttributes, OWNER_INDEX } from '../adapters/table-keys.ts';
import { metricNamespace } from './metric-names.ts';
import { callbackFunctionUrl, type FunctionUrlSpec, type HttpMethod } from './paths.ts';
import {
  AGENT_SCOPE,
  AGENTS_SCOPE,
  CONFIRM_SCOPE,
  REFUND_SCOPE,
  USER_SCOPE,
  WEBHOOKS_SCOPE,
} from './scopes.ts';

export * from './paths.ts';
export * from './scopes.ts';

export interface RouteSpec {
  readonly method: HttpMethod;
  /** API Gateway route path, with `{name}` path parameters. */
  readonly path: string;
  /** `jwt`: the HTTP API's JWT authorizer (locally: the local token verifier) admits the caller. */
  readonly auth: 'jwt' | 'none';
  /**
   * OAuth scopes of which the token must carry at least one (API Gateway's rule for a JWT
   * authorizer's route scopes); every `jwt` route names its own.
   */
  readonly scopes?: readonly string[];
}

export interface TableAccess {
  readonly writes: readonly ItemKind[];
}

export interface QueueSpec {
  /** Longer than six times the timeout of the function that consumes it (the AWS guidance). */
  readonly visibilityTimeoutSeconds: number;
  /** Deliveries before a message moves to the queue's dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Days SQS keeps a message in the queue, counted from when it was first sent. */
  readonly retentionDays: number;
  /**
   * Days the dead-letter queue keeps a message, counted from when it was first sent to the
   * queue: SQS keeps a standard queue's enqueue timestamp when it moves a message to its DLQ. So
   * longer than `retentionDays`, and at most SQS's 14; a dead message is kept at least the
   * difference after it moved (the DLQ's `DeadLetterAge` alarm fires at half of it).
   */
  readonly dlqRetentionDays: number;
}

export interface EventSourceSpec {
  readonly queue: QueueName;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Upper bound of concurrent invocations this mapping makes (2 to 1000 in AWS). */
  readonly maxConcurrency: number;
  readonly reportBatchItemFailures: true;
}

/**
 * The table's change stream as an event source (Lambda's DynamoDB Streams mapping): a change
 * that keeps failing is retried, then bisected, then its record goes to an on-failure queue.
 */
export interface StreamSourceSpec {
  /** Only changes of items of these kinds invoke the function (an event filter on `pk`). */
  readonly itemKinds: readonly ItemKind[];
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly retryAttempts: number;
  /** Records of changes that still fail go to this queue's dead-letter queue. */
  readonly onFailure: QueueName;
  readonly bisectBatchOnError: true;
  readonly reportBatchItemFailures: true;
}

export interface FunctionSpec {
  /** The handler file, relative to the project root; its export is always `handler`. */
  readonly entry: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Static settings; the platform adds TABLE_NAME and the queue URLs named in `sendsTo`. */
  readonly environment: Readonly<Record<string, string>>;
  readonly routes: readonly RouteSpec[];
  /** Served at the function's own URL rather than through the HTTP API. */
  readonly functionUrl?: FunctionUrlSpec;
  /**
   * `none`, or read access to the whole table and write access (PutItem, UpdateItem) to the items
   * of the kinds listed, by their key prefix (lambdas/adapters/table-keys.ts) and nothing else.
   */
  readonly table: 'none' | TableAccess;
  /** Environment variable name → the queue whose URL it carries; the function may send to it. */
  readonly sendsTo: Readonly<Record<string, QueueName>>;
  /**
   * The queue the function consumes. The platform also sets the queue's URL and its
   * maxReceiveCount (see `queueVariables`), since a consumer returns its own messages for later.
   */
  readonly consumes?: EventSourceSpec;
  /** The table's change stream, which the function reads. */
  readonly streams?: StreamSourceSpec;
  /**
   * Environment variable name → the queue whose dead-letter queue's URL it carries; the function
   * may receive from it and show what it received again (never delete: the messages stay for
   * the alarm and the redrive).
   */
  readonly readsDeadLetters?: Readonly<Record<string, QueueName>>;
  /** Environment variable name → the secret whose id it carries; the function may read it. */
  readonly secrets?: Readonly<Record<string, SecretName>>;
  /** Environment variable name → the third-party service whose base URL it carries. */
  readonly endpoints?: Readonly<Record<string, ExternalService>>;
  /** Run on a schedule (EventBridge in AWS, a timer locally). */
  readonly schedule?: { readonly rateMinutes: number };
  /** Secrets this function rotates (it is their Secrets Manager rotation function). */
  readonly rotates?: readonly SecretName[];
  /**
   * Concurrent executions kept for this function alone, whatever the others do (Lambda's
   * reserved concurrency); it is also the most it runs at once. The account must keep at least
   * 100 unreserved besides every stage's reservations (`npm run ops -- preflight` checks).
   */
  readonly reservedConcurrency?: number;
  /**
   * Environment variable name → the user pool whose id it carries; the function may create and
   * delete the pool's app clients (one per agent).
   */
  readonly userPool?: string;
}

/**
 * `riskEngineCredentials` is a JSON `{"SecretId", "SecretKey"}`: a Tencent Cloud CAM key pair,
 * managed in CAM and replaced there by an operator, never rotated by autopay.
 * `webhookEndpointKey` is the key every webhook endpoint's signing secret is derived from. It is
 * never rotated on a schedule: a new key would change every endpoint's secret at once.
 */
export const secretNames = [
  'gatewayApiKey',
  'webhookSigningSecret',
  'riskEngineCredentials',
  'webhookEndpointKey',
] as const;
export type SecretName = (typeof secretNames)[number];

/** Secrets kept on purpose without scheduled rotation by autopay, and why. */
export const unrotatedSecrets: Readonly<Partial<Record<SecretName, string>>> = {
  riskEngineCredentials:
    'Rotated outside AWS. A Tencent Cloud CAM API key pair: CAM issues and disables it, and ' +
    'offers autopay no call to issue its own replacement; an operator replaces it ' +
    '(docs/OPERATIONS.md).',
  webhookEndpointKey:
    'Every webhook endpoint signing secret is derived from this key, so rotating it on a ' +
    'schedule would change every user endpoint secret at once and break their signature ' +
    'checks; it is encrypted with the customer managed secrets key and read by two functions.',
};

/** Services outside autopay; their URLs come from CDK context, or from the local simulators. */
export const externalServices = ['paymentGateway', 'riskEngine'] as const;
export type ExternalService = (typeof externalServices)[number];

export interface IndexSpec {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /**
   * `all`: every attribute, so a query answers alone; `keys`: the keys only, so later updates of
   * an item (which change no key) never write to the index.
   */
  readonly projection: 'all' | 'keys';
}

export interface TableSpec {
  readonly partitionKey: string;
  readonly ttlAttribute: string;
  /** Global secondary indexes, all with string keys. */
  readonly indexes: readonly IndexSpec[];
  /** The change stream the notifications are read from: each change with both its images. */
  readonly stream: 'NEW_AND_OLD_IMAGES';
}

export const queueNames = ['paymentSubmission', 'settlementCheck', 'notification'] as const;
export type QueueName = (typeof queueNames)[number];

export interface Wiring {
  readonly service: string;
  /** Days between automatic rotations of every secret. */
  readonly rotationDays: number;
  readonly table: TableSpec;
  readonly queues: Readonly<Record<QueueName, QueueSpec>>;
  readonly functions: Readonly<Record<string, FunctionSpec>>;
}

/**
 * When the order of a voided payment is looked up again, in seconds after the void (the first
 * lookup, `SETTLEMENT_INTERVAL_SECONDS` after it, comes by a delayed check): then once the
 * gateway can no longer capture. Stripe cancels an uncaptured card authorization after 7 days for
 * most online card payments; a stage with extended authorizations (up to 30 days) raises it.
 */
const voidLookups = {
  SETTLEMENT_VOID_LOOKUP_SECONDS: '3600,86400',
  GATEWAY_CAPTURE_WINDOW_SECONDS: '604800',
} as const;

/** Settings every function shares (Powertools reads these names). */
/** How the settlement of a PENDING payment is checked; read by every function that settles. */
const settlement = {
  SETTLEMENT_FIRST_CHECK_SECONDS: '60',
  SETTLEMENT_INTERVAL_SECONDS: '300',
  SETTLEMENT_CHECKS: '5',
  ...voidLookups,
} as const;

const gateway = {
  GATEWAY_NAME: 'simulator',
  GATEWAY_TIMEOUT_MS: '2000',
  SECRET_MAX_AGE_SECONDS: '300',
} as const;

/** Where webhook endpoints may point in AWS, and how many one user may have. */
const webhookEndpointSettings = {
  WEBHOOK_URL_POLICY: 'https',
  WEBHOOK_ENDPOINTS_PER_USER: '10',
} as const;

const retries = { BACKOFF_BASE_SECONDS: '1', BACKOFF_MAX_SECONDS: '300' } as const;

/**
 * How Lambda ships every function's logs: JSON, so Lambda can filter by level; its own system
 * lines (START, END, REPORT, with the X-Ray line) only from WARN up, since each invocation's
 * would otherwise cost more log bytes than the function's own (docs/BENCHMARKS.md). Duration and
 * memory stay in Lambda's metrics; an operator lowers `systemLogLevel` to INFO to see REPORT
 * lines again (docs/OPERATIONS.md). The application level is the functions' own.
 */
export const lambdaLogging = {
  format: 'JSON',
  systemLogLevel: 'WARN',
  applicationLogLevel: 'INFO',
} as const;

const common = {
  POWERTOOLS_SERVICE_NAME: 'autopay',
  POWERTOOLS_METRICS_NAMESPACE: metricNamespace,
  POWERTOOLS_LOG_LEVEL: lambdaLogging.applicationLogLevel,
  // How long an order may wait in each state before the sweep treats it as stuck.
  PAYMENT_DEADLINE_SECONDS: '900',
  REFUND_DEADLINE_SECONDS: '900',
  REVIEW_DEADLINE_SECONDS: '86400',
  // How long after entering PENDING_PAYMENT an order may still be charged; then it fails.
  PAYMENT_WINDOW_SECONDS: '86400',
  // Every AWS SDK call is cut at these and retried by the SDK (three attempts, four for DynamoDB
  // in its newer releases), so a hung call fails within about 7 s, inside the shortest timeout
  // of a function that calls AWS (10 s). Answers take milliseconds when all is well.
  AWS_CONNECTION_TIMEOUT_MS: '1000',
  AWS_REQUEST_TIMEOUT_MS: '1500',
} as const;

/** The currencies and the largest amount autopay accepts: orders, and agents' limits. */
const money = {
  SUPPORTED_CURRENCIES: 'CNY,USD,EUR,GBP,JPY,HKD,SGD',
  MAX_ORDER_AMOUNT: '1000000',
} as const;

/**
 * Orders, and the agent's spend of the day: each function that can end an unpaid order (FAILED,
 * CANCELLED, EXPIRED, REFUNDED) may give its amount back to the daily auto-pay budget. Never an
 * agent's profile.
 */
const movesOrders: TableAccess = { writes: ['order', 'spend'] };

/** How often the sweep runs in AWS. */
const sweepRateMinutes = 5;

export const wiring = {
  service: 'autopay',
  rotationDays: 30,
  table: {
    partitionKey: 'pk',
    ttlAttribute: 'expiresAt',
    // Sparse: only orders waiting for something carry dueShard, so the sweep never scans.
    indexes: [
      { name: 'due', partitionKey: 'dueShard', sortKey: 'dueAt', projection: 'all' },
      // The listings, newest first: a user's agents and their orders (an agent's among them).
      {
        name: OWNER_INDEX,
        partitionKey: indexAttributes.owner,
        sortKey: 'createdAt',
        projection: 'keys',
      },
    ],
    stream: 'NEW_AND_OLD_IMAGES',
  },
  queues: {
    paymentSubmission: {
      visibilityTimeoutSeconds: 180,
      maxReceiveCount: 8,
      // A paused payment must not lose its message: a pause may last up to a week
      // (PaymentMessageAge alarms at 6 h). Each day more would be a day less in the DLQ, which
      // SQS counts from the same first send and keeps 14 days at most: a message dead-lettered
      // at the end of a week's pause is still kept 7 days for its alarm and a redrive.
      retentionDays: 7,
      dlqRetentionDays: 14,
    },
    settlementCheck: {
      visibilityTimeoutSeconds: 180,
      maxReceiveCount: 8,
      retentionDays: 4,
      dlqRetentionDays: 14,
    },
    // With the delivery's backoff (2 s doubling to 15 min), about 40 minutes of tries.
    notification: {
      visibilityTimeoutSeconds: 180,
      maxReceiveCount: 12,
      retentionDays: 4,
      dlqRetentionDays: 14,
    },
  },
  functions: {
    // Memory per function: the smallest the measured CPU time allows within a latency bound
    // (docs/BENCHMARKS.md, "Memory per function"; `npm run bench` says when the model disagrees).
    orderIntake: {
      entry: 'lambdas/handlers/order-intake.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      environment: {
        ...common,
        ...money,
        CONFIRMATION_WINDOW_SECONDS: '300',
        // The guards: the same intent under a new key within the window waits for the user;
        // each agent's token bucket, unless its profile sets its own; how stale a pause may be.
        DUPLICATE_WINDOW_SECONDS: '300',
        AGENT_RATE_PER_SECOND: '1',
        AGENT_RATE_BURST: '10',
        CONTROL_CACHE_SECONDS: '2',
      },
      routes: [
        { method: 'POST', path: '/v1/orders', auth: 'jwt', scopes: [AGENT_SCOPE] },
        { method: 'GET', path: '/v1/orders', auth: 'jwt', scopes: [AGENT_SCOPE, USER_SCOPE] },
        { method: 'GET', path: '/v1/orders/{id}', auth: 'jwt', scopes: [AGENT_SCOPE, USER_SCOPE] },
      ],
      // The order, and in the same transaction the agent-day item: spend, token bucket, intents.
      table: { writes: ['order', 'spend'] },
      sendsTo: { PAYMENT_SUBMISSION_QUEUE_URL: 'paymentSubmission' },
      // Intake stays open while the queue consumers and the webhook scale: 20 instances of a
      // ~100 ms function answer some 200 requests a second, above the API's default rate (50).
      reservedConcurrency: 20,
    },
    paymentSubmission: {
      entry: 'lambdas/handlers/payment-submission.ts',
      memoryMb: 256,
      timeoutSeconds: 30,
      environment: {
        ...common,
        ...gateway,
        ...settlement,
        ...retries,
        // Tencent Cloud RCE: the region of the X-TC-Region header, and the scene (created in
        // the RCE console) payments are judged under; e_activity_antirush is Tencent's default.
        RISK_REGION: 'ap-guangzhou',
        RISK_SCENE_CODE: 'e_activity_antirush',
        RISK_TIMEOUT_MS: '1000',
        RISK_MAX_ATTEMPTS: '3',
        RISK_RETRY_DELAY_MS: '100',
        RISK_FAIL_OPEN_LIMIT: '5000',
        BREAKER_WINDOW_SECONDS: '10',
        BREAKER_FAILURE_RATE: '0.5',
        BREAKER_MINIMUM_VOLUME: '20',
        BREAKER_OPEN_SECONDS: '30',
      },
      routes: [],
      // The circuit breaker's state is shared by every instance, in the table.
      table: { writes: [...movesOrders.writes, 'breaker'] },
      sendsTo: { SETTLEMENT_CHECK_QUEUE_URL: 'settlementCheck' },
      consumes: {
        queue: 'paymentSubmission',
        batchSize: 10,
        // No window: at the bench's load a 1 s window cut invocations from 0.72 to 0.26 per paid
        // order but each message gathered cost its own receive (SQS 1.44 → 1.80), about $0.10 per
        // million saved in all; and AWS documents that with a window a queue with little traffic
        // may wait up to 20 s before invoking, which an agent waiting for PAID would see.
        maxBatchingWindowSeconds: 0,
        maxConcurrency: 5,
        reportBatchItemFailures: true,
      },
      secrets: {
        GATEWAY_API_KEY_SECRET_ID: 'gatewayApiKey',
        RISK_CREDENTIALS_SECRET_ID: 'riskEngineCredentials',
      },
      endpoints: { GATEWAY_URL: 'paymentGateway', RISK_ENGINE_URL: 'riskEngine' },
    },
    orderLifecycle: {
      entry: 'lambdas/handlers/order-lifecycle.ts',
      memoryMb: 512,
      timeoutSeconds: 10,
      environment: { ...common },
      routes: [
        { method: 'POST', path: '/v1/orders/{id}/confirm', auth: 'jwt', scopes: [CONFIRM_SCOPE] },
        // Cancelling moves no money: the agent may withdraw its own waiting order.
        {
          method: 'POST',
          path: '/v1/orders/{id}/cancel',
          auth: 'jwt',
          scopes: [CONFIRM_SCOPE, AGENT_SCOPE],
        },
        { method: 'POST', path: '/v1/orders/{id}/refund', auth: 'jwt', scopes: [REFUND_SCOPE] },
      ],
      table: movesOrders,
      sendsTo: {
        PAYMENT_SUBMISSION_QUEUE_URL: 'paymentSubmission',
        SETTLEMENT_CHECK_QUEUE_URL: 'settlementCheck',
      },
    },
    agents: {
      entry: 'lambdas/handlers/agents.ts',
      memoryMb: 512,
      timeoutSeconds: 10,
      // An agent's limits are in a currency orders may use, and bounded as orders are.
      environment: { ...common, ...money },
      routes: [
        { method: 'POST', path: '/v1/agents', auth: 'jwt', scopes: [AGENTS_SCOPE] },
        { method: 'GET', path: '/v1/agents', auth: 'jwt', scopes: [AGENTS_SCOPE] },
        { method: 'GET', path: '/v1/agents/{agentId}', auth: 'jwt', scopes: [AGENTS_SCOPE] },
        { method: 'PATCH', path: '/v1/agents/{agentId}', auth: 'jwt', scopes: [AGENTS_SCOPE] },
        {
          method: 'POST',
          path: '/v1/agents/{agentId}/suspend',
          auth: 'jwt',
          scopes: [AGENTS_SCOPE],
        },
        {
          method: 'POST',
          path: '/v1/agents/{agentId}/resume',
          auth: 'jwt',
          scopes: [AGENTS_SCOPE],
        },
      ],
      // The only writer of agent profiles, and of the records that make their creation idempotent.
      table: { writes: ['agent', 'agentRequest'] },
      sendsTo: {},
      userPool: 'USER_POOL_ID',
    },
    settlementCallback: {
      entry: 'lambdas/handlers/settlement-callback.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      environment: {
        ...common,
        ...settlement,
        GATEWAY_NAME: gateway.GATEWAY_NAME,
        SECRET_MAX_AGE_SECONDS: gateway.SECRET_MAX_AGE_SECONDS,
        WEBHOOK_TOLERANCE_SECONDS: '300',
        // How long a replaced signing secret still verifies after its rotation finished, and the
        // new one of a rotation that never finished after its creation.
        WEBHOOK_PREVIOUS_GRACE_SECONDS: '86400',
        WEBHOOK_PENDING_GRACE_SECONDS: '3600',
      },
      routes: [],
      // Authenticated by its signature alone: the gateway holds no token of ours, so nothing at
      // the edge needs API Gateway, whose request charge would be one more per paid order.
      functionUrl: callbackFunctionUrl,
      table: movesOrders,
      sendsTo: { SETTLEMENT_CHECK_QUEUE_URL: 'settlementCheck' },
      secrets: { WEBHOOK_SECRET_ID: 'webhookSigningSecret' },
      // Anyone may call a function URL: this bounds what a flood of forged callbacks can run at
      // once (and cost), ~100 callbacks a second at ~100 ms; beyond it Lambda answers 429 and the
      // gateway retries later. A stage sets its own with the `callbackConcurrency` context value.
      reservedConcurrency: 10,
    },
    settlementReconciler: {
      entry: 'lambdas/handlers/settlement-reconciler.ts',
      memoryMb: 512,
      timeoutSeconds: 30,
      environment: { ...common, ...gateway, ...settlement, ...retries },
      routes: [],
      table: movesOrders,
      sendsTo: {
        PAYMENT_SUBMISSION_QUEUE_URL: 'paymentSubmission',
        SETTLEMENT_CHECK_QUEUE_URL: 'settlementCheck',
      },
      consumes: {
        queue: 'settlementCheck',
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: 5,
        reportBatchItemFailures: true,
      },
      secrets: { GATEWAY_API_KEY_SECRET_ID: 'gatewayApiKey' },
      endpoints: { GATEWAY_URL: 'paymentGateway' },
    },
    keyRotation: {
      entry: 'lambdas/handlers/key-rotation.ts',
      memoryMb: 256,
      timeoutSeconds: 30,
      environment: { ...common, GATEWAY_TIMEOUT_MS: gateway.GATEWAY_TIMEOUT_MS },
      routes: [],
      table: 'none',
      sendsTo: {},
      secrets: {
        GATEWAY_API_KEY_SECRET_ID: 'gatewayApiKey',
        WEBHOOK_SECRET_ID: 'webhookSigningSecret',
      },
      rotates: ['gatewayApiKey', 'webhookSigningSecret'],
      endpoints: { GATEWAY_URL: 'paymentGateway' },
    },
    sweep: {
      entry: 'lambdas/handlers/sweep.ts',
      memoryMb: 512,
      timeoutSeconds: 60,
      environment: {
        ...common,
        SETTLEMENT_CHECKS: settlement.SETTLEMENT_CHECKS,
        ...voidLookups,
        SWEEP_BATCH_SIZE: '500',
        // Times one order is set moving again before it is left, with its reason, to a person.
        SWEEP_REDRIVE_LIMIT: '10',
        // Stripe replays a request's first answer under its key, a 500 included, until it prunes
        // the key, at least 24 hours after: a refund whose budget is spent is sent again from the
        // due index this long after the give-up, with a fresh budget, up to
        // SWEEP_REFUND_KEY_WINDOWS times, before it is left to a person.
        GATEWAY_IDEMPOTENCY_KEY_WINDOW_SECONDS: '90000',
        SWEEP_REFUND_KEY_WINDOWS: '3',
        SWEEP_EVERY_SECONDS: String(sweepRateMinutes * 60),
        // Dead payment messages read per run, for orders paid at once that never got a `dueAt`:
        // enough for a walk through the whole DLQ in SWEEP_DEAD_LETTER_CYCLE_RUNS runs, within
        // these bounds. Each one read stays hidden until the walk is through (12 hours at most),
        // so that the runs read the ones behind it: every one of up to 12,000 dead messages is
        // read within an hour, of up to SQS's ~120,000 in flight within 12 hours. A redrive moves
        // a hidden message once it shows again.
        SWEEP_DEAD_LETTER_BATCH_SIZE: '100',
        SWEEP_DEAD_LETTER_MAX_BATCH_SIZE: '1000',
        SWEEP_DEAD_LETTER_CYCLE_RUNS: '12',
      },
      routes: [],
      table: movesOrders,
      sendsTo: {
        PAYMENT_SUBMISSION_QUEUE_URL: 'paymentSubmission',
        SETTLEMENT_CHECK_QUEUE_URL: 'settlementCheck',
      },
      readsDeadLetters: { PAYMENT_SUBMISSION_DLQ_URL: 'paymentSubmission' },
      schedule: { rateMinutes: sweepRateMinutes },
    },
    webhookEndpoints: {
      entry: 'lambdas/handlers/webhook-endpoints.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      environment: {
        ...common,
        ...webhookEndpointSettings,
        SECRET_MAX_AGE_SECONDS: gateway.SECRET_MAX_AGE_SECONDS,
      },
      routes: [
        { method: 'POST', path: '/v1/webhook-endpoints', auth: 'jwt', scopes: [WEBHOOKS_SCOPE] },
        { method: 'GET', path: '/v1/webhook-endpoints', auth: 'jwt', scopes: [WEBHOOKS_SCOPE] },
        {
          method: 'DELETE',
          path: '/v1/webhook-endpoints/{id}',
          auth: 'jwt',
          scopes: [WEBHOOKS_SCOPE],
        },
      ],
      table: { writes: ['webhooks'] },
      sendsTo: {},
      secrets: { WEBHOOK_ENDPOINT_KEY_SECRET_ID: 'webhookEndpointKey' },
    },
    // Reads the table's changes: the payment path writes nothing more for a notification.
    notificationFanOut: {
      entry: 'lambdas/handlers/notification-fan-out.ts',
      memoryMb: 256,
      timeoutSeconds: 30,
      environment: { ...common },
      routes: [],
      table: { writes: [] },
      sendsTo: { NOTIFICATION_QUEUE_URL: 'notification' },
      streams: {
        itemKinds: ['order', 'agent'],
        batchSize: 100,
        maxBatchingWindowSeconds: 1,
        retryAttempts: 10,
        onFailure: 'notification',
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
      },
    },
    notificationDelivery: {
      entry: 'lambdas/handlers/notification-delivery.ts',
      memoryMb: 256,
      timeoutSeconds: 30,
      environment: {
        ...common,
        SECRET_MAX_AGE_SECONDS: gateway.SECRET_MAX_AGE_SECONDS,
        WEBHOOK_DELIVERY_TIMEOUT_MS: '5000',
        NOTIFICATION_BACKOFF_BASE_SECONDS: '2',
        NOTIFICATION_BACKOFF_MAX_SECONDS: '900',
      },
      routes: [],
      table: { writes: [] },
      sendsTo: {},
      consumes: {
        queue: 'notification',
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: 5,
        reportBatchItemFailures: true,
      },
      secrets: { WEBHOOK_ENDPOINT_KEY_SECRET_ID: 'webhookEndpointKey' },
    },
  },
} as const satisfies Wiring;

export type FunctionName = keyof typeof wiring.functions;

/** Outputs the service stack publishes, by which the operator tools find a deployed stage. */
export const stackOutputs = {
  tableName: 'TableName',
  queueUrl: (queue: QueueName) => `${queue}QueueUrl`,
  queueArn: (queue: QueueName) => `${queue}QueueArn`,
  dlqUrl: (queue: QueueName) => `${queue}DlqUrl`,
  dlqArn: (queue: QueueName) => `${queue}DlqArn`,
  secretArn: (secret: SecretName) => `${secret}SecretArn`,
  /** The function URL the gateway posts its callbacks to (the path goes after it). */
  callbackUrl: 'CallbackUrl',
} as const;

/** `paymentSubmission` → `PAYMENT_SUBMISSION_QUEUE_URL` and `PAYMENT_SUBMISSION_MAX_RECEIVE_COUNT`. */
export function queueVariables(queue: QueueName) {
  const stem = queue.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase();
  return { url: `${stem}_QUEUE_URL`, maxReceiveCount: `${stem}_MAX_RECEIVE_COUNT` };
}

/** The functions seen through their general shape, for code that loops over all of them. */
export const functionSpecs: Readonly<Record<string, FunctionSpec>> = wiring.functions;

/**
 * The functions with the stage's reserved concurrency for the ones served at a function URL
 * (`callbackConcurrency` in the CDK context): what bounds a flood of unauthenticated calls.
 */
export function withCallbackConcurrency(
  functions: Readonly<Record<string, FunctionSpec>>,
  concurrency: number | undefined,
): Readonly<Record<string, FunctionSpec>> {
  if (concurrency === undefined) return functions;
  return Object.fromEntries(
    Object.entries(functions).map(([name, spec]) => [
      name,
      spec.functionUrl === undefined ? spec : { ...spec, reservedConcurrency: concurrency },
    ]),
  );
}

/** Concurrent executions one stage reserves in its account, all functions together. */
export function reservedConcurrencyOfStage(
  functions: Readonly<Record<string, FunctionSpec>> = functionSpecs,
): number {
  return Object.values(functions).reduce((sum, spec) => sum + (spec.reservedConcurrency ?? 0), 0);
}
