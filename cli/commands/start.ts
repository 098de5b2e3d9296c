/**
 * `featurize start --bucket B [--prefix P] [--out-prefix O] [--wait]`: one run of the deployed state machine
 * (found in the stack's outputs, or given). Prints the execution ARN; with --wait, follows the run with a
 * progress bar and prints its validation summary, and the exit code is 0 only when the run succeeded.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { newRunId, runIdPattern } from '../../functions/shared/run-layout.ts';
import { pcaShorthand, positiveSeconds } from '../options.ts';

interface StartOptions {
  bucket: string;
  prefix?: string;
  outPrefix?: string;
  runId?: string;
  pca?: number | null;
  index?: boolean;
  wait?: boolean;
  stack: string;
  stateMachineArn?: string;
  interval: number;
}

export function addStartCommand(program: Command): void {
  program
    .command('start')
    .description('start a run of the deployed pipeline over an S3 prefix of <label>/<image> files; prints the execution ARN')
    .requiredOption('--bucket <name>', 'the bucket holding the images')
    .option('--prefix <prefix>', "key prefix of the images (default: the deployment's input prefix)")
    .option(
      '--out-prefix <prefix>',
      "where the dataset goes in the deployment's output bucket: its output prefix (the default) or one of its extraOutputPrefixes",
    )
    .option('--run-id <id>', 'name of the execution and of the run (default: a new sortable id)', runId)
    .option(
      '--pca <setting>',
      "PCA after validation: off, a variance share such as 0.95, or a number of components (default: the deployment's)",
      pcaShorthand,
    )
    .option('--index', "update the dataset's nearest-neighbour index after publishing (default: the deployment's indexAfterPublish)")
    .option('--no-index', 'do not update the index after publishing, whatever the deployment says')
    .option('--wait', 'follow the run to its end; exit code 0 only if it succeeded')
    .addOption(
      new Option('--stack <name>', 'the deployed stack, whose outputs name the state machine')
        .env('FEATURIZE_STACK_NAME')
        .default('Featurize'),
    )
    .addOption(
      new Option('--state-machine-arn <arn>', 'the state machine, instead of reading the stack').env('FEATURIZE_STATE_MACHINE_ARN'),
    )
    .option('--interval <seconds>', 'seconds between polls with --wait', positiveSeconds, 5)
    .action(start);
}

async function start(options: StartOptions): Promise<void> {
  // The SDK loads on use: `--help` and a bad argument stay fast.
  const { awsClients, checkGrantedOutput, checkSeparate, deployedDefaults, runLocations, stateMachineArnOf, startRun, waitForRun } =
    await import('../deployed-runs.ts');
  const { normalizePrefix } = await import('../../functions/shared/storage/storage.ts');

  const { sfn, cloudFormation } = awsClients(options.stateMachineArn);
  const stateMachineArn = options.stateMachineArn ?? (await stateMachineArnOf(options.stack, cloudFormation));
  const defaults = await deployedDefaults(sfn, stateMachineArn);
  // Whole objects: the definition merges top-level keys, so a partial `output` would lose its bucket.
  const overrides = {
    input: { bucket: options.bucket, prefix: normalizePrefix(options.prefix ?? defaults.input.prefix) },
    ...(options.outPrefix !== undefined ? { output: { ...defaults.output, prefix: normalizePrefix(options.outPrefix) } } : {}),
    ...(options.pca !== undefined ? { pca: options.pca } : {}),
    ...(options.index !== undefined ? { index: options.index } : {}),
  };
  const run = runLocations(defaults, overrides);
  checkSeparate(run);
  checkGrantedOutput(defaults, run.output);
  if (!`${run.input.bucket}/${run.input.prefix}`.startsWith(`${defaults.input.bucket}/${defaults.input.prefix}`)) {
    process.stderr.write(
      `featurize: warning: the deployment may read s3://${defaults.input.bucket}/${defaults.input.prefix} only ` +
        `(its role's grants); listing s3://${run.input.bucket}/${run.input.prefix} will be denied unless you granted it\n`,
    );
  }

  if (defaults.maxConcurrency !== undefined)
    await warnIfShortOfConcurrency(stateMachineArn, defaults.maxConcurrency, defaults.extractFunctionArn);

  const executionArn = await startRun(sfn, stateMachineArn, options.runId ?? newRunId(), overrides);
  process.stdout.write(`${executionArn}\n`);
  if (!options.wait) return;

  const { mapRunProgress } = await import('../map-run-progress.ts');
  const progress = mapRunProgress();
  const status = await waitForRun(sfn, executionArn, { intervalMs: options.interval * 1000, onItems: progress.update, defaults }).finally(
    () => progress.stop(),
  );
  const { printRunStatus } = await import('./status.ts');
  printRunStatus(status);
  if (status.status !== 'SUCCEEDED') process.exitCode = 1;
}

/**
 * A warning, before the run starts, when the account's Lambda concurrency cannot give its map the batches it asks
 * for (new accounts may have as few as 10 concurrent executions). Never fails the start: a caller who may not read
 * the account's settings gets a note instead.
 */
async function warnIfShortOfConcurrency(stateMachineArn: string, maxConcurrency: number, extractFunctionArn?: string): Promise<void> {
  const { LambdaClient } = await import('@aws-sdk/client-lambda');
  const { concurrencyShortfall, lambdaConcurrency, regionConfig } = await import('../deployed-runs.ts');
  const { region } = regionConfig(stateMachineArn);
  try {
    const concurrency = await lambdaConcurrency(new LambdaClient({ ...(region ? { region } : {}) }), extractFunctionArn);
    const shortfall = concurrencyShortfall(maxConcurrency, concurrency, region);
    if (shortfall) process.stderr.write(`featurize: warning: ${shortfall}\n`);
  } catch (error) {
    process.stderr.write(`featurize: note: could not read this account's Lambda concurrency (${(error as Error).name}): not checked\n`);
  }
}

function runId(value: string): string {
  if (!runIdPattern.test(value)) throw new InvalidArgumentError('expected letters, digits, dot, dash or underscore (at most 80).');
  return value;
}
