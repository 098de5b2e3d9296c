import { describe, expect, it } from 'vitest';
import { warmAtBatchSize } from '../../bench/warm-engine.ts';
import { createOnnxEngine } from '../../functions/shared/model/onnx-engine.ts';
import { modelDir, referenceCases } from '../support/shared-data.ts';

describe("the bench's warm-up at the measured batch size", () => {
  // Page faults, not time: a run on memory the engine already holds takes a handful; one that grows it, thousands.
  it('leaves the engine as a long run keeps it: a mini-batch of that size then takes no fresh memory', async () => {
    const engine = await createOnnxEngine(modelDir, { modelPath: process.env.FEATURIZE_ONNX_MODEL! });
    try {
      const pixels = (await referenceCases()).slice(0, 8).map((c) => c.pixels);
      await warmAtBatchSize(engine, pixels.length);
      const faults = process.resourceUsage().minorPageFault;
      await engine.extract(pixels);
      expect(process.resourceUsage().minorPageFault - faults).toBeLessThan(500);
    } finally {
      engine.dispose();
    }
  });
});
