/**
 * What the risk engine simulator speaks: Tencent Cloud RCE's `ManageMarketingRisk` (API 3.0,
 * version 2020-11-03), signed with TC3-HMAC-SHA256 (docs/GATEWAY.md, "Risk engine").
 */

export const riskAction = 'ManageMarketingRisk';
export const riskVersion = '2020-11-03';
export const riskService = 'rce';

export type RiskLevel = 'pass' | 'review' | 'reject';

/** The `Response.Error.Code` values the simulator answers with. */
export type RiskErrorCode =
  | 'InternalServerError'
  | 'RequestLimitExceeded'
  | 'InvalidParameter'
  | 'InvalidAction'
  | 'NoSuchVersion'
  | 'AuthFailure.InvalidAuthorization'
  | 'AuthFailure.SecretIdNotFound'
  | 'AuthFailure.SignatureExpire'
  | 'AuthFailure.SignatureFailure';

/** The part of `BusinessSecurityData` the simulator reads (Tencent's names). */
export interface BusinessSecurityData {
  Account: { AccountType: number; OtherAccount?: { AccountId: string } };
  SceneCode: string;
  UserIp: string;
  PostTime: number;
  UserId?: string;
  Details?: Array<{ FieldName: string; FieldValue: string }>;
}

/** What the rules judge: the user, and the order autopay describes in `Details`. */
export interface AssessedOrder {
  userId: string;
  orderId?: string | undefined;
  amount?: number | undefined;
}

export const riskLevels = ['pass', 'review', 'reject'] as const;

/**
 * The CAM key pair `npm start` seeds into the riskEngineCredentials secret, and that the
 * simulator accepts unless told otherwise: obviously fake, loopback only.
 */
export const localRiskCredentials = {
  SecretId: 'AKIDautopayLocalRiskEngineNotSecret',
  SecretKey: 'autopay-local-risk-key-not-a-secret',
} as const;

/** Tencent refuses a signature whose X-TC-Timestamp is more than five minutes off its clock. */
export const signatureToleranceSeconds = 300;
