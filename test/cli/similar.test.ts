import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import { readDatasetVectors } from '../../functions/shared/vectors/dataset-vectors.ts';
import { featurize } from '../support/cli.ts';
import { clusteredRows, writeFeatureParts } from '../support/feature-parts.ts';
import { runWithRealModel } from '../support/real-run.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('similar', ['datasets']);
let out: string;

/** The k nearest by a float64 scan of every stored vector, the query's own path left out. */
async function exactNearest(storage: Storage, query: string, k: number) {
  const { rows, matrix } = await readDatasetVectors(storage);
  const d = matrix.dimension;
  const own = rows.findIndex((row) => row.path === query);
  return rows
    .map((row, i) => {
      let similarity = 0;
      for (let j = 0; j < d; j++) similarity += matrix.data[own * d + j]! * matrix.data[i * d + j]!;
      return { path: row.path, label: row.label, similarity };
    })
    .filter((_, i) => i !== own)
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

function expectSameNeighbours(actual: { path: string; similarity: number }[], expected: { path: string; similarity: number }[]) {
  expect(actual.map((m) => m.path)).toEqual(expected.map((m) => m.path));
  actual.forEach((match, i) => {
    expect(match.similarity).toBeCloseTo(expected[i]!.similarity, 5);
  });
}

beforeAll(async () => {
  out = join(stores.dir, 'out');
  await mkdir(out);
  await runWithRealModel(out, '20260101T000000Z-aaaaaa', [await sampleKeys(3, 4)]);
});

describe('featurize similar', () => {
  it('answers for an image of the dataset with its stored vector, leaving it out, as an exact scan does', async () => {
    const [first] = await sampleKeys(1, 1);
    const query = join(sampleDir, first!);
    const result = await featurize(['similar', query, '--dataset', out, '--k', '4', '--json']);
    expect(result.stderr).toBe('');
    const matches = JSON.parse(result.stdout);
    expect(matches).toHaveLength(4);
    expect(Object.keys(matches[0])).toEqual(['path', 'label', 'similarity']);
    expectSameNeighbours(matches, await exactNearest(new FsStorage(out), query, 4));
  });

  it("makes the vector of an image outside the dataset with the dataset's model: a copy finds its original", async () => {
    const [first] = await sampleKeys(1, 1);
    const copy = join(stores.dir, 'elsewhere.jpg');
    await copyFile(join(sampleDir, first!), copy);
    const result = await featurize(['similar', copy, '--dataset', out, '--k', '2']);
    expect(result.code).toBe(0);
    const [nearest, second] = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split('\t'));
    expect(nearest).toEqual([join(sampleDir, first!), first!.split('/')[0], expect.stringMatching(/^(1\.0000|0\.999\d)$/)]);
    expect(second).toHaveLength(3);
    expect(result.stderr).toBe('featurize: 2 nearest by exact search, query vector made now\n');
  });

  it('searches the index once built, with the same answer', async () => {
    const [, second] = await sampleKeys(1, 2);
    const query = join(sampleDir, second!);
    const exact = JSON.parse((await featurize(['similar', query, '--dataset', out, '--json'])).stdout);
    const indexed = await featurize(['index', out]);
    expect(indexed.stdout).toMatch(/^index .*\/out\/index\/ built: 12 images; exact search \(small enough to scan\)\n$/);
    expect((await featurize(['index', out])).stdout).toMatch(/ already current: 12 images;/);
    const result = await featurize(['similar', query, '--dataset', out]);
    expect(result.stderr).toBe("featurize: 10 nearest by the index, query vector the dataset's own\n");
    const viaIndex = JSON.parse((await featurize(['similar', query, '--dataset', out, '--json'])).stdout);
    expect(viaIndex).toHaveLength(10);
    expectSameNeighbours(viaIndex, exact);
  });

  it('searches exactly once the dataset has changed since the index was built, until it is updated', async () => {
    const dataset = join(stores.dir, 'changing');
    const storage = new FsStorage(dataset);
    const rows = clusteredRows(30, { width: 16, prefix: '/in' });
    await writeFeatureParts(storage, '20260101T000000Z-aaaaaa', rows.slice(0, 20));
    await featurize(['index', dataset]);
    await writeFeatureParts(storage, '20260102T000000Z-bbbbbb', rows.slice(20));
    const staleText = await featurize(['similar', rows[0]!.path, '--dataset', dataset, '--k', '29']);
    expect(staleText.stderr).toBe("featurize: 29 nearest by exact search, query vector the dataset's own\n");
    const stale = await featurize(['similar', rows[0]!.path, '--dataset', dataset, '--k', '29', '--json']);
    expect(JSON.parse(stale.stdout)).toHaveLength(29);
    const updated = await featurize(['index', dataset]);
    expect(updated.stdout).toMatch(/ updated: 1 part\(s\) added or changed, 0 removed, 30 images;/);
    const current = await featurize(['similar', rows[0]!.path, '--dataset', dataset, '--k', '29']);
    expect(current.stderr).toBe("featurize: 29 nearest by the index, query vector the dataset's own\n");
    const viaIndex = await featurize(['similar', rows[0]!.path, '--dataset', dataset, '--k', '29', '--json']);
    expectSameNeighbours(JSON.parse(viaIndex.stdout), JSON.parse(stale.stdout));
  });

  it("refuses, in one line, an image outside the dataset when the dataset's model is not here", async () => {
    const other = join(stores.dir, 'other');
    await writeFeatureParts(new FsStorage(other), '20260101T000000Z-bbbbbb', clusteredRows(8, { width: 1280 }));
    const [first] = await sampleKeys(1, 1);
    const result = await featurize(['similar', join(sampleDir, first!), '--dataset', other]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^featurize: the dataset's model mobilenet_v2_test@000000000000 \(tfjs\/wasm\) is not available here: the model in .* is mobilenet_v2_\S+ \(set FEATURIZE_MODEL_DIR or --model to the dataset's\)\n$/,
    );
  });

  it('refuses a missing image in one line', async () => {
    const result = await featurize(['similar', join(stores.dir, 'missing.jpg'), '--dataset', out]);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('indexes and searches a dataset on S3', async () => {
    const rows = clusteredRows(60, { width: 32 });
    const dataset = new S3Storage('datasets', 'v1');
    await writeFeatureParts(dataset, '20260101T000000Z-aaaaaa', rows, { rowsPerPart: 25 });
    const env = { AWS_ENDPOINT_URL_S3: stores.s3.endpoint };
    const query = rows[5]!.path;
    const exact = JSON.parse((await featurize(['similar', query, '--dataset', 's3://datasets/v1', '--k', '5', '--json'], env)).stdout);
    expectSameNeighbours(exact, await exactNearest(dataset, query, 5));
    const indexed = await featurize(['index', 's3://datasets/v1'], env);
    expect(indexed.stderr).toBe('');
    expect(indexed.stdout).toMatch(/^index s3:\/\/datasets\/v1\/index\/ built: 60 images;/);
    const result = await featurize(['similar', query, '--dataset', 's3://datasets/v1', '--k', '5', '--json'], env);
    expect(result.stderr).toBe('');
    expectSameNeighbours(JSON.parse(result.stdout), exact);
  });
});
