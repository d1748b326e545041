import { execFile } from 'node:child_process';
import { delimiter } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import cdkJson from '../../cdk.json' with { type: 'json' };
import { projectRoot } from '../../local/runtime/local-runtime.ts';
import packageJson from '../../package.json' with { type: 'json' };

const run = promisify(execFile);

/** Lambda's runtime is nodejs24.x (test/infra/service-stack.test.ts); local code runs on 24 too. */
const lambdaNodeMajor = '24';

describe('the Node.js that runs the project locally', () => {
  it("is the project's own Node 24, the major Lambda runs, in every test worker", () => {
    // Act
    const version = process.versions.node;

    // Assess
    expect(version.split('.')[0]).toBe(lambdaNodeMajor);
    expect(version).toBe(packageJson.devDependencies.node);
  });

  it("runs the CDK app through npx even from a shell that never put the project's bin first", async () => {
    // Prepare: a shell outside npm scripts, as when a globally installed cdk runs cdk.json's app
    const path = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((entry) => !entry.includes('node_modules'))
      .join(delimiter);
    const [launcher, tool] = cdkJson.app.split(' ');

    // Act
    const { stdout } = await run(
      String(launcher),
      [String(tool), '--eval', 'process.stdout.write(process.versions.node)'],
      { cwd: projectRoot, env: { ...process.env, PATH: path } },
    );

    // Assess
    expect([launcher, tool]).toEqual(['npx', 'tsx']);
    expect(stdout).toBe(packageJson.devDependencies.node);
  });
});
