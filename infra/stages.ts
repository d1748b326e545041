import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, Node } from 'constructs';
import { type ExternalService, externalServices, wiring } from '../lambdas/shared/wiring.ts';
import { acknowledgeNagFindings } from './nag.ts';
import { ServiceStack } from './service-stack.ts';
import { StatefulStack } from './stateful-stack.ts';

export interface StageSettings {
  /** Part of every stack name, so several stages can live in one account. */
  readonly stage: string;
  /**
   * Another OIDC provider instead of the stack's Cognito user pool (`jwtIssuer` and
   * `jwtAudience`, both or neither); unset, the stateful stack brings a user pool.
   */
  readonly jwtIssuer?: string;
  readonly jwtAudience?: string;
  /** The claim of a user's token that carries the user's id (`jwtUserIdClaim`, default `sub`). */
  readonly userIdClaim: string;
  /** Where the user pool sends the user's app after sign-in (`userAppCallbackUrls`, comma-separated). */
  readonly userAppCallbackUrls: readonly string[];
  /** The user pool's hosted domain prefix (`cognitoDomainPrefix`, default `autopay-<stage>`). */
  readonly cognitoDomainPrefix: string;
  /** Base URLs of the third-party services the functions call. */
  readonly endpoints: Readonly<Record<ExternalService, string>>;
  /** Days every log group keeps its events (`logRetentionDays`, cdk.json: 30). */
  readonly logRetention: logs.RetentionDays;
  /**
   * Steady requests per second and burst the HTTP API admits across all routes before it answers
   * 429 (`apiRateLimit` / `apiBurstLimit`, cdk.json: 50 and 100).
   */
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Who is emailed when an alarm fires (`alarmEmail`); unset: nobody is subscribed. */
  readonly alarmEmail?: string;
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
  const jwtAudience = contextString(node, 'jwtAudience');
  if (jwtIssuer !== undefined && !jwtIssuer.startsWith('https://')) {
    // API Gateway only accepts an https issuer for a JWT authorizer.
    throw new Error(`Context 'jwtIssuer' must be an https URL, got '${jwtIssuer}'`);
  }
  if ((jwtIssuer === undefined) !== (jwtAudience === undefined || jwtAudience === '')) {
    throw new Error(
      "Context 'jwtIssuer' and 'jwtAudience' go together: set both for another OIDC provider, " +
        "or neither for the stack's Cognito user pool",
    );
  }
  const userIdClaim = contextString(node, 'jwtUserIdClaim') ?? 'sub';
  if (!/^[A-Za-z0-9_:.-]{1,64}$/.test(userIdClaim)) {
    throw new Error(`Context 'jwtUserIdClaim' must be a claim name, got '${userIdClaim}'`);
  }
  const userAppCallbackUrls = (contextString(node, 'userAppCallbackUrls') ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  if (userAppCallbackUrls.length === 0 || !userAppCallbackUrls.every(isCallbackUrl)) {
    throw new Error(
      `Context 'userAppCallbackUrls' must list https URLs (http only for localhost), got '${userAppCallbackUrls.join(',')}'`,
    );
  }
  const cognitoDomainPrefix = contextString(node, 'cognitoDomainPrefix') ?? `autopay-${stage}`;
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(cognitoDomainPrefix)) {
    throw new Error(
      `Context 'cognitoDomainPrefix' must be a domain label, got '${cognitoDomainPrefix}'`,
    );
  }
  const endpoints = Object.fromEntries(
    externalServices.map((service) => {
      const key = endpointKey(service);
      const url = contextString(node, key);
      if (!url?.startsWith('https://')) {
        throw new Error(`Context '${key}' must be an https URL, got '${url}'`);
      }
      return [service, url];
    }),
  ) as Record<ExternalService, string>;
  const logRetentionDays = contextNumber(node, 'logRetentionDays');
  if (!Object.values(logs.RetentionDays).includes(logRetentionDays)) {
    // CloudWatch Logs accepts only its own list of retention periods.
    throw new Error(
      `Context 'logRetentionDays' must be a CloudWatch Logs retention period, got ${logRetentionDays}`,
    );
  }
  const apiThrottle = {
    rateLimit: contextNumber(node, 'apiRateLimit'),
    burstLimit: contextNumber(node, 'apiBurstLimit'),
  };
  if (stage !== 'dev') {
    refusePlaceholders(stage, {
      ...(jwtIssuer ? { jwtIssuer } : {}),
      ...endpointContext(endpoints),
    });
  }
  const alarmEmail = contextString(node, 'alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(alarmEmail)) {
    throw new Error(`Context 'alarmEmail' must be an email address, got '${alarmEmail}'`);
  }
  return {
    stage,
    ...(jwtIssuer && jwtAudience ? { jwtIssuer, jwtAudience } : {}),
    userIdClaim,
    userAppCallbackUrls,
    cognitoDomainPrefix,
    endpoints,
    logRetention: logRetentionDays as logs.RetentionDays,
    apiThrottle,
    ...(alarmEmail ? { alarmEmail } : {}),
  };
}

/** The one place the stacks are assembled, so the tests synthesize exactly what is deployed. */
export function createStacks(scope: Construct, settings: StageSettings): AutopayStacks {
  const prefix = `Autopay-${settings.stage}`;
  const tags = { service: wiring.service, stage: settings.stage };

  const stateful = new StatefulStack(scope, `${prefix}-Stateful`, {
    description: 'autopay: the orders table and the secrets',
    stage: settings.stage,
    table: wiring.table,
    // Another OIDC provider replaces the pool; the stack then creates none.
    identity:
      settings.jwtIssuer === undefined
        ? {
            userAppCallbackUrls: settings.userAppCallbackUrls,
            cognitoDomainPrefix: settings.cognitoDomainPrefix,
          }
        : undefined,
    tags,
  });
  const service = new ServiceStack(scope, `${prefix}-Service`, {
    description: 'autopay: HTTP API, queues and Lambda functions',
    wiring,
    table: stateful.table,
    secrets: stateful.secrets,
    secretsKey: stateful.secretsKey,
    endpoints: settings.endpoints,
    identity:
      stateful.identity === undefined
        ? {
            kind: 'oidc',
            issuer: settings.jwtIssuer ?? '',
            audience: settings.jwtAudience ?? '',
            userIdClaim: settings.userIdClaim,
          }
        : {
            kind: 'cognito',
            userPoolId: stateful.identity.userPool.userPoolId,
            userPoolArn: stateful.identity.userPool.userPoolArn,
            userAppClientId: stateful.identity.userAppClient.userPoolClientId,
            issuer: stateful.identity.issuer,
            userIdClaim: settings.userIdClaim,
          },
    logRetention: settings.logRetention,
    apiThrottle: settings.apiThrottle,
    alarmEmail: settings.alarmEmail,
    tags,
  });
  acknowledgeNagFindings({ stateful, service }, wiring);
  return { stateful, service };
}

function isCallbackUrl(candidate: string): boolean {
  try {
    const url = new URL(candidate);
    return url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname === 'localhost');
  } catch {
    return false;
  }
}

function endpointKey(service: ExternalService): string {
  return `${service}Url`;
}

function endpointContext(endpoints: Readonly<Record<ExternalService, string>>) {
  return Object.fromEntries(
    externalServices.map((service) => [endpointKey(service), endpoints[service]]),
  );
}

/**
 * cdk.json ships example.com URLs so that `dev` synthesizes offline from a fresh clone; a stage
 * that could be deployed must name the real identity provider, gateway and risk engine.
 */
function refusePlaceholders(stage: string, urls: Readonly<Record<string, string>>): void {
  const placeholders = Object.entries(urls)
    .filter(([, url]) => {
      const host = new URL(url).hostname;
      return host === 'example.com' || host.endsWith('.example.com');
    })
    .map(([key]) => key);
  if (placeholders.length > 0) {
    throw new Error(
      `Stage '${stage}' still has example.com placeholders in its context: ` +
        `${placeholders.join(', ')}. Set the real URLs in cdk.json or with -c key=value ` +
        `(e.g. -c ${placeholders[0]}=https://...).`,
    );
  }
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

/** A positive number, from cdk.json or from `-c key=value` (where it arrives as a string). */
function contextNumber(node: Node, key: string): number {
  const value: unknown = node.tryGetContext(key);
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number <= 0) {
    throw new Error(`Context '${key}' must be a positive number, got '${String(value)}'`);
  }
  return number;
}
