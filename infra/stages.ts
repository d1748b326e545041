import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, Node } from 'constructs';
import { stripeGatewayName } from '../lambdas/shared/gateway-names.ts';
import {
  type ExternalService,
  externalServices,
  type Wiring,
  wiring,
  withCallbackConcurrency,
} from '../lambdas/shared/wiring.ts';
import { applyDeployGuards } from './deploy-guards.ts';
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
   * Steady requests per second and burst the HTTP API admits on each route before it answers
   * 429 (`apiRateLimit` / `apiBurstLimit`, cdk.json: 50 and 100).
   */
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Concurrent executions reserved for the callback function (`callbackConcurrency`, a whole
   * number from 1; unset: the wiring's `reservedConcurrency`, 10). Its function URL is open to
   * anyone, so this is what bounds a flood of forged callbacks, and what it can cost: beyond it
   * Lambda answers 429 and the gateway retries later.
   */
  readonly callbackConcurrency?: number;
  /** Who is emailed when an alarm fires (`alarmEmail`). */
  readonly alarmEmail?: string;
  /** An SNS topic the alarms also publish to (`alarmTopicArn`), e.g. a paging service's. */
  readonly alarmTopicArn?: string;
  /**
   * The payment gateway's name (`gatewayName`, cdk.json: `simulator`): the callback path
   * `/v1/callbacks/<gatewayName>` and the functions' GATEWAY_NAME.
   */
  readonly gatewayName: string;
  /**
   * Whether the secrets have rotation schedules (`rotation=on`). Off until an operator has stored
   * the real keys: Secrets Manager runs the rotation function's testSecret step when a schedule is
   * created, and against a placeholder key that step fails and rolls the stack back.
   */
  readonly rotation: boolean;
  /** Queues (and the table) outlive the stack: every stage but dev. */
  readonly retainQueues: boolean;
  /**
   * The payment gateway's protocol (`gateway`: `simulator`, the default, or `stripe`) and, for
   * Stripe, who pays for each agent (`stripePayers`: JSON of agent id or `default` →
   * `{"customer": "cus_…", "paymentMethod": "pm_…"}`).
   */
  readonly gateway: { readonly name: string; readonly stripePayers?: string };
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
  const callbackConcurrency = optionalWholeNumber(node, 'callbackConcurrency');
  const { alarmEmail, alarmTopicArn } = alarmDestination(node, stage);
  const gatewayName = contextString(node, 'gatewayName');
  if (!gatewayName || !gatewayNamePattern.test(gatewayName)) {
    throw new Error(
      `Context 'gatewayName' must match ${gatewayNamePattern} (the callback path ` +
        `/v1/callbacks/<gatewayName>), got '${gatewayName}'`,
    );
  }
  return {
    stage,
    ...(jwtIssuer && jwtAudience ? { jwtIssuer, jwtAudience } : {}),
    userIdClaim,
    userAppCallbackUrls,
    cognitoDomainPrefix,
    gateway: gatewayFromContext(node),
    endpoints,
    logRetention: logRetentionDays as logs.RetentionDays,
    apiThrottle,
    ...(callbackConcurrency === undefined ? {} : { callbackConcurrency }),
    ...(alarmEmail ? { alarmEmail } : {}),
    ...(alarmTopicArn ? { alarmTopicArn } : {}),
    gatewayName,
    rotation: contextSwitch(node, 'rotation'),
    retainQueues: stage !== 'dev',
  };
}

/** As the functions check GATEWAY_NAME at cold start (lambdas/shared/config.ts). */
const gatewayNamePattern = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Where alarms go. Outside dev an alarm nobody receives is a page that never arrives, so a stage
 * without `alarmEmail` or `alarmTopicArn` is refused.
 */
function alarmDestination(node: Node, stage: string) {
  const alarmEmail = contextString(node, 'alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(alarmEmail)) {
    throw new Error(`Context 'alarmEmail' must be an email address, got '${alarmEmail}'`);
  }
  const alarmTopicArn = contextString(node, 'alarmTopicArn');
  if (
    alarmTopicArn !== undefined &&
    !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/.test(alarmTopicArn)
  ) {
    throw new Error(`Context 'alarmTopicArn' must be an SNS topic ARN, got '${alarmTopicArn}'`);
  }
  if (stage !== 'dev' && !alarmEmail && !alarmTopicArn) {
    throw new Error(
      `Stage '${stage}' has no alarm destination: set alarmEmail (-c alarmEmail=oncall@...) ` +
        'or alarmTopicArn (-c alarmTopicArn=arn:aws:sns:<region>:<account>:<topic>), or its ' +
        'alarms reach nobody.',
    );
  }
  return { alarmEmail, alarmTopicArn };
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
    wiring: withCallbackConcurrencyOf(
      withGateway(wiring, settings.gateway),
      settings.callbackConcurrency,
    ),
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
    alarmTopicArn: settings.alarmTopicArn,
    stage: settings.stage,
    settingOverrides: { GATEWAY_NAME: settings.gatewayName },
    rotation: settings.rotation,
    tags,
  });
  for (const stack of [stateful, service]) {
    applyDeployGuards(stack, { retainQueues: settings.retainQueues });
  }
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

/** `on` or `off` (the default when unset). */
function contextSwitch(node: Node, key: string): boolean {
  const value = contextString(node, key) ?? 'off';
  if (value !== 'on' && value !== 'off') {
    throw new Error(`Context '${key}' must be 'on' or 'off', got '${value}'`);
  }
  return value === 'on';
}

function gatewayFromContext(node: Node): StageSettings['gateway'] {
  const name = contextString(node, 'gatewayName') ?? 'simulator';
  if (name !== 'simulator' && name !== stripeGatewayName) {
    throw new Error(
      `Context 'gatewayName' must be simulator or stripe (the callback path ` +
        `/v1/callbacks/<gatewayName> and the gateway's protocol), got '${name}'`,
    );
  }
  const payers = node.tryGetContext('stripePayers') as unknown;
  if (name !== stripeGatewayName) return { name };
  if (payers === undefined) {
    throw new Error(
      `Context 'stripePayers' must name who pays at Stripe when 'gatewayName' is stripe`,
    );
  }
  return { name, stripePayers: typeof payers === 'string' ? payers : JSON.stringify(payers) };
}

/** The wiring with the stage's gateway in every function that calls or hears from it. */
export function withGateway(base: Wiring, gateway: StageSettings['gateway']): Wiring {
  const functions = Object.fromEntries(
    Object.entries(base.functions).map(([name, spec]) => {
      if (gateway.name === stripeGatewayName && spec.rotates !== undefined) {
        // Stripe's keys and signing secrets are rolled in its dashboard: an operator flow
        // (`npm run ops -- rotate stripeApiKey`), not a schedule calling an API Stripe lacks.
        const { rotates: _dropped, ...rest } = spec;
        return [name, rest];
      }
      if (spec.environment.GATEWAY_NAME === undefined) return [name, spec];
      const calls = spec.endpoints !== undefined && 'GATEWAY_URL' in spec.endpoints;
      const environment = {
        ...spec.environment,
        GATEWAY_NAME: gateway.name,
        ...(calls && gateway.stripePayers ? { STRIPE_PAYERS: gateway.stripePayers } : {}),
      };
      return [name, { ...spec, environment }];
    }),
  );
  return { ...base, functions };
}

function withCallbackConcurrencyOf(base: Wiring, concurrency: number | undefined): Wiring {
  return { ...base, functions: withCallbackConcurrency(base.functions, concurrency) };
}

/**
 * A whole number from 1, from cdk.json or `-c key=value`, or undefined when unset. A reserved
 * concurrency of 0 would refuse every call, and Lambda takes no fraction.
 */
function optionalWholeNumber(node: Node, key: string): number | undefined {
  if (node.tryGetContext(key) === undefined) return undefined;
  const number = contextNumber(node, key);
  if (!Number.isInteger(number)) {
    throw new Error(`Context '${key}' must be a whole number from 1, got '${number}'`);
  }
  return number;
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
