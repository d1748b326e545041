/**
 * What a function's environment is made of, derived from its wiring entry once: CDK turns each
 * binding into an environment variable and its grant in one call, and the local runtime resolves
 * the same bindings against its emulators and simulators.
 *
 * Plain data, like the wiring: no CDK and no SDK imports.
 */

import { stageVariable } from './metric-names.ts';
import {
  type EventSourceSpec,
  type ExternalService,
  type FunctionSpec,
  type QueueName,
  queueVariables,
  type SecretName,
  type TableAccess,
} from './wiring.ts';

export { stageVariable };

export const tableVariable = 'TABLE_NAME';

export type EnvironmentBinding =
  /** A value known before anything is deployed, from the wiring. */
  | { readonly kind: 'setting'; readonly variable: string; readonly value: string }
  /** The name of the stage (locally: `local`). */
  | { readonly kind: 'stage'; readonly variable: string }
  /** The table's name; the function reads the table and writes the items `access` names. */
  | { readonly kind: 'table'; readonly variable: string; readonly access: TableAccess }
  /**
   * A queue's URL: `send`, the function may send to it; `eventSource`, the function consumes it
   * through that mapping, and needs its URL to return its own messages for later. A reconciler
   * does both.
   */
  | {
      readonly kind: 'queue';
      readonly variable: string;
      readonly queue: QueueName;
      readonly send: boolean;
      readonly eventSource?: EventSourceSpec;
    }
  /** A queue's dead-letter queue URL; the function may receive from it, never delete. */
  | { readonly kind: 'deadLetters'; readonly variable: string; readonly queue: QueueName }
  /** A secret's id; the function may read the secret. */
  | { readonly kind: 'secret'; readonly variable: string; readonly secret: SecretName }
  /** The base URL of a service outside autopay. */
  | { readonly kind: 'endpoint'; readonly variable: string; readonly service: ExternalService }
  /** How many deliveries the consumed queue makes before its dead-letter queue. */
  | { readonly kind: 'maxReceiveCount'; readonly variable: string; readonly queue: QueueName }
  /** The user pool's id; the function may create and delete its app clients. */
  | { readonly kind: 'userPool'; readonly variable: string };

/** Every variable of the function's environment, each with where its value comes from. */
export function environmentBindings(spec: FunctionSpec): EnvironmentBinding[] {
  const bindings: EnvironmentBinding[] = Object.entries(spec.environment).map(
    ([variable, value]) => ({ kind: 'setting', variable, value }),
  );
  bindings.push({ kind: 'stage', variable: stageVariable });
  if (spec.table !== 'none') {
    bindings.push({ kind: 'table', variable: tableVariable, access: spec.table });
  }
  const eventSource = spec.consumes;
  const consumed = eventSource ? queueVariables(eventSource.queue) : undefined;
  for (const [variable, queue] of Object.entries(spec.sendsTo)) {
    bindings.push({
      kind: 'queue',
      variable,
      queue,
      send: true,
      ...(variable === consumed?.url ? { eventSource } : {}),
    });
  }
  if (eventSource && consumed) {
    const { queue } = eventSource;
    if (spec.sendsTo[consumed.url] === undefined) {
      bindings.push({ kind: 'queue', variable: consumed.url, queue, send: false, eventSource });
    }
    bindings.push({ kind: 'maxReceiveCount', variable: consumed.maxReceiveCount, queue });
  }
  for (const [variable, queue] of Object.entries(spec.readsDeadLetters ?? {})) {
    bindings.push({ kind: 'deadLetters', variable, queue });
  }
  for (const [variable, secret] of Object.entries(spec.secrets ?? {})) {
    bindings.push({ kind: 'secret', variable, secret });
  }
  for (const [variable, service] of Object.entries(spec.endpoints ?? {})) {
    bindings.push({ kind: 'endpoint', variable, service });
  }
  if (spec.userPool !== undefined) {
    bindings.push({ kind: 'userPool', variable: spec.userPool });
  }
  return bindings;
}

/** Where the resources a function is bound to are, once they exist. */
export interface BoundResources {
  readonly stage: string;
  readonly tableName: string;
  readonly queueUrls: Readonly<Record<QueueName, string>>;
  readonly deadLetterQueueUrls: Readonly<Record<QueueName, string>>;
  readonly maxReceiveCounts: Readonly<Record<QueueName, number>>;
  readonly secretIds: Readonly<Record<SecretName, string>>;
  readonly endpoints: Readonly<Record<ExternalService, string>>;
  /** Empty where there is none (the local stack, or another OIDC provider). */
  readonly userPoolId: string;
}

/** The value each binding gives its variable. */
export function bindingValue(binding: EnvironmentBinding, resources: BoundResources): string {
  switch (binding.kind) {
    case 'setting':
      return binding.value;
    case 'stage':
      return resources.stage;
    case 'table':
      return resources.tableName;
    case 'queue':
      return resources.queueUrls[binding.queue];
    case 'deadLetters':
      return resources.deadLetterQueueUrls[binding.queue];
    case 'maxReceiveCount':
      return String(resources.maxReceiveCounts[binding.queue]);
    case 'secret':
      return resources.secretIds[binding.secret];
    case 'endpoint':
      return resources.endpoints[binding.service];
    case 'userPool':
      return resources.userPoolId;
  }
}

/** The function's whole environment, for a runtime that has every resource's value at hand. */
export function functionEnvironment(
  spec: FunctionSpec,
  resources: BoundResources,
): Record<string, string> {
  return Object.fromEntries(
    environmentBindings(spec).map((binding) => [
      binding.variable,
      bindingValue(binding, resources),
    ]),
  );
}
