import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineName } from '../../functions/shared/config.ts';
import { featureEngine } from '../../functions/shared/model/engine-factory.ts';
import type { FeatureEngine } from '../../functions/shared/model/feature-engine.ts';
import { maxAbsDifference, modelDir, type ReferenceCase, referenceCases } from '../support/shared-data.ts';

/** What each engine records with its vectors, on this machine (no tfjs-node, CPU only). */
const recorded = {
  tfjs: { id: 'tfjs/wasm', model: /^mobilenet_v2_100_224_qat_tfjs@[0-9a-f]{12}$/ },
  onnx: { id: 'onnxruntime/cpu', model: /^mobilenet_v2_100_224_qat_tfjs@[0-9a-f]{12}\/onnx@[0-9a-f]{12}$/ },
} as const;

/** The engines that reproduce the float model; onnx-int8 approximates it (test/unit/onnx-int8.test.ts). */
const floatEngines = ['tfjs', 'onnx'] as const satisfies readonly EngineName[];

describe.each(floatEngines)('the %s engine on the reference oracle', (name) => {
  let engine: FeatureEngine;
  let cases: ReferenceCase[];

  beforeAll(async () => {
    engine = await featureEngine(name, modelDir);
    cases = await referenceCases();
  });
  afterAll(() => engine.dispose());

  it('records which engine and which model artifact produced its vectors', () => {
    expect(engine.id).toBe(recorded[name].id);
    expect(engine.descriptor.id).toMatch(recorded[name].model);
  });

  it('reproduces every reference vector to 1e-4 per element, one image at a time', async () => {
    expect(cases).toHaveLength(12);
    for (const reference of cases) {
      const [vector] = await engine.extract([reference.pixels]);
      expect(vector).toHaveLength(1280);
      expect(maxAbsDifference(vector!, reference.features), reference.id).toBeLessThanOrEqual(1e-4);
    }
  });

  it('gives the same vectors when the images run as one mini-batch', async () => {
    const vectors = await engine.extract(cases.map((c) => c.pixels));
    vectors.forEach((vector, i) => {
      expect(maxAbsDifference(vector, cases[i]!.features), cases[i]!.id).toBeLessThanOrEqual(1e-4);
    });
  });

  it('refuses pixels of the wrong size instead of guessing', async () => {
    await expect(engine.extract([new Uint8Array(100)])).rejects.toThrow(/takes 150528/);
  });
});
