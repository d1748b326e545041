import { signLocalToken } from './auth.ts';

/** `npm run token -- <agentId>`: a bearer token the local API accepts for that agent. */
const agentId = process.argv[2];
if (!agentId) {
  process.stderr.write('usage: npm run token -- <agentId>   (e.g. demo-agent)\n');
  process.exit(2);
}
process.stdout.write(`${await signLocalToken(agentId)}\n`);
