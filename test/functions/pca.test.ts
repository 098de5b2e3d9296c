import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fitPca } from '../../functions/pca/fit-pca.ts';
import { handler } from '../../functions/pca/handler.ts';
import { publishRun } from '../../functions/publish/publish-run.ts';
import { listParts, openPart, partKeyValues, readPartRowGroups } from '../../functions/shared/dataset/feature-parts.ts';
import { leaseStoreFor } from '../../functions/shared/dataset/publish-lease.ts';
import { locationPrefix } from '../../functions/shared/dataset/run-scope.ts';
import { applyPca, decodePcaModel, encodePcaModel } from '../../functions/shared/pca/pca-model.ts';
import { pcaSummaries, pcaSummaryLines } from '../../functions/shared/pca/pca-summary.ts';
import { ScatterAccumulator } from '../../functions/shared/pca/scatter-accumulator.ts';
import { partMomentsKey } from '../../functions/shared/run-layout.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import type { PcaEvent, RunScope } from '../../statemachine/contracts.ts';
import { clusteredRows, testSource, writeFeatureParts } from '../support/feature-parts.ts';
import { writeMapRun } from '../support/map-run.ts';
import { type PcaStepsEvent, runPcaSteps } from '../support/pca-steps.ts';
import { reduceRun } from '../support/reduce-run.ts';
import { useTestStores } from '../support/stores.ts';

const context = { functionName: 'pca', awsRequestId: 'test' } as Context;
/** The run's PCA as the state machine runs it: Pca, a PcaPart per planned part, PublishPca. */
const invoke = (event: PcaStepsEvent) => runPcaSteps(event);

const width = 96;

/** The rows of the parts in `folder` (or of one of them), in part and row order. */
async function reducedRows(storage: Storage, folder: string, columns = ['path', 'label', 'pca'], only?: string) {
  const rows: Record<string, unknown>[] = [];
  for (const object of await listParts(storage, folder)) {
    if (only && object.key !== only) continue;
    for await (const group of readPartRowGroups(await openPart(storage, object), columns)) rows.push(...group);
  }
  return rows;
}

const output = { bucket: 'datasets', prefix: 'fruits/' };
const rows = clusteredRows(1500, { width });

const stores = useTestStores('pca', ['datasets']);

/** Every part of features/ has its reduced twin in the partition: the same name, rows, order, and vectors reduced by the model. */
async function expectTwinOfFeatures(storage: Storage, modelKey: string, partition: string): Promise<void> {
  const model = decodePcaModel(Buffer.from(await storage.read(modelKey)).toString());
  const names = (objects: { key: string }[], folder: string) => objects.map((object) => object.key.slice(folder.length)).sort();
  const features = await listParts(storage);
  expect(names(await listParts(storage, partition), partition)).toEqual(names(features, 'features/'));
  for (const object of features) {
    const source = await reducedRows(storage, 'features/', ['path', 'features'], object.key);
    const twin = await reducedRows(storage, partition, ['path', 'pca'], partition + object.key.slice('features/'.length));
    expect(twin.map((row) => row.path)).toEqual(source.map((row) => row.path));
    const expected = applyPca(
      model,
      source.map((row) => row.features as number[]),
    );
    expect(Float32Array.from(twin.flatMap((row) => row.pca as number[]))).toEqual(expected);
  }
}

describe('pca handler', () => {
  it('fits on a run streamed over 3 parts and 12 row groups as on all its vectors at once, and writes the model and a reduced twin of each part', async () => {
    const storage = new S3Storage('datasets', 'fruits');
    const featureParts = await writeFeatureParts(storage, 'run-1', rows, { rowsPerPart: 500, rowGroupRows: 128 });
    await writeFeatureParts(storage, 'run-1-b', rows.slice(0, 10)); // another run whose id starts with this one's

    const result = await invoke({ runId: 'run-1', output, pca: { varianceShare: 0.9 } });

    const inMemory = new ScatterAccumulator(width);
    inMemory.add(rows.map((row) => row.features));
    const expected = fitPca(inMemory, { varianceShare: 0.9 });
    const model = decodePcaModel(Buffer.from(await storage.read('pca/run-1/model.json')).toString());
    expect(result).toMatchObject({ runId: 'run-1', modelId: 'run-1', model: 'pca/run-1/model.json', fitted: true, rows: 1500, parts: 3 });
    expect(result.components).toBe(expected.components.length);
    expect(result.varianceShare).toBeGreaterThanOrEqual(0.9);
    expect(model.samples).toBe(1500);
    expect(model.source).toEqual({ runId: 'run-1', ...testSource });
    model.mean.forEach((value, i) => {
      expect(value).toBeCloseTo(expected.mean[i]!, 12);
    });
    model.eigenvalues.forEach((value, i) => {
      expect(value).toBeCloseTo(expected.eigenvalues[i]!, 10);
    });
    model.components.forEach((axis, j) => {
      axis.forEach((value, i) => {
        expect(value).toBeCloseTo(expected.components[j]![i]!, 8);
      });
    });

    const partition = 'features-pca/pca_model=run-1/';
    expect((await listParts(storage, partition)).map((part) => part.key)).toEqual(
      featureParts.map((key) => key.replace('features/', partition)),
    );
    const reduced = await reducedRows(storage, partition);
    expect(reduced.map((row) => row.path)).toEqual(rows.map((row) => row.path));
    expect(reduced.map((row) => row.label)).toEqual(rows.map((row) => row.label));
    const again = applyPca(
      model,
      rows.map((row) => row.features),
    );
    reduced.forEach((row, r) => {
      expect(row.pca).toHaveLength(result.components);
      expect(Float32Array.from(row.pca as number[])).toEqual(again.subarray(r * result.components, (r + 1) * result.components));
    });
    const metadata = partKeyValues(await openPart(storage, (await listParts(storage, partition))[0]!));
    expect(metadata).toMatchObject({
      'featurize.run_id': 'run-1',
      'featurize.model_id': testSource.modelId,
      'featurize.pca_model_id': 'run-1',
      'featurize.pca_model': 'pca/run-1/model.json',
      'featurize.pca_components': String(result.components),
    });
  });

  it('applies a saved model to another run without refitting, reproducing its vectors bit for bit', async () => {
    const storage = new S3Storage('datasets', 'fruits');
    await writeFeatureParts(storage, 'run-2', rows.slice(1000), { rowGroupRows: 100 });
    const before = Buffer.from(await storage.read('pca/run-1/model.json')).toString();

    const result = await invoke({ runId: 'run-2', output, pca: { model: 's3://datasets/fruits/pca/run-1/model.json' } });

    expect(result).toMatchObject({
      runId: 'run-2',
      modelId: 'run-1',
      fitted: false,
      rows: 500,
      parts: 1,
      dataset: 'features-pca/pca_model=run-1/',
    });
    expect(result.millis.eigen).toBe(0);
    expect(Buffer.from(await storage.read('pca/run-1/model.json')).toString()).toBe(before);
    const all = await reducedRows(storage, 'features-pca/pca_model=run-1/');
    const byPath = new Map<string, number[][]>();
    for (const row of all) byPath.set(row.path as string, [...(byPath.get(row.path as string) ?? []), row.pca as number[]]);
    for (const row of rows.slice(1000)) {
      const [fitted, applied] = byPath.get(row.path)!;
      expect(Buffer.from(Float32Array.from(applied!).buffer).equals(Buffer.from(Float32Array.from(fitted!).buffer))).toBe(true);
    }
  });

  it('keeps a copy of a model applied from elsewhere beside the partition it reduced', async () => {
    const local = new FsStorage(stores.dir);
    await writeFeatureParts(local, 'local-run', rows.slice(0, 200));
    const result = await invoke({
      runId: 'local-run',
      output: { bucket: stores.dir },
      pca: { model: 's3://datasets/fruits/pca/run-1/model.json' },
    });
    expect(result).toMatchObject({ modelId: 'run-1', rows: 200 });
    const copy = decodePcaModel(Buffer.from(await local.read('pca/run-1/model.json')).toString());
    expect(copy).toEqual(decodePcaModel(Buffer.from(await new S3Storage('datasets', 'fruits').read('pca/run-1/model.json')).toString()));
  });

  it('gives DuckDB one dataset per model: a pca_model column from the folder, k float values per row', async () => {
    const local = new FsStorage(stores.dir);
    await writeFeatureParts(local, 'duck', rows.slice(0, 300));
    await invoke({ runId: 'duck', output: { bucket: stores.dir }, pca: 5 });
    const runOneK = decodePcaModel(Buffer.from(await local.read('pca/run-1/model.json')).toString()).components.length;
    const connection = await (await DuckDBInstance.create()).connect();
    const reader = await connection.runAndReadAll(
      `SELECT pca_model, count(*) AS n, min(len(pca)) AS k_min, max(len(pca)) AS k_max
       FROM read_parquet('${stores.dir}/features-pca/*/*.parquet', hive_partitioning = true) GROUP BY pca_model ORDER BY pca_model`,
    );
    expect(reader.getRowObjectsJson()).toEqual([
      { pca_model: 'duck', n: '300', k_min: '5', k_max: '5' },
      { pca_model: 'run-1', n: '200', k_min: String(runOneK), k_max: String(runOneK) },
    ]);
    connection.closeSync();
  });

  it('refuses a saved model made for another feature extractor, and fitting on a run without feature parts', async () => {
    const storage = new S3Storage('datasets', 'fruits');
    const model = decodePcaModel(Buffer.from(await storage.read('pca/run-1/model.json')).toString());
    await storage.write('elsewhere/model.json', encodePcaModel({ ...model, source: { ...model.source, modelId: 'resnet@123' } }));
    await expect(invoke({ runId: 'run-2', output, pca: { model: 's3://datasets/fruits/elsewhere/model.json' } })).rejects.toMatchObject({
      name: 'PcaError',
      message: expect.stringMatching(/fitted on vectors of resnet@123; run run-2 has vectors of mobilenet_v2_test/),
    });
    await expect(invoke({ runId: 'no-such-run', output, pca: 0.95 })).rejects.toMatchObject({
      name: 'PcaError',
      message: expect.stringContaining('run no-such-run has no feature parts under s3://datasets/fruits/features/'),
    });
    // A run whose every image failed has nothing to reduce: applying a saved model to it is not an error.
    const nothing = await invoke({ runId: 'all-failed', output, pca: { model: 's3://datasets/fruits/pca/run-1/model.json' } });
    expect(nothing).toMatchObject({ modelId: 'run-1', fitted: false, rows: 0, parts: 0 });
  });

  it("refuses to fit on moments that do not count the run's rows (one part's moments missing)", async () => {
    const storage = new FsStorage(join(stores.dir, 'moments-missing'));
    await writeFeatureParts(storage, 'run-m', clusteredRows(30, { width }), { rowsPerPart: 10 });
    await storage.remove([partMomentsKey('run-m', 1)]);
    await expect(
      invoke({ runId: 'run-m', output: { bucket: join(stores.dir, 'moments-missing'), prefix: '' }, pca: 4 }),
    ).rejects.toMatchObject({
      name: 'PcaError',
      message: expect.stringMatching(/count 20 rows, its 3 parts hold 30/),
    });
  });

  it('summarises the models of a dataset location and what each has reduced, for featurize inspect', async () => {
    const storage = new S3Storage('datasets', 'fruits');
    const [summary, ...others] = await pcaSummaries(storage);
    expect(others).toEqual([]);
    expect(summary).toMatchObject({
      modelId: 'run-1',
      model: 's3://datasets/fruits/pca/run-1/model.json',
      fittedOn: { runId: 'run-1', samples: 1500 },
      sourceModelId: testSource.modelId,
      selection: { varianceShare: 0.9 },
      features: width,
      reduced: { location: 's3://datasets/fruits/features-pca/pca_model=run-1/', parts: 4, rows: 2000, runs: ['run-1', 'run-2'] },
    });
    const lines = pcaSummaryLines([summary!]);
    expect(lines[0]).toMatch(/^pca {7}run-1: \d+ of 96 components, 9\d\.\d% of the variance$/);
    expect(lines.join('\n')).toContain('4 parts, 2000 rows, runs run-1, run-2');
    expect(await pcaSummaries(new S3Storage('datasets', 'nothing-here'))).toEqual([]);
    expect(pcaSummaryLines([])).toEqual(['pca       none (run with --pca to fit one)']);
  });

  it('keeps a model partition the twin of features/ through the incremental rewrites and full replacements of publishing', async () => {
    const place = { input: { bucket: join(stores.dir, 'input') }, output: { bucket: join(stores.dir, 'twin'), prefix: '' } };
    const storage = new FsStorage(place.output.bucket);
    const vectors = clusteredRows(13, { width: 24, labels: ['Kiwi', 'Lemon', 'Plum'] });
    const item = (i: number) => ({ key: `images/${vectors[i]!.label}/${i}.jpg`, features: Float32Array.from(vectors[i]!.features) });
    // The reducer stages the run's parts, publishing makes them features/ (validation, which would refuse
    // 24-wide vectors, is not what this test is about).
    const reduceAs = async (runId: string, indexes: number[], kind: 'full' | 'incremental') => {
      const batches = [indexes.slice(0, 6), indexes.slice(6)].filter((batch) => batch.length > 0);
      await writeMapRun({ runId, ...place, batches: batches.map((batch) => ({ status: 'SUCCEEDED' as const, items: batch.map(item) })) });
      const options = { partRows: 6, rowGroupRows: 4, readConcurrency: 2, leaseMs: 60_000 };
      const startedAt = new Date().toISOString();
      const { parts } = await reduceRun(
        { runId, input: openStorage(place.input), output: storage, startedAt, outputPrefix: '', moments: true },
        options,
      );
      const scope: RunScope = kind === 'full' ? { kind, prefix: locationPrefix({ ...place.input, prefix: 'images/' }) } : { kind };
      return publishRun({ runId, output: storage, scope, parts, lease: await leaseStoreFor(storage) }, options);
    };
    const apply = (runId: string) =>
      invoke({ runId, output: place.output, pca: { model: join(place.output.bucket, 'pca/run-a/model.json') } });

    await reduceAs('run-a', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'full');
    expect(await invoke({ runId: 'run-a', output: place.output, pca: { components: 3 } })).toMatchObject({
      parts: 2,
      rewrittenParts: 0,
      removedParts: 0,
    });
    await expectTwinOfFeatures(storage, 'pca/run-a/model.json', 'features-pca/pca_model=run-a/');

    // An incremental run re-processes image 1 (publishing rewrites part-run-a-00000 without it) and adds image 12.
    expect(await reduceAs('run-b', [1, 12], 'incremental')).toMatchObject({ rewrittenParts: 1 });
    expect(await apply('run-b')).toMatchObject({ parts: 1, rows: 2, rewrittenParts: 1, removedParts: 0, fitted: false });
    await expectTwinOfFeatures(storage, 'pca/run-a/model.json', 'features-pca/pca_model=run-a/');

    // A full run replaces the dataset: every older reduced part goes with its source.
    await reduceAs('run-c', [0, 6], 'full');
    expect(await apply('run-c')).toMatchObject({ parts: 1, rows: 2, rewrittenParts: 0, removedParts: 3 });
    await expectTwinOfFeatures(storage, 'pca/run-a/model.json', 'features-pca/pca_model=run-a/');
  });

  it('reduces again a part a publish rewrote after its PcaPart read it, and writes no twin for a part removed meanwhile', async () => {
    const place = { bucket: join(stores.dir, 'changed') };
    const storage = new FsStorage(place.bucket);
    await writeFeatureParts(storage, 'changed', rows.slice(0, 200), { rowsPerPart: 100 });

    const result = await runPcaSteps({ runId: 'changed', output: place, pca: { components: 3 } }, async () => {
      // Between the children and PublishPca: a publish rewrites part 00000 without half its rows, removes part 00001.
      await writeFeatureParts(storage, 'changed', rows.slice(0, 50));
      await storage.remove(['features/part-changed-00001.parquet']);
    });

    expect(result).toMatchObject({ parts: 2, rows: 50, reducedAgain: 1, removedParts: 0 });
    expect((await listParts(storage, 'runs/changed/pca/parts/')).map((part) => part.key)).toEqual([
      'runs/changed/pca/parts/part-changed-00000.parquet',
      'runs/changed/pca/parts/part-changed-00001.parquet',
    ]);
    await expectTwinOfFeatures(storage, 'pca/changed/model.json', 'features-pca/pca_model=changed/');
    // PublishPca again: the same partition (idempotent).
    const again = await runPcaSteps({ runId: 'changed', output: place, pca: { model: join(place.bucket, 'pca/changed/model.json') } });
    expect(again).toMatchObject({ parts: 1, rows: 50, reducedAgain: 0, removedParts: 0 });
    await expectTwinOfFeatures(storage, 'pca/changed/model.json', 'features-pca/pca_model=changed/');
  });

  it.each([
    [{ runId: 'r', output, pca: null }, /pca: /],
    [{ runId: 'r', output, pca: 1.5 }, /pca: expected null, a variance share/],
    [{ runId: 'r', output }, /pca: /],
    [{ runId: '../x', output, pca: 0.9 }, /runId/],
  ])('rejects a malformed event with InvalidEventError naming the field (%#)', async (event, pattern) => {
    await expect(handler(event as PcaEvent, context)).rejects.toMatchObject({
      name: 'InvalidEventError',
      message: expect.stringMatching(pattern),
    });
  });
});
