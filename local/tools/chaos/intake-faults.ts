import type { Random } from '../../simulators/faults.ts';
import { type AnyClient, orderIdOfKey, serverFault, stackOf } from './sdk-middleware.ts';

/**
 * Faults in intake's own writes, played on the functions' shared AWS clients (the local runtime
 * runs every function in this process): the payment message or the order's put fails before it
 * is made, or is made and its answer lost. The agent then retries with the same key, as it must
 * after a 5xx. Only intake's calls are touched: its payment messages carry `placedAt`, and only
 * intake puts an `ORDER#` item.
 */
export interface IntakeFaultRates {
  readonly sendRefusedRate: number;
  readonly sendAnswerLostRate: number;
  readonly putRefusedRate: number;
  readonly putAnswerLostRate: number;
}

export interface IntakeFaultCounts {
  sendRefused: number;
  sendAnswerLost: number;
  putRefused: number;
  putAnswerLost: number;
}

const middlewareName = 'chaosIntakeFaults';

export class IntakeFaults {
  readonly counts: IntakeFaultCounts = {
    sendRefused: 0,
    sendAnswerLost: 0,
    putRefused: 0,
    putAnswerLost: 0,
  };

  constructor(
    private readonly random: Random,
    private readonly rates: IntakeFaultRates,
  ) {}

  attach(dynamodb: AnyClient, sqs: AnyClient): void {
    this.#install(dynamodb, 'PutItemCommand', isOrderPut, 'putRefused', 'putAnswerLost');
    this.#install(sqs, 'SendMessageCommand', isIntakeMessage, 'sendRefused', 'sendAnswerLost');
  }

  detach(dynamodb: AnyClient, sqs: AnyClient): void {
    for (const client of [dynamodb, sqs]) {
      stackOf(client).remove(middlewareName);
    }
  }

  #install(
    client: AnyClient,
    command: string,
    applies: (input: Record<string, unknown>) => boolean,
    refused: keyof IntakeFaultCounts,
    answerLost: keyof IntakeFaultCounts,
  ): void {
    const stack = stackOf(client);
    stack.remove(middlewareName);
    stack.add(
      (next, context) => async (args) => {
        if (context.commandName !== command || !args.input || !applies(args.input)) {
          return next(args);
        }
        const draw = this.random();
        const refuseRate =
          command === 'PutItemCommand' ? this.rates.putRefusedRate : this.rates.sendRefusedRate;
        const loseRate =
          command === 'PutItemCommand'
            ? this.rates.putAnswerLostRate
            : this.rates.sendAnswerLostRate;
        if (draw < refuseRate) {
          this.counts[refused]++;
          throw serverFault(`${command} refused`);
        }
        const result = await next(args);
        if (draw < refuseRate + loseRate) {
          this.counts[answerLost]++;
          throw serverFault(`${command} made, its answer lost`);
        }
        return result;
      },
      { step: 'initialize', name: middlewareName, priority: 'high' },
    );
  }
}

function isOrderPut(input: Record<string, unknown>): boolean {
  return orderIdOfKey(input.Item as Record<string, unknown> | undefined) !== undefined;
}

function isIntakeMessage(input: Record<string, unknown>): boolean {
  return typeof input.MessageBody === 'string' && input.MessageBody.includes('"placedAt"');
}
