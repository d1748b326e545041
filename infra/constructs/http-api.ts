import { Duration } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import {
  HttpJwtAuthorizer,
  HttpLambdaAuthorizer,
  HttpLambdaResponseType,
} from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionSpec } from '../../lambdas/shared/wiring.ts';
import type { IdentitySettings } from '../identity.ts';
import type { PipelineFunctions } from './functions.ts';

export interface PipelineHttpApiProps {
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly handlers: PipelineFunctions;
  readonly identity: IdentitySettings;
  /** Requests per second (steady and burst) every route admits before API Gateway answers 429. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: logs.RetentionDays;
}

/**
 * One JSON line per request. `integrationError` says why API Gateway could not reach or use a
 * function, which the function's own logs cannot tell.
 */
export const accessLogFields = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  routeKey: '$context.routeKey',
  status: '$context.status',
  latency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
} as const;

/** The public HTTP API: every wiring route, behind the JWT authorizer unless it says `none`. */
export class PipelineHttpApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogs: logs.LogGroup;
  /** The routes open to anyone; each must authenticate its callers itself. */
  readonly unauthenticatedRoutes: readonly apigwv2.HttpRoute[];

  constructor(scope: Construct, id: string, props: PipelineHttpApiProps) {
    super(scope, id);

    this.api = new apigwv2.HttpApi(this, 'Api', {
      // The gateway's callbacks arrive at the callback function's own URL, not here.
      description: 'autopay: order intake, confirmation, agents and webhook endpoints',
      // The stage below replaces the default one, which takes no logging or throttling settings.
      createDefaultStage: false,
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(accessLogFields)),
      },
    });

    const jwtAuthorizer =
      props.identity.kind === 'oidc'
        ? new HttpJwtAuthorizer('JwtAuthorizer', props.identity.issuer, {
            jwtAudience: [props.identity.audience],
          })
        : new HttpLambdaAuthorizer('TokenAuthorizer', props.handlers.tokenAuthorizer(), {
            responseTypes: [HttpLambdaResponseType.SIMPLE],
            // Its answer depends on the route's scopes: cache it per token and route, and
            // briefly, so a token is not admitted long after it expired.
            identitySource: ['$request.header.Authorization', '$context.routeKey'],
            resultsCacheTtl: Duration.minutes(1),
          });
    const unauthenticated: apigwv2.HttpRoute[] = [];
    for (const [name, spec] of Object.entries(props.functions)) {
      for (const route of spec.routes) {
        const routes = this.api.addRoutes({
          path: route.path,
          methods: [apigwv2.HttpMethod[route.method]],
          integration: new HttpLambdaIntegration(`${name}Integration`, props.handlers.get(name)),
          authorizer: route.auth === 'jwt' ? jwtAuthorizer : new apigwv2.HttpNoneAuthorizer(),
          // Route scopes are the JWT authorizer's; the token authorizer applies them itself.
          ...(route.scopes && props.identity.kind === 'oidc'
            ? { authorizationScopes: [...route.scopes] }
            : {}),
        });
        if (route.auth === 'none') {
          unauthenticated.push(...routes);
        }
      }
    }
    this.unauthenticatedRoutes = unauthenticated;
  }
}
