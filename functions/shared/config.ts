/**
 * Settings read from the environment, in one place. Defaults point at the sibling `../shared` folder of a
 * checkout (model and sample images); every default can be replaced by an environment variable (or the CLI
 * flag that sets it), so a user outside this repository points the project at their own copies.
 */
import { availableParallelism, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The folder holding `models/` and `images/` by default: `../shared` beside the checkout. */
export function sharedDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FEATURIZE_SHARED_DIR ?? join(repoRoot, '..', 'shared'));
}

export function defaultModelDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FEATURIZE_MODEL_DIR ?? join(sharedDir(env), 'models', 'mobilenet_v2_100_224_qat_tfjs'));
}

/**
 * The model folder the validator checks vector shapes against: FEATURIZE_MODEL_DIR where set (locally the CLI
 * sets it), else none: the deployed validator has no model folder and checks the default model's shape.
 */
export function validationModelDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.FEATURIZE_MODEL_DIR;
}

/** This user's cache for the project (Node 22 builds, lock files of S3 outputs): XDG_CACHE_HOME or ~/.cache. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'featurize');
}

export function defaultImagesDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FEATURIZE_IMAGES_DIR ?? join(sharedDir(env), 'images'));
}

export const resizeModes = ['squash', 'center-crop'] as const;
/** `squash`: the whole image resized to the model's square input, aspect ratio ignored (the original job).
 *  `center-crop`: the largest centred square, then resized (keeps proportions, loses the borders). */
export type ResizeMode = (typeof resizeModes)[number];

/**
 * `onnx` (ONNX Runtime on the ONNX export, `npm run build:onnx`) is the default: on the same two cores it ran
 * 190 images/s against TF.js wasm's 49 (3.9x), 10.3 CPU ms per image against 39.7 (`npm run tune:onnx`, 2-core
 * x86 machine shared with other work). `tfjs` needs no build step; its native backend (tfjs-node) stays in the
 * Lambda image as the fallback, not measured against ONNX Runtime here. `onnx-int8` (opt-in, local only: the
 * Lambda image carries no int8 file) runs the model's int8 form (`npm run build:onnx-int8`), whose vectors are
 * close to the float ones but not equal, so they carry a model id of their own.
 */
export const engineNames = ['tfjs', 'onnx', 'onnx-int8'] as const;
export type EngineName = (typeof engineNames)[number];

export interface ExtractionSettings {
  /** Directory of the model artifact (`model.json` and weights, optional `featurize-model.json`). */
  modelDir: string;
  engine: EngineName;
  resize: ResizeMode;
  /** Images with more pixels than this are refused from their header, before any decoding. */
  maxPixels: number;
  /** Objects larger than this are refused before they are read. */
  maxBytes: number;
  /** Images per inference call. */
  inferenceBatchSize: number;
  /** Objects read and decoded at once ahead of inference. */
  readConcurrency: number;
}

const positiveInt = z.coerce.number().int().positive();
/** Objects (images, shards, older parts) read ahead at once: one setting for the extractor and the reducer. */
const readConcurrency = positiveInt.max(256).default(8);

/** The defaults, exported for the deployment's settings (infra/settings.ts) to start from the same values. */
export const defaultEngine: EngineName = 'onnx';
export const defaultResize: ResizeMode = 'squash';

const settingsSchema = z.object({
  FEATURIZE_ENGINE: z.enum(engineNames).default(defaultEngine),
  FEATURIZE_RESIZE: z.enum(resizeModes).default(defaultResize),
  FEATURIZE_MAX_PIXELS: positiveInt.default(100_000_000),
  FEATURIZE_MAX_BYTES: positiveInt.default(128 * 1024 * 1024),
  // 8: ONNX Runtime spends the same CPU per image at 1 and 8 (10.5 ms), 4, 8 and 10% more at 16, 32 and 64 while
  // memory grows (two engines: 335, 520, 760, 1131, 1890 MB peak at 1, 8, 16, 32, 64); a multi-threaded engine
  // splits a batch of 8 better than single images. TF.js wasm ran 1 and 16 alike (26 images/s).
  FEATURIZE_INFERENCE_BATCH: positiveInt.max(256).default(8),
  FEATURIZE_READ_CONCURRENCY: readConcurrency,
});

/** Extraction settings from `FEATURIZE_*` variables; a bad value is a ConfigError naming the variable. */
export function extractionSettings(env: NodeJS.ProcessEnv = process.env): ExtractionSettings {
  const s = parseSettings(settingsSchema, env);
  return {
    modelDir: defaultModelDir(env),
    engine: s.FEATURIZE_ENGINE,
    resize: s.FEATURIZE_RESIZE,
    maxPixels: s.FEATURIZE_MAX_PIXELS,
    maxBytes: s.FEATURIZE_MAX_BYTES,
    inferenceBatchSize: s.FEATURIZE_INFERENCE_BATCH,
    readConcurrency: s.FEATURIZE_READ_CONCURRENCY,
  };
}

export interface ReduceSettings {
  /**
   * Rows per Parquet part: about 3.7 KB a row with zstd, so the default 25,000 gives parts of roughly 90 MB.
   * At most 500,000: even incompressible (5.4 KB a row) a part stays under 2.7 GB, so that publishing copies it
   * in one S3 CopyObject (5 GB at most) and the reducer, which holds one part's bytes, fits a Lambda's memory.
   */
  partRows: number;
  /** Rows per row group: what readers split work on, and what the writer holds in memory at once. */
  rowGroupRows: number;
  /** Shards (or older parts) read ahead of the Parquet writer. */
  readConcurrency: number;
}

const reduceSettingsSchema = z.object({
  FEATURIZE_PART_ROWS: positiveInt.max(500_000).default(25_000),
  FEATURIZE_ROW_GROUP_ROWS: positiveInt.default(5_000),
  FEATURIZE_READ_CONCURRENCY: readConcurrency,
});

/** Reducer settings from `FEATURIZE_*` variables; a bad value is a ConfigError naming the variable. */
export function reduceSettings(env: NodeJS.ProcessEnv = process.env): ReduceSettings {
  const s = parseSettings(reduceSettingsSchema, env);
  return {
    partRows: s.FEATURIZE_PART_ROWS,
    rowGroupRows: Math.min(s.FEATURIZE_ROW_GROUP_ROWS, s.FEATURIZE_PART_ROWS),
    readConcurrency: s.FEATURIZE_READ_CONCURRENCY,
  };
}

/**
 * How runs on one output take turns to change its dataset (functions/shared/dataset/publish-lease.ts): a lease
 * held while a publish plans and commits, renewed while it works, free again `leaseSeconds` after its holder
 * stopped renewing (a crashed or killed process).
 */
export interface LeaseSettings {
  /** The DynamoDB table holding the leases (the deployed stack's); unset: a lock file (local runs). */
  table: string | undefined;
  leaseSeconds: number;
  /** Set in AWS Lambda, where a lock file would serialize nothing (each container has its own /tmp). */
  inLambda: boolean;
}

const leaseSchema = z.object({
  FEATURIZE_LEASE_TABLE: z.string().min(3).optional(),
  FEATURIZE_LEASE_SECONDS: positiveInt.max(3600).default(120),
  AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
});

export function leaseSettings(env: NodeJS.ProcessEnv = process.env): LeaseSettings {
  const s = parseSettings(leaseSchema, env);
  return { table: s.FEATURIZE_LEASE_TABLE, leaseSeconds: s.FEATURIZE_LEASE_SECONDS, inLambda: s.AWS_LAMBDA_FUNCTION_NAME !== undefined };
}

/** Where the ONNX export of a model lives: FEATURIZE_ONNX_MODEL, else `build/models/<model name>.onnx` here. */
export function onnxModelPath(modelName: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FEATURIZE_ONNX_MODEL ?? join(repoRoot, 'build', 'models', `${modelName}.onnx`));
}

/**
 * Where the int8 ONNX export of a model lives (the `onnx-int8` engine): FEATURIZE_ONNX_INT8_MODEL, else
 * `build/models/<model name>.int8.onnx` here.
 */
export function onnxInt8ModelPath(modelName: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FEATURIZE_ONNX_INT8_MODEL ?? join(repoRoot, 'build', 'models', `${modelName}.int8.onnx`));
}

/** The quantized TFLite model the int8 export reads its weights and quantization from: FEATURIZE_TFLITE_MODEL, else ../shared's. */
export function tfliteModelPath(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(
    env.FEATURIZE_TFLITE_MODEL ?? join(sharedDir(env), 'models', 'mobilenet_v2_100_224_qat_tflite', 'mobilenet_v2_1.0_224_quant.tflite'),
  );
}

export const graphOptimizationLevels = ['disabled', 'basic', 'extended', 'layout', 'all'] as const;
export const executionModes = ['sequential', 'parallel'] as const;

/**
 * ONNX Runtime session options (the `onnx` engine). Defaults from `npm run tune:onnx` on a 2-core x86 machine
 * shared with other work (medians of interleaved runs; the README's "Inference engines" has the tables):
 * - intra-op threads: two engines of 1 thread did 1.88x the images/s of one, 2 x 2 threads (oversubscribed)
 *   1.59x, one engine on both cores 1.56-1.63x. So an engine in a worker thread (the local runner starts one per
 *   core) takes 1 thread, and an engine on a main thread (the Lambda function) one per CPU the process may use.
 *   Not ONNX Runtime's own default (0), one per physical core as its CPU detection counts them: one on this 2-vCPU
 *   VM, where the extract path then ran 140-160 images/s instead of 198-230.
 * - spinning off: idle pool threads sleep. Spinning gained 9% on a quiet machine but lost 30% (and took 1.8x the
 *   CPU per image) when other processes wanted the cores, as sharp's decoding does beside inference.
 * - graph optimisation `all` (with `layout`'s NCHWc convolution kernels): 10.5 CPU ms per image, against 20.3-20.8
 *   for `extended`, `basic` or `disabled`.
 * - memory arena on (off: 11% more CPU per image, more memory), execution mode sequential (`parallel`: 2x the
 *   CPU per image; MobileNetV2 is one chain, there is nothing to run beside it).
 */
export interface OnnxRuntimeSettings {
  /** Threads inside one operator (a convolution); 0 lets ONNX Runtime choose (one per physical core it detects). */
  intraOpThreads: number;
  /** Threads running independent operators at once; used only in `parallel` execution mode. */
  interOpThreads: number;
  graphOptimization: (typeof graphOptimizationLevels)[number];
  executionMode: (typeof executionModes)[number];
  /** Keep freed tensor memory in ONNX Runtime's arena for the next batch instead of returning it. */
  memoryArena: boolean;
  /** Let idle pool threads spin, waiting for the next operator, instead of sleeping. */
  spinning: boolean;
}

const onnxRuntimeSchema = z.object({
  FEATURIZE_ORT_INTRA_OP_THREADS: z.coerce.number().int().nonnegative().max(256).optional(),
  FEATURIZE_ORT_INTER_OP_THREADS: z.coerce.number().int().nonnegative().max(256).default(0),
  FEATURIZE_ORT_GRAPH_OPTIMIZATION: z.enum(graphOptimizationLevels).default('all'),
  FEATURIZE_ORT_EXECUTION_MODE: z.enum(executionModes).default('sequential'),
  FEATURIZE_ORT_MEMORY_ARENA: z.stringbool().default(true),
  FEATURIZE_ORT_SPINNING: z.stringbool().default(false),
});

export function onnxRuntimeSettings(env: NodeJS.ProcessEnv = process.env): OnnxRuntimeSettings {
  const s = parseSettings(onnxRuntimeSchema, env);
  return {
    intraOpThreads: s.FEATURIZE_ORT_INTRA_OP_THREADS ?? (isMainThread ? availableParallelism() : 1),
    interOpThreads: s.FEATURIZE_ORT_INTER_OP_THREADS,
    graphOptimization: s.FEATURIZE_ORT_GRAPH_OPTIMIZATION,
    executionMode: s.FEATURIZE_ORT_EXECUTION_MODE,
    memoryArena: s.FEATURIZE_ORT_MEMORY_ARENA,
    spinning: s.FEATURIZE_ORT_SPINNING,
  };
}

/** Where the upload trigger starts runs and writes their manifests: set by the CDK app on the function. */
export interface TriggerSettings {
  stateMachineArn: string;
  /** Uploads outside this bucket and prefix are refused (the EventBridge rule should never deliver them). */
  input: { bucket: string; prefix: string };
  /** Manifests go to `<prefix>manifests/` in this bucket, beside the runs they start. */
  output: { bucket: string; prefix: string };
}

const triggerSchema = z.object({
  FEATURIZE_STATE_MACHINE_ARN: z.string().regex(/^arn:[\w-]+:states:/, 'a state machine ARN'),
  FEATURIZE_INPUT_BUCKET: z.string().min(1),
  FEATURIZE_INPUT_PREFIX: z.string().default(''),
  FEATURIZE_OUTPUT_BUCKET: z.string().min(1),
  FEATURIZE_OUTPUT_PREFIX: z.string().default(''),
});

export function triggerSettings(env: NodeJS.ProcessEnv = process.env): TriggerSettings {
  const s = parseSettings(triggerSchema, env);
  return {
    stateMachineArn: s.FEATURIZE_STATE_MACHINE_ARN,
    input: { bucket: s.FEATURIZE_INPUT_BUCKET, prefix: s.FEATURIZE_INPUT_PREFIX },
    output: { bucket: s.FEATURIZE_OUTPUT_BUCKET, prefix: s.FEATURIZE_OUTPUT_PREFIX },
  };
}

function parseSettings<Schema extends z.ZodType>(schema: Schema, env: NodeJS.ProcessEnv): z.infer<Schema> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`invalid setting ${String(issue?.path[0])}: ${issue?.message}`);
  }
  return parsed.data;
}
