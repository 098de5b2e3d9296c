/**
 * TensorFlow.js engine. Backend: `tensorflow` (native libtensorflow) when @tensorflow/tfjs-node loads, which
 * it does in the Lambda container image; otherwise `wasm` (SIMD, one thread: run one engine per worker).
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import { ModelLoadError } from '../errors.ts';
import { logger } from '../observability.ts';
import { type FeatureEngine, warmUp } from './feature-engine.ts';
import { readGraphModelArtifacts } from './graph-model-files.ts';
import { loadModelDescriptor, type ModelDescriptor, normalizePixels, splitVectors } from './model-descriptor.ts';

/** Loaded by name so that bundlers leave it alone and installs without it still work. */
const nativeBackendPackage = '@tensorflow/tfjs-node';

let backendReady: Promise<string> | undefined;

/** Picks the backend once per process. FEATURIZE_TFJS_BACKEND=wasm forces wasm even where tfjs-node is present. */
export function tfjsBackend(): Promise<string> {
  backendReady ??= (async () => {
    if (process.env.FEATURIZE_TFJS_BACKEND !== 'wasm') {
      try {
        await import(nativeBackendPackage);
        if (await tf.setBackend('tensorflow')) return 'tensorflow';
      } catch (error) {
        logger.debug('tfjs-node unavailable, using wasm', { reason: (error as Error).message });
      }
    }
    setWasmPaths(`${dirname(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm')))}/`);
    if (!(await tf.setBackend('wasm'))) throw new ModelLoadError('the tfjs wasm backend failed to initialise');
    return 'wasm';
  })();
  return backendReady;
}

export async function createTfjsEngine(modelDir: string): Promise<FeatureEngine> {
  const descriptor = await loadModelDescriptor(modelDir);
  const backend = await tfjsBackend();
  const model = await loadGraphModel({ load: () => readGraphModelArtifacts(modelDir) }).catch((error: unknown) => {
    throw new ModelLoadError(`cannot load the graph model in ${modelDir}: ${(error as Error).message}`);
  });
  const engine = new TfjsEngine(model, descriptor, `tfjs/${backend}`);
  await warmUp(engine, `the model in ${modelDir}`);
  logger.info('model loaded', { engine: engine.id, model: descriptor.id, modelDir });
  return engine;
}

class TfjsEngine implements FeatureEngine {
  readonly id: string;
  readonly descriptor: ModelDescriptor;
  private readonly model: GraphModel;

  constructor(model: GraphModel, descriptor: ModelDescriptor, id: string) {
    this.model = model;
    this.descriptor = descriptor;
    this.id = id;
  }

  async extract(images: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    const { inputNode, outputNode, inputSize } = this.descriptor;
    const input = tf.tensor4d(normalizePixels(images, this.descriptor), [images.length, inputSize, inputSize, 3]);
    try {
      const output = this.model.execute({ [inputNode]: input }, outputNode) as tf.Tensor;
      try {
        return splitVectors((await output.data()) as Float32Array, images.length, this.descriptor, String(output.shape));
      } finally {
        output.dispose();
      }
    } finally {
      input.dispose();
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}
