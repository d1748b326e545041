import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';
import type { AgentProfile } from '#domain/agent.ts';
import type { Order } from '#domain/order.ts';
import type { ClaimOutcome, CreateOrderOutcome, OrderRepository } from '#domain/ports.ts';
import { systemClock } from '#domain/ports.ts';
import { lambdaContext } from '../../runtime/lambda-context.ts';
import { intakeEvent } from './cold-start.ts';
import { median, progress } from './stats.ts';

export interface WarmResult {
  readonly invocationsPerBatch: number;
  readonly batches: number;
  readonly batchMeanUs: number[];
  readonly medianUs: number;
}

/** In-memory stand-ins of the ports intake uses: no I/O at all. */
class MemoryOrders implements OrderRepository {
  readonly orders = new Map<string, Order>();

  async create(order: Order): Promise<CreateOrderOutcome> {
    const existing = this.orders.get(order.orderId);
    if (existing) return { kind: 'exists', existing };
    this.orders.set(order.orderId, order);
    return { kind: 'created' };
  }

  async get(orderId: string): Promise<Order | undefined> {
    return this.orders.get(orderId);
  }

  async claim(): Promise<ClaimOutcome> {
    return { kind: 'claimed' };
  }

  async unclaim(): Promise<void> {}

  transition(): never {
    throw new Error('not used by intake');
  }

  getMany(): never {
    throw new Error('not used by intake');
  }

  findDue(): never {
    throw new Error('not used by intake');
  }

  list(): never {
    throw new Error('not used by intake');
  }

  annotate(): never {
    throw new Error('not used by intake');
  }
}

const benchAgent: AgentProfile = {
  agentId: 'bench-agent',
  ownerId: 'bench-agent-owner',
  suspended: false,
  trustedActions: ['order_coffee', 'submit_payment'],
  limitCurrency: 'CNY',
  perOrderLimit: 5000,
  dailyLimit: 1_000_000_000,
};

/** The intake module reads its environment at import: dummy values when nothing set them. */
function setDummyIntakeEnvironment(): void {
  const defaults: Record<string, string> = {
    TABLE_NAME: 'autopay-orders',
    PAYMENT_SUBMISSION_QUEUE_URL: 'http://127.0.0.1:1/000000000000/autopay-payment-submission',
    SUPPORTED_CURRENCIES: 'CNY,USD,EUR,GBP,JPY,HKD,SGD',
    MAX_ORDER_AMOUNT: '1000000',
    CONFIRMATION_WINDOW_SECONDS: '300',
    DUPLICATE_WINDOW_SECONDS: '300',
    AGENT_RATE_PER_SECOND: '1',
    AGENT_RATE_BURST: '10',
    CONTROL_CACHE_SECONDS: '2',
    PAYMENT_DEADLINE_SECONDS: '900',
    REFUND_DEADLINE_SECONDS: '900',
    REVIEW_DEADLINE_SECONDS: '86400',
    PAYMENT_WINDOW_SECONDS: '86400',
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  for (const [name, value] of Object.entries(defaults)) process.env[name] ??= value;
}

export async function runWarmIntake(invocations: number, batches: number): Promise<WarmResult> {
  setDummyIntakeEnvironment();
  const { buildHandler } = await import('../../../lambdas/handlers/order-intake.ts');
  const { deadlinesOf, intakePolicyOf, readIntakeEnvironment } = await import('#shared/config.ts');
  const environment = readIntakeEnvironment();
  const orders = new MemoryOrders();
  const handler = buildHandler({
    orders,
    agents: { get: async () => benchAgent },
    payments: { enqueue: async () => {} },
    clock: systemClock,
    deadlines: deadlinesOf(environment),
    policy: intakePolicyOf(environment),
  });
  const context: Context = lambdaContext('orderIntake', 10);
  type Event = Parameters<typeof handler>[0];

  const runBatch = async (label: string, count: number): Promise<number> => {
    const events = Array.from(
      { length: count },
      (_, index) => intakeEvent(`${label}-${index}`) as unknown as Event,
    );
    orders.orders.clear();
    const started = performance.now();
    for (const event of events) {
      const result = await handler(event, context);
      if (result.statusCode !== 202) {
        throw new Error(`intake answered ${result.statusCode}: ${String(result.body)}`);
      }
    }
    return ((performance.now() - started) * 1000) / count;
  };

  await runBatch('warmup', Math.min(500, invocations));
  const batchMeanUs: number[] = [];
  for (let batch = 1; batch <= batches; batch += 1) {
    batchMeanUs.push(await runBatch(`batch${batch}`, invocations));
    progress(`warm intake batch ${batch}/${batches}: ${batchMeanUs.at(-1)?.toFixed(1)} µs`);
  }
  return { invocationsPerBatch: invocations, batches, batchMeanUs, medianUs: median(batchMeanUs) };
}
