/**
 * TensorFlow.js engine. Backend: `tensorflow` (native libtensorflow) when @tensorflow/tfjs-node loads, which
 * it does in the Lambda container image; otherwise `wasm` (SIMD, one thread: run one engine per worker).
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ModelLoadError } from '../errors.ts';
import { logger } from '../observability.ts';
import type { FeatureEngine } from './feature-engine.ts';
import { readGraphModelArtifacts } from './graph-model-files.ts';
import { loadModelDescriptor, normalizePixels, type ModelDescriptor } from './model-descriptor.ts';

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
  // One blank image through the graph: proves the input/output nodes and the output width, and warms it up.
  await engine.extract([new Uint8Array(descriptor.inputSize * descriptor.inputSize * 3)]).catch((error: unknown) => {
    throw new ModelLoadError(`the model in ${modelDir} does not run as described: ${(error as Error).message}`);
  });
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
    const { inputNode, outputNode, inputSize, featureLength } = this.descriptor;
    const input = tf.tensor4d(normalizePixels(images, this.descriptor), [images.length, inputSize, inputSize, 3]);
    try {
      const output = this.model.execute({ [inputNode]: input }, outputNode) as tf.Tensor;
      try {
        const values = (await output.data()) as Float32Array;
        if (values.length !== images.length * featureLength) {
          throw new ModelLoadError(`output ${outputNode} has shape [${output.shape}], expected [n, ${featureLength}]`);
        }
        return images.map((_, i) => values.slice(i * featureLength, (i + 1) * featureLength));
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
