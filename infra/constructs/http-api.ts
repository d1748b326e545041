import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Construct } from 'constructs';
import type { FunctionSpec } from '../../lambdas/shared/wiring.ts';
import type { PipelineFunctions } from './functions.ts';

export interface PipelineHttpApiProps {
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly handlers: PipelineFunctions;
  /** The identity provider's issuer URL; API Gateway fetches its JWKS from there. */
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
}

/** The public HTTP API: every wiring route, behind the JWT authorizer unless it says `none`. */
export class PipelineHttpApi extends Construct {
  readonly api: apigwv2.HttpApi;

  constructor(scope: Construct, id: string, props: PipelineHttpApiProps) {
    super(scope, id);

    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'autopay: order intake, confirmation and gateway callbacks',
    });
    const jwtAuthorizer = new HttpJwtAuthorizer('JwtAuthorizer', props.jwtIssuer, {
      jwtAudience: [props.jwtAudience],
    });

    for (const [name, spec] of Object.entries(props.functions)) {
      for (const route of spec.routes) {
        this.api.addRoutes({
          path: route.path,
          methods: [apigwv2.HttpMethod[route.method]],
          integration: new HttpLambdaIntegration(`${name}Integration`, props.handlers.get(name)),
          authorizer: route.auth === 'jwt' ? jwtAuthorizer : new apigwv2.HttpNoneAuthorizer(),
        });
      }
    }
  }
}
