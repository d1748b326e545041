import {
  checkFaultPatch,
  FaultConfigError,
  type FaultPatch,
  isRecord,
  oneOf,
  parseScript,
  SimulatorError,
} from '../faults.ts';
import type { GatewayPayment, Ledger } from './contract.ts';
import {
  type GatewayFaults,
  gatewayFaultPatchSchema,
  type ScriptedGatewayFault,
  scriptedGatewayFaultSchema,
} from './fault-settings.ts';

/** The simulator's own controls, which `/admin/*` drives over HTTP for other processes. */
export interface AdminControls {
  ledger(): Ledger;
  faults(): GatewayFaults;
  setFaults(patch: FaultPatch<GatewayFaults>): void;
  /** Queues the faults and says how many wait now. */
  scriptNext(faults: ScriptedGatewayFault[]): number;
  spareCharges(orderIds: string[]): void;
  reset(): void;
  settle(paymentId: string, status: 'SUCCESS' | 'FAILED'): Promise<void>;
  payment(id: string): GatewayPayment | undefined;
}

export async function answerAdmin(
  gateway: AdminControls,
  route: string,
  body: unknown,
): Promise<unknown> {
  switch (route) {
    case 'GET /admin/ledger':
      return gateway.ledger();
    case 'GET /admin/faults':
      return gateway.faults();
    case 'PUT /admin/faults':
      gateway.setFaults(checkFaultPatch(gatewayFaultPatchSchema, body));
      return gateway.faults();
    case 'POST /admin/faults/next':
      return { queued: gateway.scriptNext(parseScript(body, scriptedGatewayFaultSchema)) };
    case 'POST /admin/faults/spare':
      gateway.spareCharges(orderIdsIn(body));
      return undefined;
    case 'POST /admin/reset':
      gateway.reset();
      return undefined;
  }
  const settle = /^POST \/admin\/payments\/([^/]+)\/settle$/.exec(route);
  if (settle?.[1] === undefined) throw new SimulatorError(404, 'not_found', `No ${route}.`);
  const id = decodeURIComponent(settle[1]);
  const status = oneOf(isRecord(body) ? body.status : undefined, ['SUCCESS', 'FAILED'], 'status');
  if (status === undefined) throw new FaultConfigError('Send {"status": "SUCCESS" | "FAILED"}.');
  await gateway.settle(id, status);
  return gateway.payment(id);
}

function orderIdsIn(body: unknown): string[] {
  const orderIds = isRecord(body) ? body.orderIds : undefined;
  if (
    !Array.isArray(orderIds) ||
    !orderIds.every((id): id is string => typeof id === 'string' && id.length > 0)
  ) {
    throw new FaultConfigError('Send {"orderIds": ["<order id>", ...]}.');
  }
  return orderIds;
}
