import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExtractBatchResult } from '../../functions/extract/extract-batch.ts';
import { handler as extract } from '../../functions/extract/handler.ts';
import { handler as pca } from '../../functions/pca/handler.ts';
import type { PcaRunResult } from '../../functions/pca/run-pca.ts';
import { listParts, readRowSlices } from '../../functions/shared/dataset/parquet-read.ts';
import { applyPca, decodePcaModel, explainedVarianceRatio } from '../../functions/shared/pca/pca-model.ts';
import { decodeShard } from '../../functions/shared/shards/shard-file.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { writeFeatureParts } from '../support/feature-parts.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';

const context = { functionName: 'test', awsRequestId: 'test' } as Context;
let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'pca-real-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('pca on MobileNetV2 vectors of 100 Fruits-360 images', () => {
  it('keeps the fewest of 1280 axes for 95% of the variance, and a saved model reproduces the reduced vectors', async () => {
    // Vectors from the real model, written in the reducer's Parquet schema (the reducer is not on main yet).
    const keys = await sampleKeys(4, 25);
    const batch = {
      Items: keys.map((Key) => ({ Key })),
      BatchInput: { runId: 'real', input: { bucket: sampleDir }, output: { bucket: out } },
    };
    const extracted = (await extract(batch as never, context)) as ExtractBatchResult;
    const shard = decodeShard(await readFile(join(out, extracted.shard)));
    const storage = new FsStorage(out);
    const { modelId, engine, preprocessing } = shard.metadata;
    const vectors = shard.rows.map((row) => ({ path: row.path, label: row.label, features: row.features! }));
    await writeFeatureParts(storage, 'real', vectors, { rowsPerPart: 40, rowGroupRows: 16, source: { modelId, engine, preprocessing } });

    const result = (await pca({ runId: 'real', output: { bucket: out }, pca: {} } as never, context)) as PcaRunResult;

    const model = decodePcaModel(await readFile(join(out, result.model), 'utf8'));
    expect(model.mean).toHaveLength(1280);
    expect(model.eigenvalues).toHaveLength(1280);
    expect(model.source.modelId).toBe(modelId);
    const cumulative: number[] = [];
    for (const share of explainedVarianceRatio(model)) cumulative.push((cumulative.at(-1) ?? 0) + share);
    for (let i = 1; i < cumulative.length; i++) expect(cumulative[i]!).toBeGreaterThanOrEqual(cumulative[i - 1]!);
    expect(cumulative[result.components - 1]!).toBeGreaterThanOrEqual(0.95);
    expect(cumulative[result.components - 2]!).toBeLessThan(0.95);
    // 100 vectors span at most 99 directions around their mean.
    expect(result.components).toBeLessThan(100);
    expect(result).toMatchObject({ rows: 100, parts: 3, fitted: true });

    const reduced: number[][] = [];
    const features: number[][] = [];
    for (const part of await listParts(storage, result.dataset)) {
      for await (const slice of readRowSlices(storage, part, ['pca'])) reduced.push(...(Array.from(slice.columns.pca) as number[][]));
    }
    for (const part of await listParts(storage, 'features/')) {
      for await (const slice of readRowSlices(storage, part, ['features'])) features.push(...(Array.from(slice.columns.features) as number[][]));
    }
    expect(reduced.every((row) => row.length === result.components)).toBe(true);
    const again = applyPca(model, features);
    expect(Buffer.from(again.buffer).equals(Buffer.from(Float32Array.from(reduced.flat()).buffer))).toBe(true);
  });
});
