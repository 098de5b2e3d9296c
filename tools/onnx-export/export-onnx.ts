/**
 * Exports a model directory's TF.js graph model to an ONNX file, and checks the export against TF.js itself.
 * Deterministic: the same model.json and weights give the same bytes (no timestamps, nodes in graph order).
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ModelExportError } from '../../functions/shared/errors.ts';
import { readGraphModelArtifacts } from '../../functions/shared/model/graph-model-files.ts';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import { createOnnxEngine, onnxSourceModel } from '../../functions/shared/model/onnx-engine.ts';
import { encodeModel } from '../../functions/shared/model/onnx-schema.ts';
import { createTfjsEngine } from '../../functions/shared/model/tfjs-engine.ts';
import { tfjsGraphToOnnx } from './tfjs-graph-to-onnx.ts';

/** What float32 summation order may change per element between two correct engines (see ../shared/reference). */
export const featureTolerance = 1e-4;

export interface OnnxExport {
  path: string;
  bytes: number;
  sourceModel: string;
  /** Largest difference from TF.js over the probe images, when verified. */
  maxDifference?: number;
}

/**
 * Writes the ONNX export of `modelDir` to `outputPath`. With `verify`, the file only lands there once its
 * features match TF.js's; either way it is written aside and renamed, so no reader sees a partial file.
 */
export async function exportOnnx(modelDir: string, outputPath: string, options: { verify: boolean }): Promise<OnnxExport> {
  const descriptor = await loadModelDescriptor(modelDir);
  const bytes = encodeModel(tfjsGraphToOnnx(await readGraphModelArtifacts(modelDir), descriptor));
  await mkdir(dirname(outputPath), { recursive: true });
  const partial = `${outputPath}.${process.pid}.partial`;
  await writeFile(partial, bytes);
  try {
    const maxDifference = options.verify ? await verifyOnnxExport(modelDir, partial) : undefined;
    await rename(partial, outputPath);
    return {
      path: outputPath,
      bytes: bytes.byteLength,
      sourceModel: descriptor.id,
      ...(maxDifference !== undefined ? { maxDifference } : {}),
    };
  } finally {
    await rm(partial, { force: true });
  }
}

/**
 * The export of `modelDir` at `outputPath`, made (and verified) only when it is missing or was made from another
 * model.json: what `featurize run` does before it starts, so that a fresh checkout needs no separate build step.
 * Returns the new export, or undefined when the file was already right.
 */
export async function ensureOnnxExport(modelDir: string, outputPath: string): Promise<OnnxExport | undefined> {
  const descriptor = await loadModelDescriptor(modelDir);
  const existing = await readFile(outputPath).catch(() => undefined);
  if (existing && onnxSourceModel(existing, outputPath) === descriptor.id) return undefined;
  return exportOnnx(modelDir, outputPath, { verify: true });
}

/**
 * Runs the TF.js model and the ONNX file on the same probe images and returns the largest feature difference;
 * a ModelExportError when it exceeds featureTolerance. Synthetic probes, so that the check needs no data beside
 * the model (it runs in the Lambda image build too).
 */
export async function verifyOnnxExport(modelDir: string, onnxPath: string): Promise<number> {
  const tfjs = await createTfjsEngine(modelDir);
  const onnx = await createOnnxEngine(modelDir, { modelPath: onnxPath }).catch((error: unknown) => {
    tfjs.dispose();
    throw error;
  });
  try {
    const images = probeImages(tfjs.descriptor.inputSize);
    const [expected, actual] = [await tfjs.extract(images), await onnx.extract(images)];
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
