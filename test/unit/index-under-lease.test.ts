/**
 * The index update and the dataset's lease: it reads features/ as it was between two publishes, and does not keep
 * publishes waiting while it builds (functions/shared/vectors/index-under-lease.ts).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finishPendingPublish, type PublishJournal } from '../../functions/shared/dataset/publish-journal.ts';
import { leaseStoreFor, withLease } from '../../functions/shared/dataset/publish-lease.ts';
import { PublishInterruptedError, PublishLeaseBusyError } from '../../functions/shared/errors.ts';
import { publishedPartKey, publishJournalKey, stagedPartsPrefix } from '../../functions/shared/run-layout.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { openDatasetParts } from '../../functions/shared/vectors/dataset-vectors.ts';
import { updateIndexUnderLease } from '../../functions/shared/vectors/index-under-lease.ts';
import { exactSearchRows, readIndexManifest, updateIndex } from '../../functions/shared/vectors/vector-index.ts';
import { clusteredRows, writeFeatureParts } from '../support/feature-parts.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('index-under-lease', []);
const runs = ['20260101T000000Z-aaaaaa', '20260102T000000Z-bbbbbb'];
const local = { table: undefined, inLambda: false };

async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('an index update', () => {
  it('lets a run publish while it builds: it holds the dataset lease only while it lists features/', async () => {
    const storage = new FsStorage(join(stores.dir, 'publishing'));
    await writeFeatureParts(storage, runs[0]!, clusteredRows(exactSearchRows, { width: 16 }), { rowsPerPart: 5000 });
    let updated = false;
    const update = updateIndexUnderLease(storage, 'index').then((result) => {
      updated = true;
      return result;
    });
    // Once its rows are going into the table, and long before its ANN build ends, a publish takes the dataset's lease.
    await until(() =>
      access(join(storage.root, 'index', 'images.lance')).then(
        () => true,
        () => false,
      ),
    );
    await withLease(await leaseStoreFor(storage, local), 'a publishing run', 60_000, async () => {});
    expect(updated).toBe(false);
    expect(await update).toMatchObject({ action: 'built', rows: exactSearchRows, ann: 'IVF_HNSW_SQ' });

    // Two updates of one index take turns: the second finds the index's lease held.
    await writeFeatureParts(storage, runs[1]!, clusteredRows(10, { width: 16, prefix: '/in/b' }));
    const indexStore = await leaseStoreFor(storage, local, 'index');
    await withLease(indexStore, 'another update', 60_000, async () => {
      await expect(updateIndexUnderLease(storage, 'index')).rejects.toThrow(PublishLeaseBusyError);
    });
    expect(await updateIndexUnderLease(storage, 'index')).toMatchObject({ action: 'updated', rows: exactSearchRows + 10 });
  });

  it('leaves a part a publish rewrote after the snapshot for the next update, never a mix of its two versions', async () => {
    const storage = new FsStorage(join(stores.dir, 'rewritten'));
    const rows = clusteredRows(30, { width: 16, prefix: '/in/a' });
    await writeFeatureParts(storage, runs[0]!, rows, { rowsPerPart: 10 });
    const snapshot = await openDatasetParts(storage);
    // An incremental run's publish rewrites part 0 without two of its rows once the snapshot is taken.
    await writeFeatureParts(storage, runs[0]!, rows.slice(2, 10));

    expect(await updateIndex(storage, { snapshot })).toMatchObject({ action: 'built', rows: 20, partsAdded: 2 });
    expect((await readIndexManifest(storage))?.parts.map((part) => part.key)).toEqual(
      snapshot.objects.slice(1).map((object) => object.key),
    );
    expect(await updateIndex(storage)).toMatchObject({ action: 'updated', rows: 28, partsAdded: 1, partsRemoved: 0 });
    expect(await updateIndex(storage)).toMatchObject({ action: 'current', rows: 28 });
  });

  it('leaves out a part a publish removed before it was read (its reading fails), and retries when every part went', async () => {
    const storage = new FsStorage(join(stores.dir, 'removed'));
    const keys = await writeFeatureParts(storage, runs[0]!, clusteredRows(30, { width: 16, prefix: '/in/a' }), { rowsPerPart: 10 });
    const snapshot = await openDatasetParts(storage);
    await storage.remove([keys[0]!]);

    expect(await updateIndex(storage, { snapshot })).toMatchObject({ action: 'built', rows: 20, partsAdded: 2 });
    expect((await readIndexManifest(storage))?.parts.map((part) => part.key)).toEqual(keys.slice(1));
    expect(await updateIndex(storage)).toMatchObject({ action: 'current', rows: 20 });

    const gone = new FsStorage(join(stores.dir, 'all-removed'));
    const goneKeys = await writeFeatureParts(gone, runs[0]!, clusteredRows(20, { width: 16, prefix: '/in/a' }), { rowsPerPart: 10 });
    const goneSnapshot = await openDatasetParts(gone);
    await gone.remove(goneKeys);
    await expect(updateIndex(gone, { snapshot: goneSnapshot })).rejects.toThrow(PublishLeaseBusyError);
    expect(await readIndexManifest(gone)).toBeUndefined();
  });

  it('changes nothing while a publish a killed process left half-done waits to be finished, and says how to finish it', async () => {
    const storage = new FsStorage(join(stores.dir, 'journal'));
    const [older] = await writeFeatureParts(storage, runs[0]!, clusteredRows(20, { width: 16, prefix: '/in/a' }));
    expect(await updateIndexUnderLease(storage, 'index')).toMatchObject({ action: 'built', rows: 20 });
    const [staged] = await writeFeatureParts(storage, runs[1]!, clusteredRows(12, { width: 16, prefix: '/in/a' }), {
      folder: stagedPartsPrefix(runs[1]!),
    });
    const published = publishedPartKey(staged!);
    // Killed after its first copy, before its removal: features/ holds the older part and its replacement.
    const journal: PublishJournal = {
      runId: runs[1]!,
      kind: 'full',
      published: [published],
      copies: [{ from: staged!, to: published }],
      removals: [older!],
      rewrittenParts: 0,
      newerParts: [],
      startedAt: new Date().toISOString(),
    };
    await storage.write(publishJournalKey, JSON.stringify(journal));
    await storage.copy(staged!, published);

    await expect(updateIndexUnderLease(storage, 'index')).rejects.toThrow(
      new PublishInterruptedError(
        `the publish of run ${runs[1]} into ${storage.root} was interrupted: \`featurize repair ${storage.root}\`, ` +
          "or the next run's publish, finishes it; the index is left as it was until then",
      ),
    );
    expect((await readIndexManifest(storage))?.parts.map((part) => part.key)).toEqual([older]);

    await withLease(await leaseStoreFor(storage, local), 'repair', 60_000, (lease) => finishPendingPublish(storage, lease, 2));
    expect(await updateIndexUnderLease(storage, 'index')).toMatchObject({ action: 'updated', rows: 12, partsAdded: 1, partsRemoved: 1 });
  });
});
