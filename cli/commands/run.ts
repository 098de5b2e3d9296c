/**
 * `featurize run [input] --out <uri>`: the state machine executed on this machine, over a folder or an S3
 * prefix of `<label>/<image>` files, into a Parquet dataset. Exit code 0 only when the validation passed.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Option, type Command } from 'commander';
import { defaultImagesDir, engineNames, resizeModes } from '../../functions/shared/config.ts';
import { ConfigError } from '../../functions/shared/errors.ts';
import type { StorageLocation } from '../../functions/shared/storage/storage.ts';
import type { PcaSetting } from '../../functions/shared/pca/pca-setting.ts';
import { nonNegativeInteger, pcaShorthand, percentage, positiveInteger, s3EndpointOption, useS3Endpoint } from '../options.ts';

interface RunOptions {
  out: string;
  s3Endpoint?: string;
  batchSize: number;
  maxConcurrency: number;
  toleratedFailurePercent: number;
  workers: number;
  resize?: string;
  model?: string;
  engine?: string;
  maxPixels?: number;
  pca?: number | null;
  pcaModel?: string;
}

/** Adds `run` to the program (as a `.command()`, so it inherits the program's error and output settings). */
export function addRunCommand(program: Command): void {
  program
    .command('run')
    .description('extract a MobileNetV2 feature vector for every image under <input>, into a validated Parquet dataset')
    .argument('[input]', 'folder or s3://bucket/prefix of <label>/<image> files', join(defaultImagesDir(), 'fruits-360-sample'))
    .option('-o, --out <uri>', 'where the dataset goes: folder or s3://bucket/prefix', './out')
    .addOption(s3EndpointOption())
    .option('--batch-size <n>', 'images per extraction batch (the map\'s MaxItemsPerBatch)', positiveInteger, 50)
    .option('--max-concurrency <n>', 'batches running at once at most; 0: one per worker', nonNegativeInteger, 0)
    .option('--tolerated-failure-percent <p>', 'share of images that may fail (bad files, failed batches) in a successful run', percentage, 5)
    .addOption(
      new Option('--workers <n>', 'worker threads extracting batches, each with its own model')
        .argParser(positiveInteger)
        .default(availableParallelism(), `one per core: ${availableParallelism()}`),
    )
    .addOption(new Option('--resize <mode>', 'how an image becomes square (default: squash, or FEATURIZE_RESIZE)').choices(resizeModes))
    .option('--model <dir>', 'model directory: model.json and weights (default: ../shared/models/…, or FEATURIZE_MODEL_DIR)')
    .addOption(new Option('--engine <name>', 'inference engine (default: tfjs, or FEATURIZE_ENGINE)').choices(engineNames))
    .option('--max-pixels <n>', 'larger images are refused from their header (default: 100000000, or FEATURIZE_MAX_PIXELS)', positiveInteger)
    .option('--pca <setting>', 'PCA after validation: a variance share such as 0.95, a number of components such as 64, or off', pcaShorthand)
    .addOption(new Option('--pca-model <uri>', 'apply a saved PCA model (…/pca/<modelId>/model.json) instead of fitting one').conflicts('pca'))
    .action(run);
}

async function run(inputUri: string, options: RunOptions): Promise<void> {
  const started = performance.now();
  applySettings(options);
  // Everything below loads the AWS SDK, sharp or the engine: not needed for --help or a bad argument.
  const [{ extractionSettings }, { loadModelDescriptor }, { openStorage, parseStorageUri }, { newRunId }, { runPipeline }, { startProgress }, { printSummary }] =
    await Promise.all([
      import('../../functions/shared/config.ts'),
      import('../../functions/shared/model/model-descriptor.ts'),
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
  // A bad FEATURIZE_* value or a missing model fails here, not in every worker.
  await loadModelDescriptor(extractionSettings().modelDir);

  const runId = newRunId();
  process.stdout.write(`featurize: run ${runId}\n`);
  const progress = startProgress();
  const outcome = await runPipeline({
    runId,
    input,
    output,
    maxItemsPerBatch: options.batchSize,
    maxConcurrency: options.maxConcurrency,
    toleratedFailurePercentage: options.toleratedFailurePercent,
    workers: options.workers,
    env: process.env,
    observer: progress,
    ...pcaSetting(options),
  }).finally(() => progress.stop());

  printSummary({ runId, outcome, output: openStorage(output), workers: options.workers, seconds: (performance.now() - started) / 1000 });
  if (outcome.status !== 'SUCCEEDED') process.exitCode = 1;
}

function pcaSetting(options: RunOptions): { pca?: PcaSetting } {
  if (options.pcaModel !== undefined) return { pca: { model: options.pcaModel } };
  return options.pca !== undefined ? { pca: options.pca } : {};
}

/** The flags given become the FEATURIZE_* settings of this process and its workers; the others keep the environment's. */
function applySettings(options: RunOptions): void {
  const settings: Record<string, string | number | undefined> = {
    FEATURIZE_RESIZE: options.resize,
    FEATURIZE_MODEL_DIR: options.model,
    FEATURIZE_ENGINE: options.engine,
    FEATURIZE_MAX_PIXELS: options.maxPixels,
  };
  for (const [name, value] of Object.entries(settings)) if (value !== undefined) process.env[name] = String(value);
  useS3Endpoint(options.s3Endpoint);
}

function location(parsed: StorageLocation): Required<StorageLocation> {
  return { bucket: parsed.bucket, prefix: parsed.prefix ?? '' };
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

/** Outputs written under the input would be listed as images by the next run. */
function checkOutputOutsideInput(input: Required<StorageLocation>, output: Required<StorageLocation>): void {
  const inside = isAbsolute(input.bucket)
    ? `${output.bucket}/`.startsWith(`${input.bucket.replace(/\/$/, '')}/`)
    : output.bucket === input.bucket && output.prefix.startsWith(input.prefix);
  if (inside) throw new ConfigError('the output location is inside the input location: choose --out elsewhere');
}
