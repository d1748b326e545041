import { signAgentToken, signOwnerToken, signUserToken } from './auth.ts';

/**
 * `npm run token -- <agentId>`: an agent's bearer token for the local API.
 * `npm run token -- --user <userId>`: a user's token (confirm, cancel, refund, manage agents).
 * `npm run token -- <agentId> --user`: the token of that (seeded) agent's owner.
 */
const usage =
  'usage: npm run token -- <agentId> | --user <userId> | <agentId> --user   (e.g. demo-agent)\n';
const args = process.argv.slice(2);

async function tokenFor(argv: readonly string[]): Promise<string | undefined> {
  const [first, second] = argv;
  if (argv.length === 2 && first === '--user' && second) return signUserToken(second);
  if (argv.length === 2 && first && second === '--user') return signOwnerToken(first);
  if (argv.length === 1 && first && !first.startsWith('--')) return signAgentToken(first);
  return undefined;
}

try {
  const token = await tokenFor(args);
  if (token === undefined) {
    process.stderr.write(usage);
    process.exit(2);
  }
  process.stdout.write(`${token}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
