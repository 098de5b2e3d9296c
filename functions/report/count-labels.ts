/**
 * Feature rows per label, counted from the run's staged parts (only the `label` column is read): they are there
 * whether the run was published or not.
 */
import { listParts, openPart, readPartRowGroups } from '../shared/dataset/feature-parts.ts';
import { stagedPartsPrefix } from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';

export async function countLabels(output: Storage, runId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const object of await listParts(output, stagedPartsPrefix(runId))) {
    for await (const rows of readPartRowGroups(await openPart(output, object), ['label'])) {
      for (const { label } of rows) counts[String(label)] = (counts[String(label)] ?? 0) + 1;
    }
  }
  return counts;
}
