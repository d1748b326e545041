import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RotationEvent } from '#domain/rotation.ts';
import { functionSpecs, type SecretName, secretNames } from '#shared/wiring.ts';
import { driveRotation } from './rotation.ts';
import { projectRoot } from './stack.ts';

/** Where `npm start` says what it runs, for the operator tools of another terminal. */
export const localStateFile = join(projectRoot, '.local', 'stack.json');

export interface LocalState {
  readonly environment: Readonly<Record<string, string>>;
  readonly secretIds: Readonly<Record<SecretName, string>>;
}

const usage = `usage: npm run ops -- <command> [args]

commands:
  rotate <secret>    rotate ${secretNames.join(' or ')} now, running the four rotation steps
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function readLocalState(): LocalState {
  try {
    return JSON.parse(readFileSync(localStateFile, 'utf8')) as LocalState;
  } catch {
    return fail(`No local stack found (${localStateFile}). Start one with: npm start`);
  }
}

async function rotate(secret: string | undefined): Promise<void> {
  if (!secretNames.includes(secret as SecretName)) {
    fail(`rotate needs one of: ${secretNames.join(', ')}`);
  }
  const state = readLocalState();
  Object.assign(process.env, state.environment);
  const entry = functionSpecs.keyRotation?.entry;
  if (!entry) fail('The wiring has no keyRotation function');
  const module = (await import(pathToFileURL(join(projectRoot, entry)).href)) as {
    handler: (event: RotationEvent, context: unknown) => Promise<unknown>;
  };
  const secretId = state.secretIds[secret as SecretName];
  const token = await driveRotation((event) => module.handler(event, {}), secretId);
  process.stdout.write(`Rotated ${secret}: version ${token} is now AWSCURRENT.\n`);
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'rotate':
    await rotate(args[0]);
    break;
  default:
    fail(usage);
}
