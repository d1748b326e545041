import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { functionSpecs } from '#shared/wiring.ts';
import { renderOpenApi } from '../tools/openapi.ts';
import { parseLocalGateway, startLocalRuntime } from './local-runtime.ts';
import { type LocalState, localStateFile } from './local-state.ts';
import { seedAgents } from './seed.ts';
import {
  apiPortFrom,
  endpointsFile,
  endpointsOf,
  ensurePortFree,
  faultsLine,
  portInUse,
  startOrExplain,
  writeEndpoints,
} from './startup.ts';

/** `npm start`: the whole pipeline on this machine until Ctrl-C. */
const stack = await startOrExplain(async () => {
  const apiPort = apiPortFrom(process.env);
  await ensurePortFree(apiPort);
  const openApi = renderOpenApi();
  return startLocalRuntime({
    apiPort,
    gateway: parseLocalGateway(process.env.GATEWAY),
    staticResponder: (path) =>
      path === '/openapi.json' ? { type: 'application/json', body: openApi } : undefined,
  }).catch((error: NodeJS.ErrnoException) => {
    // Taken in the seconds the emulators took to start.
    throw error.code === 'EADDRINUSE' ? portInUse(apiPort) : error;
  });
});
const state: LocalState = {
  environment: stack.environment,
  tableName: stack.tableName,
  queueUrls: stack.queueUrls,
  secretIds: stack.secretIds,
};
mkdirSync(dirname(localStateFile), { recursive: true });
writeFileSync(localStateFile, JSON.stringify(state, null, 2));
const endpoints = endpointsOf(stack);
writeEndpoints(endpointsFile, endpoints);

const routes = Object.values(functionSpecs).flatMap((spec) =>
  spec.routes.map((route) => `    ${route.method.padEnd(6)} ${stack.apiUrl}${route.path}`),
);
process.stdout.write(
  [
    'autopay is running locally:',
    `  HTTP API        ${stack.apiUrl}`,
    ...routes,
    `  DynamoDB Local  ${stack.dynamodbEndpoint}  (table ${stack.tableName})`,
    `  SQS (fauxqs)    ${stack.sqsEndpoint}`,
    ...Object.entries(stack.queueUrls).map(
      ([name, queue]) => `    ${name}: ${queue.url}  (DLQ ${queue.dlqUrl})`,
    ),
    `  Secrets (moto)  ${stack.secretsManagerEndpoint}`,
    `  Gateway sim     ${stack.gateway.url}  (ledger: GET ${endpoints.gateway.ledger})`,
    `    Stripe API    ${endpoints.stripe.url}  (key ${endpoints.stripe.apiKey}; ${
      endpoints.stripe.active ? 'in use: GATEWAY=stripe' : 'not in use: GATEWAY=stripe npm start'
    })`,
    `    faults: ${faultsLine('GATEWAY_FAULTS', endpoints.gateway.faults, { errorRate: 0.1 })}`,
    `    callbacks to ${endpoints.callbacks.url}, signed with ${endpoints.callbacks.secret}`,
    `  Risk sim        ${stack.risk.url}`,
    `    faults: ${faultsLine('RISK_FAULTS', endpoints.risk.faults, { internalErrorRate: 0.1 })}`,
    `  Agents          ${seedAgents.map((agent) => `${agent.agentId} (${agent.ownerId})`).join(', ')}`,
    '  Token           npm run token -- demo-agent   (a user: npm run token -- --user demo-user)',
    '  Callback        npm run callback -- payment.succeeded <orderId> <amount>',
    '  Webhooks        npm run webhook-listener -- cautious-agent',
    `For scripts (also in ${relative(process.cwd(), endpointsFile)}):`,
    JSON.stringify(endpoints),
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'),
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping the local runtime...\n`);
  await stack.stop();
  rmSync(localStateFile, { force: true });
  rmSync(endpointsFile, { force: true });
  process.stdout.write('Stopped.\n');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
