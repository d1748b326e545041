import type { Construct, Node } from 'constructs';
import { type ExternalService, externalServices, wiring } from '../lambdas/shared/wiring.ts';
import { ServiceStack } from './service-stack.ts';
import { StatefulStack } from './stateful-stack.ts';

export interface StageSettings {
  /** Part of every stack name, so several stages can live in one account. */
  readonly stage: string;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  /** Base URLs of the third-party services the functions call. */
  readonly endpoints: Readonly<Record<ExternalService, string>>;
}

export interface AutopayStacks {
  readonly stateful: StatefulStack;
  readonly service: ServiceStack;
}

/** Reads the stage settings from the CDK context (`cdk.json`, overridden with `-c key=value`). */
export function stageSettingsFromContext(node: Node): StageSettings {
  const stage = contextString(node, 'stage') ?? 'dev';
  if (!/^[a-z][a-z0-9-]*$/.test(stage)) {
    throw new Error(`Context 'stage' must be lowercase letters, digits and dashes, got '${stage}'`);
  }
  const jwtIssuer = contextString(node, 'jwtIssuer');
  if (!jwtIssuer?.startsWith('https://')) {
    // API Gateway only accepts an https issuer for a JWT authorizer.
    throw new Error(`Context 'jwtIssuer' must be an https URL, got '${jwtIssuer}'`);
  }
  const jwtAudience = contextString(node, 'jwtAudience');
  if (!jwtAudience) {
    throw new Error(`Context 'jwtAudience' must be set`);
  }
  const endpoints = Object.fromEntries(
    externalServices.map((service) => {
      const url = contextString(node, `${service}Url`);
      if (!url?.startsWith('https://')) {
        throw new Error(`Context '${service}Url' must be an https URL, got '${url}'`);
      }
      return [service, url];
    }),
  ) as Record<ExternalService, string>;
  return { stage, jwtIssuer, jwtAudience, endpoints };
}

/** The one place the stacks are assembled, so the tests synthesize exactly what is deployed. */
export function createStacks(scope: Construct, settings: StageSettings): AutopayStacks {
  const prefix = `Autopay-${settings.stage}`;
  const tags = { service: wiring.service, stage: settings.stage };

  const stateful = new StatefulStack(scope, `${prefix}-Stateful`, {
    description: 'autopay: the orders table and the secrets',
    stage: settings.stage,
    table: wiring.table,
    tags,
  });
  const service = new ServiceStack(scope, `${prefix}-Service`, {
    description: 'autopay: HTTP API, queues and Lambda functions',
    wiring,
    table: stateful.table,
    secrets: stateful.secrets,
    secretsKey: stateful.secretsKey,
    endpoints: settings.endpoints,
    jwtIssuer: settings.jwtIssuer,
    jwtAudience: settings.jwtAudience,
    tags,
  });
  return { stateful, service };
}

function contextString(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new Error(`Context '${key}' must be a string`);
  }
  return value;
}
