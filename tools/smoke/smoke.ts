#!/usr/bin/env node
/**
 * `npm run smoke:aws [-- --stack <name>] [-- --keep]`: the first thing to run after `cdk deploy` works for you.
 * Deploys a stack of its own (default FeaturizeSmoke), uploads awkward keys (a space, `+`, `%`, non-ASCII, a
 * truncated JPEG, a folder marker), follows the runs the upload trigger starts, runs over the same prefix with
 * `featurize start --wait`, checks what a user must see after each, prints the findings, and tears everything down
 * (the stack and its buckets) unless --keep. Exit code 0 only if every check passed.
 */
import { Command, Option } from 'commander';
import { newRunId } from '../../functions/shared/run-layout.ts';
import { AwsSmokeCloud } from './aws-cloud.ts';
import { runSmoke } from './run-smoke.ts';

const program = new Command('smoke:aws')
  .description('deploy a stack of its own, run awkward uploads through both paths, check the dataset, tear down')
  .addOption(
    new Option('--stack <name>', 'the stack to deploy and destroy (never one the smoke test did not make)').default('FeaturizeSmoke'),
  )
  .option('--keep', 'leave the stack and its buckets in place, to look at them')
  .parse();
const options = program.opts<{ stack: string; keep?: boolean }>();
const log = (line: string) => process.stderr.write(`smoke: ${line}\n`);

const cloud = new AwsSmokeCloud({ stackName: options.stack, log });
try {
  const report = await runSmoke(cloud, `smoke-${newRunId()}`, log);
  for (const path of report.paths) {
    const runs = path.runs.map((run) => `${run.runId} ${run.status}`).join(', ');
    process.stdout.write(`${path.path} path: ${path.findings.length === 0 ? 'passed' : 'FAILED'} (${runs})\n`);
    for (const finding of path.findings) process.stdout.write(`  ${finding}\n`);
  }
  process.stdout.write(`smoke test ${report.passed ? 'passed' : 'failed'}: s3 folder ${report.folder}\n`);
  if (!report.passed) process.exitCode = 1;
} catch (error) {
  process.stderr.write(`smoke: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  if (options.keep)
    log(`kept stack ${options.stack} and its buckets (--keep): npx cdk destroy -c stackName=${options.stack} removes the stack`);
  else await cloud.teardown().catch((error: Error) => log(`teardown failed, remove stack ${options.stack} by hand: ${error.message}`));
}
