import { join } from 'node:path';
import type { QueueName, SecretName } from '#shared/wiring.ts';
import { projectRoot } from './local-runtime.ts';

/** Where `npm start` says what it runs, for the operator tools of another terminal. */
export const localStateFile = join(projectRoot, '.local', 'stack.json');

export interface LocalState {
  readonly environment: Readonly<Record<string, string>>;
  readonly tableName: string;
  readonly queueUrls: Readonly<Record<QueueName, { url: string; dlqUrl: string }>>;
  readonly secretIds: Readonly<Record<SecretName, string>>;
}
