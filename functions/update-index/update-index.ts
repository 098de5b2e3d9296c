/**
 * The index step's work, knowing nothing of Lambda: the dataset's nearest-neighbour index brought in line with
 * features/ as the run's publish left it (functions/shared/vectors/vector-index.ts), under the output's lease.
 */
import type { UpdateIndexEvent, UpdateIndexResult } from '../../statemachine/contracts.ts';
import { indexPrefix } from '../shared/run-layout.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { updateIndexUnderLease } from '../shared/vectors/index-under-lease.ts';
import type { UpdateIndexOptions } from '../shared/vectors/vector-index.ts';

/** `limits`: the function's memory and the invocation's time left, which a first ANN build must fit (vector-index.ts). */
export async function updateDatasetIndex(
  event: UpdateIndexEvent,
  limits: Pick<UpdateIndexOptions, 'memoryLimitMiB' | 'remainingMs'> = {},
): Promise<UpdateIndexResult> {
  const started = performance.now();
  const output = openStorage(event.output);
  const update = await updateIndexUnderLease(output, event.runId, limits);
  return { ...update, location: output.locationOf(indexPrefix), millis: Math.round(performance.now() - started) };
}
