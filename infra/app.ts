#!/usr/bin/env node
/**
 * The CDK app (cdk.json: `node infra/app.ts`): one stack, its settings from context or environment
 * (infra/settings.ts), checked by cdk-nag's AwsSolutions pack: any finding not acknowledged in code fails synth.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FeaturizeStack } from './featurize-stack.ts';
import { stackSettings } from './settings.ts';

const app = new App();
const settings = stackSettings((key) => app.node.tryGetContext(key));
new FeaturizeStack(app, settings.stackName, {
  settings,
  description: 'fruits-featurize: S3 images to a Parquet dataset of MobileNetV2 feature vectors (Step Functions, Lambda)',
  // The account and region of the CLI's credentials (cdk deploy --profile ...), resolved at deploy time.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
