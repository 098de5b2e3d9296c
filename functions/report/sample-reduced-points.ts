/**
 * The first two principal components of a uniform sample of the run's reduced vectors, for the scatter plot:
 * at most `maxPoints` of them (an SVG with tens of thousands of marks is slow to open and says no more).
 */
import { listParts, openPart, readPartVectorGroups } from '../shared/dataset/feature-parts.ts';
import { partRunId, pcaPartitionPrefix } from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';
import type { ScatterPoint } from './charts.ts';
import { ReservoirSample } from './reservoir-sample.ts';

export interface PointSample {
  points: ScatterPoint[];
  /** Rows the sample was drawn from. */
  total: number;
}

export async function sampleReducedPoints(output: Storage, runId: string, modelId: string, maxPoints: number): Promise<PointSample> {
  const sample = new ReservoirSample<ScatterPoint>(maxPoints);
  const partition = pcaPartitionPrefix(modelId);
  for (const object of (await listParts(output, partition)).filter((o) => partRunId(o.key, partition) === runId)) {
    for await (const { rows, vectors } of readPartVectorGroups(await openPart(output, object), ['label'], 'pca')) {
      for (const [index, row] of rows.entries()) {
        const reduced = vectors.vector(index);
        sample.offer({ pc1: reduced[0] ?? 0, pc2: reduced[1] ?? 0, label: String(row.label) });
      }
    }
  }
  return { points: sample.items, total: sample.seen };
}
