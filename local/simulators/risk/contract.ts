/**
 * What the risk engine's action sends and answers: a Tencent Cloud API 3.0 style action
 * (docs/GATEWAY.md, "Risk engine").
 */

export const riskAction = 'AssessPaymentRisk';

export type RiskLevel = 'pass' | 'review' | 'reject';

export type RiskErrorCode =
  | 'InternalServerError'
  | 'RequestLimitExceeded'
  | 'InvalidParameter'
  | 'AuthFailure';

export interface RiskRequest {
  OrderId: string;
  AgentId: string;
  Amount: number;
  Currency: string;
  PaymentMethod: string;
}

export const riskLevels = ['pass', 'review', 'reject'] as const;
