import type { FeatureEngine } from '../functions/shared/model/feature-engine.ts';

/**
 * Brings an engine, untimed, to the steady state of a long run of `batchSize` images per call, so that a
 * measurement of a few hundred images gives the per-image cost of millions. ONNX Runtime's first run at a batch
 * size grows its memory arena onto fresh pages (a page fault costs about 13 µs of CPU on this VM: 0.25 s at batch
 * 8, 1.2 s at 32), and its second lays out the memory pattern it then keeps (0.05 s more). A container pays that
 * once, at its first batch.
 */
export async function warmAtBatchSize(engine: FeatureEngine, batchSize: number): Promise<void> {
  const blank = new Uint8Array(engine.descriptor.inputSize ** 2 * 3);
  const batch = Array.from({ length: batchSize }, () => blank);
  for (let run = 0; run < 2; run++) await engine.extract(batch);
}
