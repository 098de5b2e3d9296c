/**
 * `featurize run [input] --out <uri>`: the state machine executed on this machine, over a folder or an S3
 * prefix of `<label>/<image>` files, into a Parquet dataset. Exit code 0 only when the validation passed.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { defaultImagesDir } from '../../functions/shared/config.ts';
import { ConfigError } from '../../functions/shared/errors.ts';
import type { StorageLocation } from '../../functions/shared/storage/storage.ts';
import {
  addPipelineOptions,
  applySettings,
  checkOutputOutsideInput,
  location,
  pipelineSettings,
  prepareModel,
  type PipelineOptions,
} from '../pipeline-options.ts';

/** Adds `run` to the program (as a `.command()`, so it inherits the program's error and output settings). */
export function addRunCommand(program: Command): void {
  const command = program
    .command('run')
    .description('extract a MobileNetV2 feature vector for every image under <input>, into a validated Parquet dataset')
    .argument('[input]', 'folder or s3://bucket/prefix of <label>/<image> files', join(defaultImagesDir(), 'fruits-360-sample'));
  addPipelineOptions(command).action(run);
}

async function run(inputUri: string, options: PipelineOptions): Promise<void> {
  const started = performance.now();
  applySettings(options);
  // Everything below loads the AWS SDK, sharp or the engine: not needed for --help or a bad argument.
  const [{ openStorage, parseStorageUri }, { newRunId }, { runPipeline }, { startProgress }, { printSummary }] =
    await Promise.all([
      import('../../functions/shared/storage/open-storage.ts'),
      import('../../functions/shared/run-layout.ts'),
      import('../../statemachine/local/run-pipeline.ts'),
      import('../progress.ts'),
      import('../summary.ts'),
    ]);

  const input = location(parseStorageUri(inputUri));
  const output = location(parseStorageUri(options.out));
  await checkInput(input, openStorage);
  checkOutputOutsideInput(input, output);
  await prepareModel();

  const runId = newRunId();
  process.stdout.write(`featurize: run ${runId}\n`);
  const progress = startProgress();
  const outcome = await runPipeline({
    runId,
    input,
    output,
    ...pipelineSettings(options),
    observer: progress,
  }).finally(() => progress.stop());

  printSummary({ runId, outcome, output: openStorage(output), workers: options.workers, seconds: (performance.now() - started) / 1000 });
  if (outcome.status !== 'SUCCEEDED') process.exitCode = 1;
}

type OpenStorage = typeof import('../../functions/shared/storage/open-storage.ts').openStorage;

/** A missing folder, bucket or endpoint is one clear line before anything starts. */
async function checkInput(input: Required<StorageLocation>, openStorage: OpenStorage): Promise<void> {
  if (isAbsolute(input.bucket)) {
    const info = await stat(input.bucket).catch(() => undefined);
    if (!info?.isDirectory()) throw new ConfigError(`no input folder at ${input.bucket}`);
    return;
  }
  // Reading the first key of the listing proves the bucket, the endpoint and the credentials.
  for await (const _ of openStorage(input).list()) break;
}
