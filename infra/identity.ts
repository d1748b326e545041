/**
 * Who issues the tokens: the stack's Cognito user pool (the default), or another OIDC provider
 * named by the `jwtIssuer` and `jwtAudience` context. `userIdClaim` carries a user's id.
 */
export type IdentitySettings =
  | {
      readonly kind: 'cognito';
      readonly userPoolId: string;
      readonly userPoolArn: string;
      readonly userAppClientId: string;
      readonly issuer: string;
      readonly userIdClaim: string;
    }
  | {
      readonly kind: 'oidc';
      /** The identity provider's issuer URL; API Gateway fetches its JWKS from there. */
      readonly issuer: string;
      readonly audience: string;
      readonly userIdClaim: string;
    };
