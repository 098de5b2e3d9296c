/**
 * A vector for an image that is not in the dataset, made the way the dataset's own were: the same model (by id,
 * not by name), the same engine and the same preprocessing, read from the parts' metadata. Anything else would
 * make similarities to the dataset's vectors meaningless, so a mismatch is refused, never approximated.
 */
import { type EngineName, type ResizeMode, resizeModes } from '../config.ts';
import { ConfigError, ModelLoadError } from '../errors.ts';
import { describePreprocessing, type PreprocessOptions, preprocessImage } from '../images/preprocess-image.ts';
import { featureEngine } from '../model/engine-factory.ts';
import { loadModelDescriptor } from '../model/model-descriptor.ts';
import type { VectorSource } from './dataset-vectors.ts';

/**
 * The engine recorded with a vector (`onnxruntime/cpu`, `tfjs/wasm`, `tfjs/tensorflow`) as the setting naming it;
 * ONNX Runtime's int8 vectors say so in their model id (`…/onnx-int8@<sha>`).
 */
function engineNameOf(engine: string, modelId: string): EngineName | undefined {
  if (engine.startsWith('onnxruntime/')) return modelId.includes('/onnx-int8@') ? 'onnx-int8' : 'onnx';
  if (engine.startsWith('tfjs/')) return 'tfjs';
  return undefined;
}

/** Runs `bytes` (an encoded image named `what`) through the dataset's model, engine and preprocessing. */
export async function vectorForImage(bytes: Uint8Array, what: string, source: VectorSource, modelDir: string): Promise<Float32Array> {
  const unavailable = (why: string) =>
    new ModelLoadError(`the dataset's model ${source.modelId} (${source.engine}) is not available here: ${why}`);
  const engineName = engineNameOf(source.engine, source.modelId);
  if (!engineName) throw unavailable('this version knows no such engine');
  const descriptor = await loadModelDescriptor(modelDir).catch((error: Error) => {
    throw unavailable(error.message);
  });
  // The ONNX engine's id extends the source model's: `<name>@<sha>/onnx@<sha>`.
  if (source.modelId.split('/')[0] !== descriptor.id) {
    throw unavailable(`the model in ${modelDir} is ${descriptor.id} (set FEATURIZE_MODEL_DIR or --model to the dataset's)`);
  }
  const engine = await featureEngine(engineName, modelDir).catch((error: Error) => {
    throw unavailable(error.message);
  });
  if (engine.descriptor.id !== source.modelId) throw unavailable(`the ${engineName} engine here runs ${engine.descriptor.id}`);

  const preprocess = preprocessOptionsOf(source.preprocessing, engine.descriptor.inputSize);
  if (!preprocess || describePreprocessing(preprocess) !== source.preprocessing) {
    throw new ConfigError(`the dataset's preprocessing ${source.preprocessing} is not one this version makes`);
  }
  const prepared = await preprocessImage(bytes, preprocess);
  if (!prepared.ok) throw new ConfigError(`${what}: ${prepared.failure.message} (${prepared.failure.code})`);
  const [vector] = await engine.extract([prepared.pixels]);
  return vector!;
}

/** The preprocessing options a part's `featurize.preprocessing` records, when it is JSON of the known fields. */
function preprocessOptionsOf(recorded: string, inputSize: number): PreprocessOptions | undefined {
  try {
    const { resize, maxPixels } = JSON.parse(recorded) as { resize?: unknown; maxPixels?: unknown };
    if (!resizeModes.includes(resize as ResizeMode) || typeof maxPixels !== 'number') return undefined;
    return { size: inputSize, resize: resize as ResizeMode, maxPixels };
  } catch {
    return undefined;
  }
}
