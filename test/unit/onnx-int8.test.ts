/**
 * The int8 export (`npm run build:onnx-int8`, made by the global setup for this run) against the float one, on
 * real images of the Fruits-360 sample: its features must point where the float model's do (cosine similarity)
 * and its classifier must pick the same ImageNet class (top-1), and its vectors must say they are int8.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preprocessImage } from '../../functions/shared/images/preprocess-image.ts';
import { featureEngine } from '../../functions/shared/model/engine-factory.ts';
import { loadModelDescriptor, type ModelDescriptor, normalizePixels } from '../../functions/shared/model/model-descriptor.ts';
import { createOnnxEngine } from '../../functions/shared/model/onnx-engine.ts';
import { cosineSimilarity } from '../../tools/onnx-export/export-onnx.ts';
import { probabilitiesOutput } from '../../tools/onnx-export/tflite-to-onnx-int8.ts';
import { modelDir, referenceCases, sampleDir, sampleKeys } from '../support/shared-data.ts';

const floatFile = process.env.FEATURIZE_ONNX_MODEL!;
const int8File = process.env.FEATURIZE_ONNX_INT8_MODEL!;

interface Outputs {
  features: Float32Array[];
  probabilities: Float32Array[];
}

/** Both outputs of an export, per image, in mini-batches of 8 on one thread (as a worker's engine runs). */
async function run(file: string, descriptor: ModelDescriptor, images: readonly Uint8Array[]): Promise<Outputs> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const outputs: Outputs = { features: [], probabilities: [] };
  try {
    for (let start = 0; start < images.length; start += 8) {
      const batch = images.slice(start, start + 8);
      const size = descriptor.inputSize;
      const input = new ort.Tensor('float32', normalizePixels(batch, descriptor), [batch.length, size, size, 3]);
      const result = await session.run({ [descriptor.inputNode]: input }, [descriptor.outputNode, probabilitiesOutput]);
      const [features, probabilities] = [result[descriptor.outputNode]!.data, result[probabilitiesOutput]!.data] as Float32Array[];
      const classes = probabilities!.length / batch.length;
      batch.forEach((_, i) => {
        outputs.features.push(features!.slice(i * descriptor.featureLength, (i + 1) * descriptor.featureLength));
        outputs.probabilities.push(probabilities!.slice(i * classes, (i + 1) * classes));
      });
    }
    return outputs;
  } finally {
    await session.release();
  }
}

/** Class indices by falling probability. */
const ranked = (probabilities: Float32Array) => [...probabilities.keys()].sort((a, b) => probabilities[b]! - probabilities[a]!);

describe('the int8 export, against the float export on the Fruits-360 sample', () => {
  let float: Outputs;
  let int8: Outputs;

  beforeAll(async () => {
    const descriptor = await loadModelDescriptor(modelDir);
    // Four images of each of the sample's 29 classes, preprocessed as a run would (squash to 224 × 224).
    const keys = await sampleKeys(29, 4);
    const images = await Promise.all(
      keys.map(async (key) => {
        const result = await preprocessImage(await readFile(join(sampleDir, key)), {
          size: descriptor.inputSize,
          resize: 'squash',
          maxPixels: 1e8,
        });
        if (!result.ok) throw new Error(`${key}: ${result.failure.message}`);
        return result.pixels;
      }),
    );
    float = await run(floatFile, descriptor, images);
    int8 = await run(int8File, descriptor, images);
  });

  it('keeps the features: mean cosine similarity at least 0.99, none below 0.98', () => {
    expect(int8.features).toHaveLength(116);
    const similarities = float.features.map((vector, i) => cosineSimilarity(vector, int8.features[i]!));
    const mean = similarities.reduce((a, b) => a + b, 0) / similarities.length;
    expect(mean).toBeGreaterThanOrEqual(0.99);
    expect(Math.min(...similarities)).toBeGreaterThanOrEqual(0.98);
  });

  // Fruits-360 is not ImageNet: the float model gives many of these images less than 0.4 for its first class, and
  // there the two often swap near-equal classes (so do the int8 graph's own float and integer forms). Where the
  // float model is decided, they agree; everywhere, int8's class is one of the float model's first five.
  it('keeps the classification: the same top-1 class where the float model gives it 0.4 or more, its top 5 everywhere', () => {
    const decided = float.probabilities.flatMap((p, i) => (Math.max(...p) >= 0.4 ? [i] : []));
    const agreeing = decided.filter((i) => ranked(float.probabilities[i]!)[0] === ranked(int8.probabilities[i]!)[0]);
    expect(decided.length).toBeGreaterThanOrEqual(60);
    expect(agreeing.length / decided.length).toBeGreaterThanOrEqual(0.95);
    float.probabilities.forEach((p, i) => {
      expect(ranked(p).slice(0, 5)).toContain(ranked(int8.probabilities[i]!)[0]);
    });
  });

  it('gives features in the model range [0, 6], averaged in float rather than rounded to the pool’s 8-bit steps', () => {
    const values = new Set(int8.features.flatMap((vector) => [...vector]));
    const outside = [...values].filter((value) => !(value >= 0 && value <= 6));
    expect(outside).toEqual([]);
    // An 8-bit pool output would take at most 256 values; the mean of 49 of them takes thousands.
    expect(values.size).toBeGreaterThan(1000);
  });
});

describe('the onnx-int8 engine', () => {
  let engine: Awaited<ReturnType<typeof featureEngine>>;
  beforeAll(async () => {
    engine = await featureEngine('onnx-int8', modelDir);
  });
  afterAll(() => engine.dispose());

  it('records a model id of its own, so that a dataset of float vectors refuses its vectors (publish-plan)', async () => {
    expect(engine.id).toBe('onnxruntime/cpu');
    expect(engine.descriptor.id).toMatch(/^mobilenet_v2_100_224_qat_tfjs@[0-9a-f]{12}\/onnx-int8@[0-9a-f]{12}$/);
    const [vector] = await engine.extract([(await referenceCases())[0]!.pixels]);
    expect(vector).toHaveLength(1280);
  });

  it('refuses the float export, and the float engine refuses the int8 one, naming the build to run', async () => {
    await expect(createOnnxEngine(modelDir, { modelPath: floatFile, precision: 'int8' })).rejects.toMatchObject({
      name: 'ModelLoadError',
      message: expect.stringMatching(/holds the float32 export, this engine runs the int8 one: run `npm run build:onnx-int8`/),
    });
    await expect(createOnnxEngine(modelDir, { modelPath: int8File })).rejects.toMatchObject({
      name: 'ModelLoadError',
      message: expect.stringMatching(/holds the int8 export, this engine runs the float32 one: run `npm run build:onnx`/),
    });
  });
});
