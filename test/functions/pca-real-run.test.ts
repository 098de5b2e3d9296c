import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as report } from '../../functions/report/handler.ts';
import { listParts, openPart, readPartRowGroups } from '../../functions/shared/dataset/feature-parts.ts';
import { applyPca, decodePcaModel, explainedVarianceRatio } from '../../functions/shared/pca/pca-model.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import type { ReportResult } from '../../statemachine/contracts.ts';
import { runPcaSteps } from '../support/pca-steps.ts';
import { runWithRealModel } from '../support/real-run.ts';
import { sampleKeys } from '../support/shared-data.ts';

const context = { functionName: 'test', awsRequestId: 'test' } as Context;

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'pca-real-run-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

async function column(storage: Storage, folder: string | undefined, name: string): Promise<number[][]> {
  const values: number[][] = [];
  for (const object of await listParts(storage, folder)) {
    for await (const rows of readPartRowGroups(await openPart(storage, object), [name]))
      values.push(...rows.map((row) => row[name] as number[]));
  }
  return values;
}

describe('PCA and report on a real run: MobileNetV2 vectors of 100 Fruits-360 images, reduced and validated', () => {
  it('keeps the fewest of 1280 axes for 95% of the variance, a saved model reproduces the reduced vectors, and the report shows the run', async () => {
    const keys = await sampleKeys(4, 25);
    const runId = 'real-pca';
    const location = { bucket: out, prefix: '' };
    const { reduced, validation, published } = await runWithRealModel(out, runId, [keys.slice(0, 50), keys.slice(50)]);
    expect(validation.passed).toBe(true);

    const result = await runPcaSteps({ runId, output: location, pca: {} });

    const storage = new FsStorage(out);
    const model = decodePcaModel(await readFile(join(out, result.model), 'utf8'));
    expect(model.mean).toHaveLength(1280);
    expect(model.eigenvalues).toHaveLength(1280);
    expect(model.source.modelId).toBe(reduced.modelId);
    const cumulative: number[] = [];
    for (const share of explainedVarianceRatio(model)) cumulative.push((cumulative.at(-1) ?? 0) + share);
    for (let i = 1; i < cumulative.length; i++) expect(cumulative[i]!).toBeGreaterThanOrEqual(cumulative[i - 1]!);
    expect(cumulative[result.components - 1]!).toBeGreaterThanOrEqual(0.95);
    expect(cumulative[result.components - 2]!).toBeLessThan(0.95);
    // 100 vectors span at most 99 directions around their mean.
    expect(result.components).toBeLessThan(100);
    expect(result).toMatchObject({ rows: 100, parts: reduced.parts.length, fitted: true });

    const reducedVectors = await column(storage, result.dataset, 'pca');
    expect(reducedVectors.every((row) => row.length === result.components)).toBe(true);
    const again = applyPca(model, await column(storage, undefined, 'features'));
    expect(Buffer.from(again.buffer).equals(Buffer.from(Float32Array.from(reducedVectors.flat()).buffer))).toBe(true);

    const page = (await report(
      {
        runId,
        output: location,
        pca: {},
        validation,
        reduce: reduced,
        publish: published,
        publishError: null,
        pcaResult: result,
        pcaError: null,
      } as never,
      context,
    )) as ReportResult;
    const html = await readFile(page.location, 'utf8');
    expect(html).toContain('validation passed');
    expect(html).toMatch(/data-count="listed"><span class="value">100</);
    expect(html).toContain(`${result.components} of 1,280, explaining`);
    expect(html).toContain(`<td>${reduced.modelId}</td>`);
    for (const label of new Set(keys.map((key) => key.split('/')[0]!))) expect(html).toContain(label);
  });
});
