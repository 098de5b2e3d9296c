/**
 * Settings read from the environment, in one place. Defaults point at the sibling `../shared` folder of a
 * checkout (model and sample images); every default can be replaced by an environment variable (or the CLI
 * flag that sets it), so a user outside this repository points the project at their own copies.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

export function defaultImagesDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FEATURIZE_IMAGES_DIR ?? join(sharedDir(env), 'images'));
}

export const resizeModes = ['squash', 'center-crop'] as const;
/** `squash`: the whole image resized to the model's square input, aspect ratio ignored (the original job).
 *  `center-crop`: the largest centred square, then resized (keeps proportions, loses the borders). */
export type ResizeMode = (typeof resizeModes)[number];

export const engineNames = ['tfjs'] as const;
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

const settingsSchema = z.object({
  FEATURIZE_ENGINE: z.enum(engineNames).default('tfjs'),
  FEATURIZE_RESIZE: z.enum(resizeModes).default('squash'),
  FEATURIZE_MAX_PIXELS: positiveInt.default(100_000_000),
  FEATURIZE_MAX_BYTES: positiveInt.default(128 * 1024 * 1024),
  FEATURIZE_INFERENCE_BATCH: positiveInt.max(256).default(16),
  FEATURIZE_READ_CONCURRENCY: positiveInt.max(256).default(8),
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
  FEATURIZE_READ_CONCURRENCY: positiveInt.max(256).default(8),
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
