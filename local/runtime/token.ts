import { USER_SCOPES } from '#shared/wiring.ts';
import { signLocalToken } from './auth.ts';

/**
 * `npm run token -- <agentId>`: a bearer token the local API accepts for that agent.
 * `npm run token -- <agentId> --user`: the token of the agent's user, which may also confirm and refund.
 */
const [agentId, flag] = process.argv.slice(2);
if (!agentId || (flag !== undefined && flag !== '--user')) {
  process.stderr.write('usage: npm run token -- <agentId> [--user]   (e.g. demo-agent)\n');
  process.exit(2);
}
const scopes = flag === '--user' ? [...USER_SCOPES] : [];
process.stdout.write(`${await signLocalToken(agentId, scopes)}\n`);
