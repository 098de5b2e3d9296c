/**
 * Exports a model directory's TF.js graph model to an ONNX file (or its quantized TFLite form to an int8 one),
 * and checks the export against TF.js itself.
 * Deterministic: the same model.json and weights give the same bytes (no timestamps, nodes in graph order).
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ModelExportError } from '../../functions/shared/errors.ts';
import { readGraphModelArtifacts } from '../../functions/shared/model/graph-model-files.ts';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import { createOnnxEngine, type OnnxPrecision } from '../../functions/shared/model/onnx-engine.ts';
import { encodeModel } from '../../functions/shared/model/onnx-schema.ts';
import { createTfjsEngine } from '../../functions/shared/model/tfjs-engine.ts';
import { tfjsGraphToOnnx } from './tfjs-graph-to-onnx.ts';
import { readTflite, readTfliteModel } from './tflite-model.ts';
import { tfliteToOnnxInt8 } from './tflite-to-onnx-int8.ts';

/** What float32 summation order may change per element between two correct engines (see ../shared/reference). */
export const featureTolerance = 1e-4;

export interface OnnxExport {
  path: string;
  bytes: number;
  /** The model the file was made from: the TF.js model's id, or the TFLite file's for the int8 export. */
  sourceModel: string;
  /** Largest difference from TF.js over the probe images, when a float export was verified. */
  maxDifference?: number;
  /** Smallest cosine similarity to TF.js's features over the probe images, when an int8 export was verified. */
  minCosine?: number;
}

/**
 * How close the int8 export's features must be to TF.js's, as cosine similarity, on every probe image: a wrong
 * layout, scale or zero point gives far less; quantization alone gave 0.998 on the noise and 0.973 on the smooth
 * gradient (large flat areas, where 8-bit steps show most), and 0.991 at worst on the 870 images of the sample.
 */
export const int8CosineFloor = 0.95;

/**
 * Writes the ONNX export of `modelDir` to `outputPath`. With `verify`, the file only lands there once its
 * features match TF.js's; either way it is written aside and renamed, so no reader sees a partial file.
 */
export async function exportOnnx(modelDir: string, outputPath: string, options: { verify: boolean }): Promise<OnnxExport> {
  const descriptor = await loadModelDescriptor(modelDir);
  const bytes = encodeModel(tfjsGraphToOnnx(await readGraphModelArtifacts(modelDir), descriptor));
  return writeVerified(bytes, outputPath, descriptor.id, async (path) =>
    options.verify ? { maxDifference: await verifyOnnxExport(modelDir, path) } : {},
  );
}

/**
 * Writes the int8 export of the quantized TFLite model at `tflitePath`, standing in for `modelDir`'s float model
 * (same contract, verified against it with `verify`), to `outputPath`, as exportOnnx does.
 */
export async function exportOnnxInt8(
  modelDir: string,
  tflitePath: string,
  outputPath: string,
  options: { verify: boolean },
): Promise<OnnxExport> {
  const descriptor = await loadModelDescriptor(modelDir);
  const tflite = await readTflite(tflitePath);
  const bytes = encodeModel(tfliteToOnnxInt8(readTfliteModel(tflite.bytes), { descriptor, tfliteId: tflite.id }));
  return writeVerified(bytes, outputPath, tflite.id, async (path) =>
    options.verify ? { minCosine: await verifyOnnxInt8Export(modelDir, path) } : {},
  );
}

async function writeVerified(
  bytes: Uint8Array,
  outputPath: string,
  sourceModel: string,
  verify: (path: string) => Promise<Pick<OnnxExport, 'maxDifference' | 'minCosine'>>,
): Promise<OnnxExport> {
  await mkdir(dirname(outputPath), { recursive: true });
  const partial = `${outputPath}.${process.pid}.partial`;
  await writeFile(partial, bytes);
  try {
    const checked = await verify(partial);
    await rename(partial, outputPath);
    return { path: outputPath, bytes: bytes.byteLength, sourceModel, ...checked };
  } finally {
    await rm(partial, { force: true });
  }
}

/**
 * Runs the TF.js model and the ONNX file on the same probe images and returns the largest feature difference;
 * a ModelExportError when it exceeds featureTolerance. Synthetic probes, so that the check needs no data beside
 * the model (it runs in the Lambda image build too).
 */
export async function verifyOnnxExport(modelDir: string, onnxPath: string): Promise<number> {
  const [expected, actual] = await probeFeatures(modelDir, onnxPath, 'float32');
  let max = 0;
  expected.forEach((vector, i) => {
    vector.forEach((v, j) => {
      max = Math.max(max, Math.abs(v - actual[i]![j]!));
    });
  });
  if (!(max <= featureTolerance)) {
    throw new ModelExportError(`the ONNX export differs from the TF.js model by ${max} (tolerance ${featureTolerance}): not written`);
  }
  return max;
}

/** The int8 export's smallest cosine similarity to TF.js's features on the probe images; below int8CosineFloor, an error. */
export async function verifyOnnxInt8Export(modelDir: string, onnxPath: string): Promise<number> {
  const [expected, actual] = await probeFeatures(modelDir, onnxPath, 'int8');
  const min = Math.min(...expected.map((vector, i) => cosineSimilarity(vector, actual[i]!)));
  if (!(min >= int8CosineFloor)) {
    throw new ModelExportError(
      `the int8 export's features have a cosine similarity of ${min} to TF.js's (floor ${int8CosineFloor}): not written`,
    );
  }
  return min;
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let [dot, aa, bb] = [0, 0, 0];
  a.forEach((v, i) => {
    dot += v * b[i]!;
    aa += v * v;
    bb += b[i]! * b[i]!;
  });
  return dot / Math.sqrt(aa * bb);
}

/** TF.js's features and the ONNX file's on the probe images. */
async function probeFeatures(modelDir: string, onnxPath: string, precision: OnnxPrecision): Promise<[Float32Array[], Float32Array[]]> {
  const tfjs = await createTfjsEngine(modelDir);
  const onnx = await createOnnxEngine(modelDir, { modelPath: onnxPath, precision }).catch((error: unknown) => {
    tfjs.dispose();
    throw error;
  });
  try {
    const images = probeImages(tfjs.descriptor.inputSize);
    return [await tfjs.extract(images), await onnx.extract(images)];
  } finally {
    tfjs.dispose();
    onnx.dispose();
  }
}

/**
 * RGB images that exercise every path of the network: seeded noise (all frequencies, every channel) and a
 * smooth colour gradient (large uniform areas, so padding at the borders shows). Deterministic.
 */
function probeImages(size: number): Uint8Array[] {
  const noise = (seed: number) => {
    let state = seed;
    return Uint8Array.from({ length: size * size * 3 }, () => {
      // xorshift32: a fixed sequence, identical on every machine.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state & 0xff;
    });
  };
  const gradient = Uint8Array.from({ length: size * size * 3 }, (_, i) => {
    const [pixel, channel] = [Math.floor(i / 3), i % 3];
    const [y, x] = [Math.floor(pixel / size) / (size - 1), (pixel % size) / (size - 1)];
    return Math.round(255 * [x, y, (x + y) / 2][channel]!);
  });
  return [noise(0x9e3779b9), noise(0x2545f491), gradient];
}
