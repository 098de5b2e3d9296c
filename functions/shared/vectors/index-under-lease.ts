/**
 * An index update holds the dataset's publish lease (publish-lease.ts): a publish changes features/ in several
 * steps, and an index built between two of them would record a dataset that never existed.
 */
import { leaseSettings } from '../config.ts';
import { leaseOwner, leaseStoreFor, withLease } from '../dataset/publish-lease.ts';
import type { Storage } from '../storage/storage.ts';
import { type IndexUpdate, type UpdateIndexOptions, updateIndex } from './vector-index.ts';

/** `updateIndex` under the lease; `runId` names the holder (a run's id, or the command's name). */
export async function updateIndexUnderLease(
  storage: Storage,
  runId: string,
  options: Omit<UpdateIndexOptions, 'check'> = {},
): Promise<IndexUpdate> {
  const { leaseSeconds } = leaseSettings();
  return withLease(await leaseStoreFor(storage), leaseOwner(runId), leaseSeconds * 1000, (lease) =>
    updateIndex(storage, { ...options, check: () => lease.check() }),
  );
}
