/** Feature rows per label, counted from the run's parts (only the `label` column is read). */
import { listParts, readRowSlices } from '../shared/dataset/parquet-read.ts';
import { featuresPrefix, runPartPattern } from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';

export async function countLabels(output: Storage, runId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const part of await listParts(output, featuresPrefix, runPartPattern(runId))) {
    for await (const slice of readRowSlices(output, part, ['label'], 65536)) {
      for (let i = 0; i < slice.rowCount; i++) {
        const label = String(slice.columns.label[i]);
        counts[label] = (counts[label] ?? 0) + 1;
      }
    }
  }
  return counts;
}
