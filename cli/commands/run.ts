/**
 * `featurize run [input] --out <uri>`: the state machine executed on this machine, over a folder or an S3
 * prefix of `<label>/<image>` files, into a Parquet dataset. Exit code 0 only when the validation passed.
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { defaultImagesDir } from '../../functions/shared/config.ts';
import {
  addPipelineOptions,
  applySettings,
  checkOutputOutsideInput,
  type PipelineOptions,
  prepareModel,
  requireFolder,
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
  const [{ openStorage, parseStorageUri }, { newRunId }, { runWithProgress }] = await Promise.all([
    import('../../functions/shared/storage/open-storage.ts'),
    import('../../functions/shared/run-layout.ts'),
    import('../local-run.ts'),
  ]);

  const given = parseStorageUri(inputUri);
  const output = parseStorageUri(options.out);
  if (isAbsolute(given.bucket)) await requireFolder(given.bucket, 'no input folder at');
  // Paths are recorded from the folder's real path: the same folder reached through a link is the same scope.
  const input = isAbsolute(given.bucket) ? { ...given, bucket: await realpath(given.bucket) } : given;
  // Reading the first key of the listing proves the bucket, the endpoint and the credentials.
  if (!isAbsolute(input.bucket)) for await (const _ of openStorage(input).list()) break;
  checkOutputOutsideInput(input, output);
  await prepareModel();

  const runId = newRunId();
  process.stdout.write(`featurize: run ${runId}\n`);
  const outcome = await runWithProgress({ runId, input, output, options, started, interruptible: true });
  if (outcome.status !== 'SUCCEEDED') process.exitCode = 1;
}
