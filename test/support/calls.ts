import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type AnyClient = DynamoDBClient | DynamoDBDocumentClient | SQSClient | SecretsManagerClient;

/**
 * Counts the AWS requests a client sends, by operation, through an SDK middleware: the real
 * client still talks to the emulator, nothing is mocked.
 */
export class CallCounter {
  readonly calls: string[] = [];
  /** The partition key each call names, where it names one (`Key.pk`), beside `calls`. */
  readonly keys: (string | undefined)[] = [];

  attach(client: AnyClient, service: string): this {
    const stack = client.middlewareStack as {
      add: (middleware: unknown, options: { step: string; name: string }) => void;
      remove: (name: string) => boolean;
    };
    const name = `callCounter-${service}`;
    stack.remove(name);
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          this.calls.push(`${service}.${(context.commandName ?? '?').replace(/Command$/, '')}`);
          const key = (args as { input?: { Key?: { pk?: unknown } } }).input?.Key?.pk;
          this.keys.push(typeof key === 'string' ? key : undefined);
          return next(args);
        },
      { step: 'initialize', name },
    );
    return this;
  }

  reset(): void {
    this.calls.length = 0;
    this.keys.length = 0;
  }

  /** The calls, less those naming a key under `prefix` (a cached read that may or may not be due). */
  callsExcept(prefix: string): string[] {
    return this.calls.filter((_, index) => !this.keys[index]?.startsWith(prefix));
  }

  count(prefix = ''): number {
    return this.calls.filter((call) => call.startsWith(prefix)).length;
  }
}

/**
 * Makes the next `failing` requests of an SQS client fail as an unreachable endpoint would, at
 * the SDK boundary (the emulator itself stays up): an outage of the payment queue.
 */
export class SendOutage {
  failing = 0;

  constructor(client: SQSClient) {
    client.middlewareStack.add(
      (next) => async (args) => {
        if (this.failing > 0) {
          this.failing--;
          throw Object.assign(new Error('injected: SQS unreachable'), { name: 'NetworkingError' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'injectSendFailure' },
    );
  }
}

/**
 * Loses the answer to the next `losing` requests of the given operations after the emulator applied
 * them: the SDK sees a 500 and retries, as it does when DynamoDB answers 500 to a write that
 * landed, or a connection resets after it. Added at the deserialize step, inside the retries.
 */
export class LostAnswers {
  losing = 0;

  constructor(
    client: DynamoDBClient | DynamoDBDocumentClient,
    private readonly operations: readonly string[],
  ) {
    const stack = client.middlewareStack as {
      add: (middleware: unknown, options: { step: string; name: string }) => void;
    };
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          const answer = await next(args);
          const operation = (context.commandName ?? '').replace(/Command$/, '');
          if (this.losing > 0 && this.operations.includes(operation)) {
            this.losing--;
            throw Object.assign(new Error('injected: answer lost after the write'), {
              name: 'InternalServerError',
              $fault: 'server',
              $metadata: { httpStatusCode: 500 },
            });
          }
          return answer;
        },
      { step: 'deserialize', name: `loseAnswers:${operations.join(',')}` },
    );
  }
}
