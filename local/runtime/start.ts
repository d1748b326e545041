import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { functionSpecs } from '#shared/wiring.ts';
import { renderOpenApi } from '../tools/openapi.ts';
import { startLocalRuntime } from './local-runtime.ts';
import { type LocalState, localStateFile } from './local-state.ts';
import { seedAgents } from './seed.ts';

/** `npm start`: the whole pipeline on this machine until Ctrl-C. */
const apiPort = Number(process.env.PORT ?? process.env.AUTOPAY_PORT ?? 3000);
const openApi = renderOpenApi();
const stack = await startLocalRuntime({
  apiPort,
  staticResponder: (path) =>
    path === '/openapi.json' ? { type: 'application/json', body: openApi } : undefined,
});
const state: LocalState = {
  environment: stack.environment,
  tableName: stack.tableName,
  queueUrls: stack.queueUrls,
  secretIds: stack.secretIds,
};
mkdirSync(dirname(localStateFile), { recursive: true });
writeFileSync(localStateFile, JSON.stringify(state, null, 2));

const routes = Object.values(functionSpecs).flatMap((spec) =>
  spec.routes.map((route) => `    ${route.method.padEnd(5)} ${stack.apiUrl}${route.path}`),
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
    `  Gateway sim     ${stack.gateway.url}  (ledger: GET ${stack.gateway.url}/admin/ledger)`,
    `  Risk sim        ${stack.risk.url}`,
    `  Agents          ${seedAgents.map((agent) => agent.agentId).join(', ')}`,
    '  Token           npm run -s token -- demo-agent',
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
  process.stdout.write('Stopped.\n');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
