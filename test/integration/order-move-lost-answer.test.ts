import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOrderRepository } from '#adapters/dynamodb-orders.ts';
import { spendKey } from '#adapters/table-keys.ts';
import { defaultDeadlinePolicy, moveOrder } from '#domain/order-moves.ts';
import { applyGatewayOutcome, defaultSettlementSchedule } from '#domain/settlement.ts';
import { type Emulator, startDynamoDbLocal } from '../../local/runtime/emulators.ts';
import { FixedClock, RecordingSettlementChecks, seedOrder } from '../fakes/in-memory.ts';
import { spyingSettlementObserver } from '../fakes/observers.ts';
import { LostAnswers } from '../support/calls.ts';
import { createTestTable } from '../support/table.ts';

/*
 * A move of an order is one conditional UpdateItem (a TransactWriteItems when it gives the
 * order's auto-pay budget back). When DynamoDB applies it and its answer is lost (a 500, a reset
 * connection, an answer after the client's request timeout), the SDK sends it again and the
 * resend fails its own condition: the order moved, by this very call. The move's history entry
 * names the call, so the refusal, marked resent by the SDK's attempt count, is taken as applied
 * and what follows "applied" runs now. A transaction's resend carries the first send's
 * ClientRequestToken (the SDK fills it once per command), which DynamoDB answers with the first
 * send's success: the budget is given back once either way.
 */

const tableName = 'move-lost-answer';
let emulator: Emulator;
let client: DynamoDBDocumentClient;
let repository: DynamoDbOrderRepository;
let lostUpdate: LostAnswers;
let lostTransaction: LostAnswers;
let sequence = 0;

beforeAll(async () => {
  emulator = await startDynamoDbLocal();
  client = await createTestTable(emulator.endpoint, tableName);
  repository = new DynamoDbOrderRepository(client, tableName);
  lostUpdate = new LostAnswers(client, ['UpdateItem']);
  lostTransaction = new LostAnswers(client, ['TransactWriteItems']);
});

afterAll(async () => {
  client?.destroy();
  await emulator?.stop();
});

function settleDeps() {
  return {
    orders: repository,
    clock: new FixedClock(new Date('2026-11-23T09:30:00Z')),
    deadlines: defaultDeadlinePolicy,
    settlementChecks: new RecordingSettlementChecks(),
    schedule: defaultSettlementSchedule,
    observer: spyingSettlementObserver(),
  };
}

const nextOrderId = () => `ord_${String(++sequence).padStart(31, '0')}a`;

describe('an order move whose answer is lost after DynamoDB applied it', () => {
  it('takes a late success on a failed order as applied: the refund check goes now, alarmed', async () => {
    // Prepare: an order that failed unpaid; the answer to its next UpdateItem is lost.
    const deps = settleDeps();
    const orderId = nextOrderId();
    const order = await seedOrder(deps, 'FAILED', { orderId });
    lostUpdate.losing = 1;

    // Act
    const result = await applyGatewayOutcome(deps, order, {
      kind: 'succeeded',
      paymentId: 'pay_lost',
    });

    // Assess: the first send moved it, the resend was refused, and the move is this call's.
    expect(lostUpdate.losing).toBe(0);
    expect(result).toEqual({ kind: 'applied', status: 'REFUND_PENDING' });
    const stored = await repository.get(orderId);
    expect(stored).toMatchObject({ status: 'REFUND_PENDING', compensation: true });
    expect(stored?.history.filter((entry) => entry.to === 'REFUND_PENDING')).toHaveLength(1);
    expect(deps.observer.lateSuccess).toHaveBeenCalledOnce();
    expect(deps.observer.ignored).not.toHaveBeenCalled();
    expect(deps.settlementChecks.scheduled).toEqual([{ orderId, check: 0, delaySeconds: 0 }]);
  });

  it('still takes a refusal of a write sent once for another writer’s move', async () => {
    // Prepare: the same move from the same reading, made first by another call.
    const deps = settleDeps();
    const orderId = nextOrderId();
    const order = await seedOrder(deps, 'FAILED', { orderId });
    await moveOrder(deps, order, 'GATEWAY_SUCCEEDED', { compensation: true });

    // Act
    const result = await applyGatewayOutcome(deps, order, {
      kind: 'succeeded',
      paymentId: 'pay_other',
    });

    // Assess
    expect(result).toEqual({ kind: 'unchanged', status: 'REFUND_PENDING' });
    expect(deps.observer.lateSuccess).not.toHaveBeenCalled();
    expect(deps.settlementChecks.scheduled).toEqual([]);
  });

  it('gives a failed order’s budget back once when the answer to its transaction is lost', async () => {
    // Prepare: an order paid at once that counted 4.50 against its agent's day.
    const deps = settleDeps();
    const orderId = nextOrderId();
    const agentId = `lost-release-${sequence}`;
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...spendKey(agentId, '2026-11-23'), agentId, spent: 450 },
      }),
    );
    const order = await seedOrder(deps, 'PENDING_PAYMENT', {
      orderId,
      agentId,
      spendDay: '2026-11-23',
    });
    lostTransaction.losing = 1;

    // Act
    const result = await applyGatewayOutcome(deps, order, {
      kind: 'declined',
      declineCode: 'card_declined',
    });

    // Assess
    expect(lostTransaction.losing).toBe(0);
    expect(result).toEqual({ kind: 'applied', status: 'FAILED' });
    const day = await client.send(
      new GetCommand({ TableName: tableName, Key: spendKey(agentId, '2026-11-23') }),
    );
    expect(day.Item?.spent).toBe(0);
    expect((await repository.get(orderId))?.spendReleased).toBe(true);
  });
});
