/**
 * What `featurize run` and `featurize watch` share: where the dataset goes and how the local pipeline runs
 * (batches, workers, model, preprocessing, PCA), and how those flags become the pipeline's settings.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { type Command, Option } from 'commander';
import { engineNames, resizeModes } from '../functions/shared/config.ts';
import { ConfigError } from '../functions/shared/errors.ts';
import type { PcaSetting } from '../functions/shared/pca/pca-setting.ts';
import { separationProblem } from '../functions/shared/storage/locations.ts';
import type { StorageLocation } from '../functions/shared/storage/storage.ts';
import { nonNegativeInteger, pcaShorthand, positiveInteger, s3EndpointOption, useS3Endpoint, wholePercentage } from './options.ts';

export interface PipelineOptions {
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
  /** Update the nearest-neighbour index after publishing; undefined: when the output has one. */
  index?: boolean;
}

export function addPipelineOptions(command: Command): Command {
  return command
    .option('-o, --out <uri>', 'where the dataset goes: folder or s3://bucket/prefix', './out')
    .addOption(s3EndpointOption())
    .option('--batch-size <n>', "images per extraction batch (the map's MaxItemsPerBatch)", positiveInteger, 50)
    .option('--max-concurrency <n>', 'batches running at once at most; 0: one per worker', nonNegativeInteger, 0)
    .option(
      '--tolerated-failure-percent <p>',
      'whole percentage of images the pipeline may fail on (unreadable, failed batches) in a successful run; bad files never fail a run',
      wholePercentage,
      5,
    )
    .addOption(
      new Option('--workers <n>', 'worker threads extracting batches, each with its own model')
        .argParser(positiveInteger)
        .default(availableParallelism(), `one per core: ${availableParallelism()}`),
    )
    .addOption(new Option('--resize <mode>', 'how an image becomes square (default: squash, or FEATURIZE_RESIZE)').choices(resizeModes))
    .option('--model <dir>', 'model directory: model.json and weights (default: ../shared/models/…, or FEATURIZE_MODEL_DIR)')
    .addOption(new Option('--engine <name>', 'inference engine (default: onnx, or FEATURIZE_ENGINE)').choices(engineNames))
    .option(
      '--max-pixels <n>',
      'larger images are refused from their header (default: 100000000, or FEATURIZE_MAX_PIXELS)',
      positiveInteger,
    )
    .option(
      '--pca <setting>',
      'PCA after validation: a variance share such as 0.95, a number of components such as 64, or off',
      pcaShorthand,
    )
    .addOption(
      new Option('--pca-model <uri>', 'apply a saved PCA model (…/pca/<modelId>/model.json) instead of fitting one').conflicts('pca'),
    )
    .option('--index', "build or update the dataset's nearest-neighbour index (<out>/index/) after publishing (default: when it has one)")
    .option('--no-index', 'do not update the index after publishing, even when the output has one');
}

/** The flags given become the FEATURIZE_* settings of this process and its workers; the others keep the environment's. */
export function applySettings(options: PipelineOptions): void {
  const settings: Record<string, string | number | undefined> = {
    FEATURIZE_RESIZE: options.resize,
    FEATURIZE_MODEL_DIR: options.model,
    FEATURIZE_ENGINE: options.engine,
    FEATURIZE_MAX_PIXELS: options.maxPixels,
  };
  for (const [name, value] of Object.entries(settings)) if (value !== undefined) process.env[name] = String(value);
  useS3Endpoint(options.s3Endpoint);
}

/** The run settings the flags give, for runPipeline. */
export function pipelineSettings(options: PipelineOptions) {
  return {
    maxItemsPerBatch: options.batchSize,
    maxConcurrency: options.maxConcurrency,
    toleratedFailurePercentage: options.toleratedFailurePercent,
    workers: options.workers,
    env: process.env,
    ...pcaSetting(options),
  };
}

function pcaSetting(options: PipelineOptions): { pca?: PcaSetting } {
  if (options.pcaModel !== undefined) return { pca: { model: options.pcaModel } };
  return options.pca !== undefined ? { pca: options.pca } : {};
}

/** A missing local folder is one clear line before anything starts. */
export async function requireFolder(path: string, message: string): Promise<void> {
  if (!(await stat(path).catch(() => undefined))?.isDirectory()) throw new ConfigError(`${message} ${path}`);
}

/** The one rule for an input and its output (functions/shared/storage/locations.ts): a refusal before anything starts. */
export function checkOutputOutsideInput(input: Required<StorageLocation>, output: Required<StorageLocation>): void {
  const problem = separationProblem(input, output);
  if (problem) throw new ConfigError(problem.replace('choose an output outside the input', 'choose --out elsewhere'));
}

/**
 * A bad FEATURIZE_* value or a missing model fails here, once, rather than in every worker; for the onnx and
 * onnx-int8 engines the model's ONNX export is made (a few seconds) when it is missing or stale.
 */
export async function prepareModel(): Promise<void> {
  const [config, { loadModelDescriptor }, { ensureOnnxExport, ensureOnnxInt8Export }] = await Promise.all([
    import('../functions/shared/config.ts'),
    import('../functions/shared/model/model-descriptor.ts'),
    import('../tools/onnx-export/ensure-export.ts'),
  ]);
  const settings = config.extractionSettings();
  const descriptor = await loadModelDescriptor(settings.modelDir);
  if (settings.engine === 'tfjs') return;
  const made =
    settings.engine === 'onnx'
      ? await ensureOnnxExport(settings.modelDir, config.onnxModelPath(descriptor.name))
      : await ensureOnnxInt8Export(settings.modelDir, config.tfliteModelPath(), config.onnxInt8ModelPath(descriptor.name));
  if (made) process.stdout.write(`featurize: exported ${made.sourceModel} to ONNX for the ${settings.engine} engine: ${made.path}\n`);
}
