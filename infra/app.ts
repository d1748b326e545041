import { App } from 'aws-cdk-lib';
import { applyNagChecks } from './nag.ts';
import { createStacks, type StageSettings, stageSettingsFromContext } from './stages.ts';

const app = new App();
createStacks(app, settingsOrExit(app));
// `cdk synth -c nag=true` runs the checks of test/infra/nag.test.ts: a finding that infra/nag.ts
// does not acknowledge fails the synth.
if (String(app.node.tryGetContext('nag')) === 'true') {
  applyNagChecks(app);
}

/** A context mistake is the operator's to fix: say what it is, without a stack trace. */
function settingsOrExit(scope: App): StageSettings {
  try {
    return stageSettingsFromContext(scope.node);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
