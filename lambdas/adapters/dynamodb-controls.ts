import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ControlPanel, OperatorControls, PauseRecord } from '#domain/ports.ts';
import { controlKey } from './table-keys.ts';

/** The operators' switches live in one item, written by the operator CLI only. */
const SWITCHES = 'switches';

export type Switch = 'autopay' | 'payments';

const attributeOf: Readonly<Record<Switch, keyof OperatorControls>> = {
  autopay: 'autopayPaused',
  payments: 'paymentsPaused',
};

/**
 * The switches, read with a strongly consistent GetItem at most once per `cacheMs` per instance:
 * a pause reaches every instance within `cacheMs` of the operator's write, and costs one read
 * per instance per `cacheMs`, not one per order.
 */
export class DynamoDbControlPanel implements ControlPanel {
  private cached: { readonly value: OperatorControls; readonly at: number } | undefined;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly cacheMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async read(): Promise<OperatorControls> {
    if (this.cached !== undefined && this.now() - this.cached.at < this.cacheMs) {
      return this.cached.value;
    }
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: controlKey(SWITCHES),
        ConsistentRead: true,
      }),
    );
    const value = controlsOf(result.Item);
    this.cached = { value, at: this.now() };
    return value;
  }

  /** Turns a switch on (with who and when) or off; answers the switches as they were. */
  async set(which: Switch, paused: PauseRecord | undefined): Promise<OperatorControls> {
    const attribute = attributeOf[which];
    const result = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: controlKey(SWITCHES),
        UpdateExpression: paused === undefined ? 'REMOVE #switch' : 'SET #switch = :paused',
        ExpressionAttributeNames: { '#switch': attribute },
        ...(paused === undefined ? {} : { ExpressionAttributeValues: { ':paused': paused } }),
        ReturnValues: 'ALL_OLD',
      }),
    );
    this.cached = undefined;
    return controlsOf(result.Attributes);
  }
}

function controlsOf(item: Record<string, unknown> = {}): OperatorControls {
  return {
    ...(item.autopayPaused ? { autopayPaused: item.autopayPaused as PauseRecord } : {}),
    ...(item.paymentsPaused ? { paymentsPaused: item.paymentsPaused as PauseRecord } : {}),
  };
}
