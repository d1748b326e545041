import { randomUUID } from 'node:crypto';
import { type RotationEvent, rotationSteps } from '#domain/rotation.ts';

/**
 * Runs a rotation's four steps in order, with one token, exactly as Secrets Manager calls a
 * rotation function. Locally it stands in for RotateSecret, which moto cannot run without a
 * Lambda backend; the rotation function itself is the one deployed.
 */
export async function driveRotation(
  invoke: (event: RotationEvent) => Promise<unknown>,
  secretId: string,
  token: string = randomUUID(),
): Promise<string> {
  for (const step of rotationSteps) {
    await invoke({ SecretId: secretId, ClientRequestToken: token, Step: step });
  }
  return token;
}
