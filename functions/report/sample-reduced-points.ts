/**
 * The first two principal components of a uniform sample of the run's reduced vectors, for the scatter plot:
 * at most `maxPoints` of them (an SVG with tens of thousands of marks is slow to open and says no more).
 */
import { listParts, readRowSlices } from '../shared/dataset/parquet-read.ts';
import { pcaPartitionPrefix, runPartPattern } from '../shared/run-layout.ts';
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
  for (const part of await listParts(output, pcaPartitionPrefix(modelId), runPartPattern(runId))) {
    for await (const slice of readRowSlices(output, part, ['label', 'pca'])) {
      for (let i = 0; i < slice.rowCount; i++) {
        const reduced = slice.columns.pca[i] as ArrayLike<number>;
        sample.offer({ pc1: reduced[0] ?? 0, pc2: reduced[1] ?? 0, label: String(slice.columns.label[i]) });
      }
    }
  }
  return { points: sample.items, total: sample.seen };
}
