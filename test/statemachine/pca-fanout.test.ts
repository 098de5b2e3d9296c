/**
 * The PCA fan-out through the whole state machine (the local runner, the real functions after a synthetic
 * extractor): parts of 100 rows, so that the reduce writes three parts with their moments, Pca merges them, the
 * PcaParts map runs one PcaPart child per part, and PublishPca fills the model's partition.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listParts, openPart } from '../../functions/shared/dataset/feature-parts.ts';
import { decodePcaModel } from '../../functions/shared/pca/pca-model.ts';
import { newRunId, partMomentsPrefix, pcaMapResultsPrefix, pcaModelKey } from '../../functions/shared/run-layout.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import type { PcaRunResult } from '../../statemachine/contracts.ts';
import { runPipeline } from '../../statemachine/local/run-pipeline.ts';

const rows = 300;
let dir: string;
let input: string;

beforeAll(async () => {
  // Read by PlanReduce (this thread) and the ReduceParts children (the workers' environment is this one's).
  vi.stubEnv('FEATURIZE_PART_ROWS', '100');
  dir = await mkdtemp(join(tmpdir(), 'pca-fanout-'));
  input = join(dir, 'in');
  for (const label of ['Kiwi', 'Lemon', 'Plum']) await mkdir(join(input, 'images', label), { recursive: true });
  for (let i = 0; i < rows; i++)
    await writeFile(join(input, 'images', ['Kiwi', 'Lemon', 'Plum'][i % 3]!, `${String(i).padStart(4, '0')}.jpg`), '');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function rowsOf(storage: FsStorage, folder?: string): Promise<number> {
  let total = 0;
  for (const object of await listParts(storage, folder)) total += Number((await openPart(storage, object)).metadata.num_rows);
  return total;
}

describe('state machine: PCA fanned out over the parts of a run', () => {
  it('fits on the merged moments of three parts, reduces each part in its own PcaPart child, and publishes as many reduced rows as published rows', async () => {
    const runId = newRunId();
    const outputDir = join(dir, 'out');
    const outcome = await runPipeline({
      runId,
      input: { bucket: input, prefix: 'images/' },
      output: { bucket: outputDir, prefix: '' },
      maxItemsPerBatch: 50,
      maxConcurrency: 0,
      toleratedFailurePercentage: 0,
      pca: { components: 4 },
      workers: 2,
      env: process.env,
      handlers: { Extract: new URL('../support/functions/synthetic-extract-handler.ts', import.meta.url) },
    });

    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe('SUCCEEDED');
    const output = new FsStorage(outputDir);
    const parts = await listParts(output);
    expect(parts).toHaveLength(3);
    // One moments object per part, merged into the model's samples.
    expect((await readdir(join(outputDir, partMomentsPrefix(runId)))).sort()).toEqual(['00000.bin', '00001.bin', '00002.bin']);
    const model = decodePcaModel(await readFile(join(outputDir, pcaModelKey(runId)), 'utf8'));
    expect(model.samples).toBe(rows);
    // The PcaParts map: one child per part, each staging its part's reduction.
    const [mapRun] = await readdir(join(outputDir, pcaMapResultsPrefix(runId)));
    const results = (await readFile(join(outputDir, pcaMapResultsPrefix(runId), mapRun!, 'SUCCEEDED_0.json'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(JSON.parse(line).Output as string) as { source: string; rows: number });
    expect(results.map((result) => result.source).sort()).toEqual(parts.map((part) => part.key));
    expect(results.map((result) => result.rows)).toEqual([100, 100, 100]);

    const pcaResult = (outcome.stateOutputs.get('PublishPca') as unknown as { pcaResult: PcaRunResult }).pcaResult;
    expect(pcaResult).toMatchObject({ modelId: runId, fitted: true, components: 4, rows, parts: 3, reducedAgain: 0, removedParts: 0 });
    const published = await rowsOf(output);
    expect(published).toBe(rows);
    expect(await rowsOf(output, pcaResult.dataset)).toBe(published);
  });
});
