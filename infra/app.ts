import { App } from 'aws-cdk-lib';
import { createStacks, stageSettingsFromContext } from './stages.ts';

const app = new App();
createStacks(app, stageSettingsFromContext(app.node));
