import { type Mock, vi } from 'vitest';
import type { SettlementObserver } from '#domain/settlement.ts';

export type SpyingSettlementObserver = {
  [K in keyof SettlementObserver]: Mock<SettlementObserver[K]>;
};

/** A settlement observer whose every method is a spy, for tests that assert what was told. */
export function spyingSettlementObserver(): SpyingSettlementObserver {
  return {
    lateSuccess: vi.fn(),
    ignored: vi.fn(),
    refundRejected: vi.fn(),
    paymentWindowExpired: vi.fn(),
    foreignRefund: vi.fn(),
    refundFailed: vi.fn(),
  };
}
