/**
 * An index update takes the output's index lease for its whole length, so that two updates never change the
 * LanceDB table at once, and the dataset's lease (publish-lease.ts) only while it lists features/ and reads the
 * parts' footers: a publish changes features/ in several steps, and the snapshot must be a state between two
 * publishes, but a build that takes minutes or hours (`featurize index` of a million vectors: 51 minutes) must
 * not keep runs from publishing. Parts a publish replaces while the update reads them are left for the next
 * update (vector-index.ts).
 */
import { leaseSettings } from '../config.ts';
import { leaseOwner, leaseStoreFor, withLease } from '../dataset/publish-lease.ts';
import type { Storage } from '../storage/storage.ts';
import { openDatasetParts } from './dataset-vectors.ts';
import { type IndexUpdate, type UpdateIndexOptions, updateIndex } from './vector-index.ts';

/**
 * `updateIndex` under the index lease, on a snapshot of features/ taken under the dataset's; `runId` names the holder
 * (a run's id, or the command's name).
 */
export async function updateIndexUnderLease(
  storage: Storage,
  runId: string,
  options: Omit<UpdateIndexOptions, 'check' | 'snapshot'> = {},
): Promise<IndexUpdate> {
  const settings = leaseSettings();
  const owner = leaseOwner(runId);
  const leaseMs = settings.leaseSeconds * 1000;
  return withLease(await leaseStoreFor(storage, settings, 'index'), owner, leaseMs, async (indexLease) => {
    const snapshot = await withLease(await leaseStoreFor(storage, settings), owner, leaseMs, () => openDatasetParts(storage));
    return updateIndex(storage, { ...options, snapshot, check: () => indexLease.check() });
  });
}
