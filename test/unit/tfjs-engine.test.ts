import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureEngine, type FeatureEngine } from '../../functions/shared/model/feature-engine.ts';
import { maxAbsDifference, modelDir, referenceCases, type ReferenceCase } from '../support/shared-data.ts';

describe('the TF.js engine on the reference oracle', () => {
  let engine: FeatureEngine;
  let cases: ReferenceCase[];

  beforeAll(async () => {
    engine = await featureEngine('tfjs', modelDir);
    cases = await referenceCases();
  });
  afterAll(() => engine.dispose());

  it('falls back to the wasm backend where tfjs-node is not installed', () => {
    expect(engine.id).toBe('tfjs/wasm');
    expect(engine.descriptor.id).toMatch(/^mobilenet_v2_100_224_qat_tfjs@[0-9a-f]{12}$/);
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
