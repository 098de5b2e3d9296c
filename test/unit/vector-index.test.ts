import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IndexBuildRefusedError } from '../../functions/shared/errors.ts';
import { featuresPrefix, partKey } from '../../functions/shared/run-layout.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { annBuildCpuSeconds, annBuildMiB, annBuildRefusal } from '../../functions/shared/vectors/ann-build-limits.ts';
import { readDatasetVectors } from '../../functions/shared/vectors/dataset-vectors.ts';
import { exactNeighbours, selectRows } from '../../functions/shared/vectors/exact-search.ts';
import { exactSearchRows, openIndex, readIndexManifest, updateIndex } from '../../functions/shared/vectors/vector-index.ts';
import { clusteredRows, testSource, writeFeatureParts } from '../support/feature-parts.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('vector-index', []);
const runs = ['20260101T000000Z-aaaaaa', '20260102T000000Z-bbbbbb'];

/** Every path the index returns for a query close to everything (k larger than the dataset). */
async function indexedPaths(storage: FsStorage): Promise<string[]> {
  const query = new Float32Array(16).fill(0.25);
  return (await (await openIndex(storage)).search(query, 1000)).map((match) => match.path).sort();
}

describe('the vector index follows the dataset', () => {
  it('through a full run, an incremental one that rewrites an older part, a removal and a new model', async () => {
    const storage = new FsStorage(join(stores.dir, 'out'));
    const first = clusteredRows(30, { width: 16, prefix: '/in/a' });
    await writeFeatureParts(storage, runs[0]!, first, { rowsPerPart: 10 });
    expect(await updateIndex(storage)).toEqual({ action: 'built', rows: 30, partsAdded: 3, partsRemoved: 0, ann: null });
    expect(await updateIndex(storage)).toMatchObject({ action: 'current', rows: 30 });

    // An incremental run: 5 new images, and part 0 of the first run rewritten (same name) without two of its rows.
    const added = clusteredRows(5, { width: 16, prefix: '/in/b', seed: 2 });
    await writeFeatureParts(storage, runs[1]!, added);
    await writeFeatureParts(storage, runs[0]!, first.slice(2, 10));
    expect(await updateIndex(storage)).toEqual({ action: 'updated', rows: 33, partsAdded: 2, partsRemoved: 0, ann: null });
    const expected = [...first.slice(2), ...added].map((row) => row.path).sort();
    expect(await indexedPaths(storage)).toEqual(expected);

    await storage.remove([partKey(runs[0]!, 1)]);
    expect(await updateIndex(storage)).toMatchObject({ action: 'updated', rows: 23, partsAdded: 0, partsRemoved: 1 });
    expect(await indexedPaths(storage)).toEqual(expected.filter((path) => !first.slice(10, 20).some((row) => row.path === path)));

    // A full run with another model replaces every part: the index is built anew, never mixed.
    for await (const object of storage.list(featuresPrefix)) await storage.remove([object.key]);
    const newModel = { ...testSource, modelId: 'other_model@111111111111' };
    await writeFeatureParts(storage, runs[1]!, added, { source: newModel });
    expect(await updateIndex(storage)).toEqual({
      action: 'built',
      rows: 5,
      partsAdded: 1,
      partsRemoved: 0,
      ann: null,
      replacedModel: testSource.modelId,
    });
    expect((await readIndexManifest(storage))?.modelId).toBe('other_model@111111111111');
    expect(await indexedPaths(storage)).toEqual(added.map((row) => row.path).sort());
  });

  it('builds an ANN index from exactSearchRows rows on, whose answers match an exact scan, leaving no scratch files', async () => {
    const storage = new FsStorage(join(stores.dir, 'large'));
    const rows = clusteredRows(exactSearchRows, { width: 16, labels: Array.from({ length: 50 }, (_, i) => `L${i}`) });
    await writeFeatureParts(storage, runs[0]!, rows, { rowsPerPart: 5000 });
    // A first build reads the vectors' width from the dataset: 1,102 MiB at 16 floats, 1,100 were it not known.
    await expect(updateIndex(storage, { memoryLimitMiB: 1101 })).rejects.toThrow(IndexBuildRefusedError);
    expect(await readIndexManifest(storage)).toBeUndefined();
    // LanceDB spills the IVF shuffle to TMPDIR: a warm Lambda's /tmp must not keep it.
    const temporary = join(stores.dir, 'tmp');
    await mkdir(temporary);
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = temporary;
    try {
      expect(await updateIndex(storage)).toMatchObject({ action: 'built', rows: exactSearchRows, ann: 'IVF_HNSW_SQ' });
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
    expect(await readdir(temporary)).toEqual([]);
    const { rows: read, matrix } = await readDatasetVectors(storage);
    const queries = [0, 777, 4242, 9999];
    const exact = await exactNeighbours(matrix, selectRows(matrix, queries), 10);
    let found = 0;
    for (const [q, row] of queries.entries()) {
      const query = matrix.data.subarray(row * 16, (row + 1) * 16);
      const viaIndex = new Set((await (await openIndex(storage)).search(query, 10)).map((match) => match.path));
      found += exact[q]!.filter((n) => viaIndex.has(read[n.index]!.path)).length;
    }
    expect(found / 40).toBeGreaterThanOrEqual(0.9);
  });

  it('refuses an ANN build beyond the memory or the time it may use before changing anything, and builds it within', async () => {
    const storage = new FsStorage(join(stores.dir, 'memory'));
    const first = clusteredRows(30, { width: 16, prefix: '/in/a' });
    await writeFeatureParts(storage, runs[0]!, first);
    await updateIndex(storage, { memoryLimitMiB: 512 });
    const small = await readIndexManifest(storage);
    expect(small).toMatchObject({ rows: 30, ann: null });

    // The next run crosses exactSearchRows: its update would build the ANN index, which needs annBuildMiB.
    await writeFeatureParts(storage, runs[1]!, clusteredRows(exactSearchRows, { width: 16, prefix: '/in/b', seed: 3 }), {
      rowsPerPart: 5000,
    });
    const needed = annBuildMiB(exactSearchRows + 30, 16);
    expect(needed).toBe(1102);
    const refused = updateIndex(storage, { memoryLimitMiB: 512 });
    await expect(refused).rejects.toThrow(IndexBuildRefusedError);
    await expect(refused).rejects.toThrow(
      `building the index over 10,030 vectors needs about 1,102 MiB, more than the 512 MiB this update may use: deploy with ` +
        `-c updateIndexMemoryMb=10240 (about 83,194,311 vectors), or build it with featurize index ${storage.locationOf('')} where the memory and time are`,
    );
    // Within memory, but with less time left than the build takes on the function's vCPUs: refused the same way.
    const late = updateIndex(storage, { memoryLimitMiB: 2048, remainingMs: () => 100 });
    await expect(late).rejects.toThrow(
      /takes about 0 s on this function's 1\.2 vCPUs \(0 s of CPU\), more than the 0 s it may take \(80 % of the 0 s this update has left\)/,
    );
    expect(await readIndexManifest(storage)).toEqual(small);
    expect(await readIndexManifest(storage)).toEqual(small);
    expect(await indexedPaths(storage)).toEqual(first.map((row) => row.path).sort());

    // featurize index on a machine: its memory, and no time limit.
    await expect(updateIndex(storage, { machineMemoryMiB: 1024 })).rejects.toThrow(
      "building the index over 10,030 vectors needs about 1,102 MiB, more than this machine's 1,024 MiB: run featurize index on one with more memory",
    );
    expect(await readIndexManifest(storage)).toEqual(small);
    expect(await updateIndex(storage, { memoryLimitMiB: needed, remainingMs: () => 60_000 })).toMatchObject({
      action: 'updated',
      rows: 10_030,
      ann: 'IVF_HNSW_SQ',
    });
  });

  it('bounds the ANN build memory measured at 1,280 floats a vector', () => {
    // bench:search, the update alone in its process: 12,000, 200,000 (two days) and 1,000,000 vectors.
    expect(annBuildMiB(12_000, 1280)).toBeGreaterThan(773);
    expect(annBuildMiB(200_000, 1280)).toBeGreaterThan(2_666);
    expect(annBuildMiB(1_000_000, 1280)).toBeGreaterThan(9_428);
  });

  it('bounds the ANN build CPU time measured at 1,280 floats a vector, and refuses on Lambda what 15 minutes cannot build', () => {
    // bench:search, quiet, the build alone in its process: 200,000 (two days) and 1,000,000 vectors.
    expect(annBuildCpuSeconds(200_000, 1280)).toBeGreaterThan(705);
    expect(annBuildCpuSeconds(1_000_000, 1280)).toBeGreaterThan(5_853);
    const fifteenMinutes = () => 15 * 60 * 1000;
    // The default function (3,008 MB, 1.7 vCPUs) builds 200,000 vectors within its memory and time.
    expect(annBuildRefusal({ memoryLimitMiB: 3008, remainingMs: fifteenMinutes }, 200_000, 1280, 's3://b/out/')).toBeUndefined();
    // 1,000,000 fit Lambda's largest memory, not its 15 minutes: no larger function to suggest, only featurize index.
    expect(annBuildRefusal({ memoryLimitMiB: 10_240 }, 1_000_000, 1280, 's3://b/out/')).toBeUndefined();
    expect(annBuildRefusal({ memoryLimitMiB: 10_240, remainingMs: fifteenMinutes }, 1_000_000, 1280, 's3://b/out/')).toBe(
      "building the index over 1,000,000 vectors takes about 29 min on this function's 5.8 vCPUs (140 min of CPU), more than " +
        "the 12 min it may take (80 % of the 15 min this update has left): build it with featurize index s3://b/out/ where the memory and time are; later runs' updates extend it",
    );
    // 400,000 are beyond the default function's memory and time, within the largest's.
    expect(annBuildRefusal({ memoryLimitMiB: 3008, remainingMs: fifteenMinutes }, 400_000, 1280, 's3://b/out/')).toMatch(
      /^building the index over 400,000 vectors needs about 4,616 MiB, more than the 3,008 MiB this update may use and takes about \d+ min .*: deploy with -c updateIndexMemoryMb=10240 \(about [\d,]+ vectors\), or build it with featurize index s3:\/\/b\/out\//,
    );
  });

  it('refuses a dataset mixing two models', async () => {
    const storage = new FsStorage(join(stores.dir, 'mixed'));
    await writeFeatureParts(storage, runs[0]!, clusteredRows(4, { width: 16 }));
    await writeFeatureParts(storage, runs[1]!, clusteredRows(4, { width: 16, prefix: '/b' }), {
      source: { ...testSource, modelId: 'other_model@111111111111' },
    });
    await expect(updateIndex(storage)).rejects.toThrow(/mixes vectors of two sources .*their similarities mean nothing/);
  });

  it('finishes an update cut short without doubling rows', async () => {
    const storage = new FsStorage(join(stores.dir, 'cut'));
    await writeFeatureParts(storage, runs[0]!, clusteredRows(12, { width: 16 }), { rowsPerPart: 6 });
    let checks = 0;
    await expect(
      updateIndex(storage, {
        check: () => {
          if (++checks === 3) throw new Error('lease lost');
        },
      }),
    ).rejects.toThrow('lease lost');
    expect(await readIndexManifest(storage)).toBeUndefined();
    expect(await updateIndex(storage)).toMatchObject({ action: 'built', rows: 12 });
    expect(await indexedPaths(storage)).toHaveLength(12);
  });
});
