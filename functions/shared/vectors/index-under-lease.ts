/**
 * An index update takes the output's index lease for its whole length, so that two updates never change the
 * LanceDB table at once, and the dataset's lease (publish-lease.ts) only while it lists features/ and reads the
 * parts' footers: a publish changes features/ in several steps, and the snapshot must be a state between two
 * publishes, but a build that takes minutes or hours (`featurize index` of a million vectors: 51 minutes) must
 * not keep runs from publishing. Parts a publish replaces while the update reads them are left for the next
 * update (vector-index.ts). While a publish a killed process left half-done waits to be finished (its journal), the
 * update changes nothing: features/ may hold a replaced part beside its replacement, or neither. It does not finish
 * that publish itself, so that the index step may read the dataset but never write it.
 */
import { leaseSettings } from '../config.ts';
import { readPendingPublish } from '../dataset/publish-journal.ts';
import { leaseOwner, leaseStoreFor, withLease } from '../dataset/publish-lease.ts';
import { PublishInterruptedError } from '../errors.ts';
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
    const snapshot = await withLease(await leaseStoreFor(storage, settings), owner, leaseMs, async () => {
      const pending = await readPendingPublish(storage);
      if (pending) {
        throw new PublishInterruptedError(
          `the publish of run ${pending.runId} into ${storage.root} was interrupted: \`featurize repair ${storage.root}\`, ` +
            "or the next run's publish, finishes it; the index is left as it was until then",
        );
      }
      return openDatasetParts(storage);
    });
    return updateIndex(storage, { ...options, snapshot, check: () => indexLease.check() });
  });
}
