/**
 * Which engine runs, chosen by name (FEATURIZE_ENGINE): each is imported only when chosen, so that a process
 * loads one native runtime, not both.
 */
import type { EngineName } from '../config.ts';
import type { FeatureEngine } from './feature-engine.ts';

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
    case 'onnx-int8': {
      const { createOnnxEngine } = await import('./onnx-engine.ts');
      return createOnnxEngine(modelDir, { precision: 'int8' });
    }
  }
}
