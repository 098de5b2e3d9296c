/**
 * The index step's work, knowing nothing of Lambda: the dataset's nearest-neighbour index brought in line with
 * features/ as the run's publish left it (functions/shared/vectors/vector-index.ts), under the output's lease.
 */
import type { UpdateIndexEvent, UpdateIndexResult } from '../../statemachine/contracts.ts';
import { indexPrefix } from '../shared/run-layout.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { updateIndexUnderLease } from '../shared/vectors/index-under-lease.ts';

/** `memoryLimitMiB`: the function's memory, which a first ANN build must fit (vector-index.ts). */
export async function updateDatasetIndex(event: UpdateIndexEvent, memoryLimitMiB?: number): Promise<UpdateIndexResult> {
  const started = performance.now();
  const output = openStorage(event.output);
  const update = await updateIndexUnderLease(output, event.runId, { memoryLimitMiB });
  return { ...update, location: output.locationOf(indexPrefix), millis: Math.round(performance.now() - started) };
}
