/**
 * An inference engine turns preprocessed images into feature vectors. Engines are interchangeable behind
 * this interface; the one in use is recorded with every vector.
 */
import type { EngineName } from '../config.ts';
import { ModelLoadError } from '../errors.ts';
import type { ModelDescriptor } from './model-descriptor.ts';

export interface FeatureEngine {
  /** Engine and backend, e.g. `tfjs/wasm`, `tfjs/tensorflow` or `onnxruntime/cpu`: recorded with the vectors. */
  readonly id: string;
  readonly descriptor: ModelDescriptor;
  /** One vector of `descriptor.featureLength` floats per image (RGB bytes, HWC, inputSize²×3). */
  extract(images: readonly Uint8Array[]): Promise<Float32Array[]>;
  dispose(): void;
}

const engines = new Map<string, Promise<FeatureEngine>>();

/**
 * The engine for a model directory, created once per process and reused across batches and invocations
 * (Lambda container reuse, one per worker thread locally).
 */
export function featureEngine(name: EngineName, modelDir: string): Promise<FeatureEngine> {
  const key = `${name}:${modelDir}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = createEngine(name, modelDir);
    engines.set(key, engine);
    engine.catch(() => engines.delete(key));
  }
  return engine;
}

async function createEngine(name: EngineName, modelDir: string): Promise<FeatureEngine> {
  switch (name) {
    case 'tfjs': {
      const { createTfjsEngine } = await import('./tfjs-engine.ts');
      return createTfjsEngine(modelDir);
    }
    case 'onnx': {
      const { createOnnxEngine } = await import('./onnx-engine.ts');
      return createOnnxEngine(modelDir);
    }
  }
}

/**
 * One blank image through the graph before the engine is used: proves the input and output nodes and the output
 * width, and warms the engine up. `what` names the artifact in the error (`the model in …`).
 */
export async function warmUp(engine: FeatureEngine, what: string): Promise<void> {
  const { inputSize } = engine.descriptor;
  await engine.extract([new Uint8Array(inputSize * inputSize * 3)]).catch((error: unknown) => {
    throw new ModelLoadError(`${what} does not run as described: ${(error as Error).message}`);
  });
}
