/**
 * What the pipeline needs to know about a model artifact, so that another model can be swapped in without
 * code changes: drop a `featurize-model.json` beside its weights, with any of the fields below.
 * Without one, the defaults describe the MobileNetV2 graph model in ../shared/models.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ModelLoadError } from '../errors.ts';

export const descriptorFileName = 'featurize-model.json';

const descriptorSchema = z.object({
  /** Stable name recorded with every vector. */
  name: z.string().min(1).optional(),
  inputNode: z.string().min(1).default('input'),
  outputNode: z.string().min(1).default('features'),
  /** Square input side in pixels (NHWC, RGB). */
  inputSize: z.number().int().positive().default(224),
  /** Network input = (pixel - mean) / scale, per channel value 0..255. */
  normalization: z.object({ mean: z.number(), scale: z.number().positive() }).default({ mean: 128, scale: 128 }),
  featureLength: z.number().int().positive().default(1280),
  /** Range every feature must lie in (ReLU6 output for MobileNetV2), checked by the validator. */
  featureRange: z.tuple([z.number(), z.number()]).default([0, 6]),
});

/** What a vector of the default model looks like, for code that checks vectors without loading a model. */
export const defaultVectorShape: Pick<z.infer<typeof descriptorSchema>, 'featureLength' | 'featureRange'> = (() => {
  const { featureLength, featureRange } = descriptorSchema.parse({});
  return { featureLength, featureRange };
})();

export interface ModelDescriptor extends z.infer<typeof descriptorSchema> {
  name: string;
  /** `name@` + the first 12 hex digits of the SHA-256 of model.json: which exact artifact made a vector. */
  id: string;
}

export async function loadModelDescriptor(dir: string): Promise<ModelDescriptor> {
  const modelJson = await readFile(join(dir, 'model.json')).catch((error: unknown) => {
    throw new ModelLoadError(`no model.json in ${dir} (set FEATURIZE_MODEL_DIR or --model): ${(error as Error).message}`);
  });
  const raw = await readFile(join(dir, descriptorFileName), 'utf8').then(
    (text) => JSON.parse(text) as unknown,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return {};
      throw new ModelLoadError(`cannot read ${join(dir, descriptorFileName)}: ${error.message}`);
    },
  );
  const parsed = descriptorSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ModelLoadError(`invalid ${join(dir, descriptorFileName)}: ${parsed.error.issues[0]?.message}`);
  }
  const name = parsed.data.name ?? basename(dir);
  const digest = createHash('sha256').update(modelJson).digest('hex').slice(0, 12);
  return { ...parsed.data, name, id: `${name}@${digest}` };
}

/** The engine's flat [n, featureLength] output as one vector per image; any other size is a ModelLoadError. */
export function splitVectors(values: Float32Array, count: number, descriptor: ModelDescriptor, shape: string): Float32Array[] {
  const { outputNode, featureLength } = descriptor;
  if (values.length !== count * featureLength) {
    throw new ModelLoadError(`output ${outputNode} has shape [${shape}], expected [n, ${featureLength}]`);
  }
  return Array.from({ length: count }, (_, i) => values.slice(i * featureLength, (i + 1) * featureLength));
}

/**
 * Bytes (RGB, HWC) to the network's float input, batched: [n, size, size, 3], written into `into` when given (it
 * must hold exactly n images). A byte has 256 values, so each one's float is computed once, exactly as before
 * ((p − mean) / scale, rounded to float32), and looked up: the profile showed the per-element division costing a
 * fifth of inference.
 */
export function normalizePixels(images: readonly Uint8Array[], descriptor: ModelDescriptor, into?: Float32Array): Float32Array {
  const perImage = descriptor.inputSize * descriptor.inputSize * 3;
  const input = into ?? new Float32Array(images.length * perImage);
  if (input.length !== images.length * perImage) {
    throw new RangeError(`the input buffer holds ${input.length} values, ${images.length} images take ${images.length * perImage}`);
  }
  const values = byteValues(descriptor.normalization);
  for (let i = 0; i < images.length; i++) {
    const pixels = images[i]!;
    if (pixels.length !== perImage) {
      throw new RangeError(`image ${i} has ${pixels.length} bytes, the model takes ${perImage}`);
    }
    const offset = i * perImage;
    for (let j = 0; j < perImage; j++) input[offset + j] = values[pixels[j]!]!;
  }
  return input;
}

const byteValueTables = new Map<string, Float32Array>();

/** The network's input value of each byte value 0–255, under a normalization. */
function byteValues({ mean, scale }: ModelDescriptor['normalization']): Float32Array {
  const key = `${mean}/${scale}`;
  let table = byteValueTables.get(key);
  if (!table) {
    table = Float32Array.from({ length: 256 }, (_, byte) => (byte - mean) / scale);
    byteValueTables.set(key, table);
  }
  return table;
}
