/**
 * A local run with the real functions in which two batches meet an accident on their first attempt: one has
 * its shard written and then fails with StorageUnavailableError (the store's answer lost), one crashes its
 * worker thread. The ItemProcessor's Retry runs both again; the dataset has every image once.
 */
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newRunId } from '../../functions/shared/run-layout.ts';
import { runPipeline } from '../../statemachine/local/run-pipeline.ts';
import { literal, query } from '../support/duckdb.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'e2e-retries-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it('completes a run whose batches fail once (transiently, and by crashing their worker) with every image once', async () => {
  const keys = await sampleKeys(4, 5);
  const input = join(dir, 'images');
  for (const key of keys) await cp(join(sampleDir, key), join(input, key));
  const output = join(dir, 'out');
  const markers = join(dir, 'markers');
  await mkdir(markers);
  const runId = newRunId();

  const outcome = await runPipeline({
    runId,
    input: { bucket: input, prefix: '' },
    output: { bucket: output, prefix: '' },
    // Four batches of five: keys[0] is in the first, keys[10] in the third.
    maxItemsPerBatch: 5,
    maxConcurrency: 0,
    toleratedFailurePercentage: 0,
    workers: 2,
    env: { ...process.env, FLAKY_WRITE_KEY: keys[0], FLAKY_CRASH_KEY: keys[10], FLAKY_MARKERS: markers },
    retryIntervalMs: 0,
    extractHandler: new URL('../support/functions/flaky-extract-handler.ts', import.meta.url),
  });

  expect(await readdir(markers)).toEqual(['crash', 'write']);
  expect(outcome.status).toBe('SUCCEEDED');
  expect(outcome.stateOutputs.get('Validate')).toMatchObject({ mapError: null, reduce: { listed: 20, rows: 20, failures: 0 } });
  // The retried write replaced its shard rather than adding one.
  expect(await readdir(join(output, 'runs', runId, 'shards'))).toHaveLength(4);
  const [counts] = await query(
    `SELECT count(*)::INTEGER AS rows, count(DISTINCT path)::INTEGER AS paths
     FROM read_parquet(${literal(join(output, 'features', '*.parquet'))})`,
  );
  expect(counts).toEqual({ rows: 20, paths: 20 });
});
