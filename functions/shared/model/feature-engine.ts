/**
 * An inference engine turns preprocessed images into feature vectors. Engines are interchangeable behind
 * this interface; the one in use is recorded with every vector. engine-factory.ts makes them.
 */
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
