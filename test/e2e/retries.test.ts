/**
 * Local runs with the real functions, whose extract workers run a wrapper of the real handler that injects
 * failures (test/support/functions/flaky-extract-handler.ts): batches that fail once are retried and the
 * dataset has every image once; a batch that keeps failing takes the map past its tolerated failures, the
 * Catch sends the run on, and it still reduces (recording, publishing nothing), validates and reports
 * before it ends failed. Parts of 10 rows: the reduce fans out over worker threads, one ReduceParts child a part.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { newRunId } from '../../functions/shared/run-layout.ts';
import { runPipeline } from '../../statemachine/local/run-pipeline.ts';
import { literal, query } from '../support/duckdb.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';

let dir: string;
let input: string;
/** 20 images of 4 labels: four batches of five, in this order. */
let keys: string[];

beforeAll(async () => {
  // Read by PlanReduce (this thread) and the ReduceParts children (the workers' environment is this one's).
  vi.stubEnv('FEATURIZE_PART_ROWS', '10');
  dir = await mkdtemp(join(tmpdir(), 'e2e-retries-'));
  input = join(dir, 'images');
  keys = await sampleKeys(4, 5);
  for (const key of keys) await cp(join(sampleDir, key), join(input, key));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function runWithAccidents(name: string, workers: number, accidents: Record<string, string>) {
  const output = join(dir, name);
  const markers = join(dir, `${name}-markers`);
  await mkdir(markers);
  const runId = newRunId();
  const outcome = await runPipeline({
    runId,
    input: { bucket: input, prefix: '' },
    output: { bucket: output, prefix: '' },
    maxItemsPerBatch: 5,
    maxConcurrency: 0,
    toleratedFailurePercentage: 0,
    workers,
    env: { ...process.env, ...accidents, FLAKY_MARKERS: markers },
    retryIntervalMs: 0,
    handlers: { Extract: new URL('../support/functions/flaky-extract-handler.ts', import.meta.url) },
  });
  return { outcome, output, markers, runId };
}

it('completes a run whose batches fail once (transiently, and by crashing their worker) with every image once', async () => {
  const { outcome, output, markers, runId } = await runWithAccidents('once', 2, {
    FLAKY_WRITE_KEY: keys[0]!,
    FLAKY_CRASH_KEY: keys[10]!,
  });

  expect(await readdir(markers)).toEqual(['crash', 'write']);
  expect(outcome.status).toBe('SUCCEEDED');
  expect(outcome.stateOutputs.get('Validate')).toMatchObject({ mapError: null, reduce: { listed: 20, rows: 20, failures: 0 } });
  // The retried write replaced its shard rather than adding one.
  expect(await readdir(join(output, 'runs', runId, 'shards'))).toHaveLength(4);
  // Four batches of five, parts of ten rows: two groups, two ReduceParts children, two parts.
  expect(await readdir(join(output, 'runs', runId, 'reduce', 'stats'))).toEqual(['00000.json', '00001.json']);
  expect(outcome.stateOutputs.get('Validate')).toMatchObject({
    reduce: { parts: [0, 1].map((i) => `runs/${runId}/parts/part-${runId}-0000${i}.parquet`) },
  });
  const [counts] = await query(
    `SELECT count(*)::INTEGER AS rows, count(DISTINCT path)::INTEGER AS paths
     FROM read_parquet(${literal(join(output, 'features', '*.parquet'))})`,
  );
  expect(counts).toEqual({ rows: 20, paths: 20 });
});

it('still reduces, validates and reports a run whose map went past its tolerated failures, and ends it failed', async () => {
  // One worker: the first batch succeeds, the second keeps failing, the last two never start.
  const { outcome, output, runId } = await runWithAccidents('broken', 1, { FLAKY_BROKEN_KEY: keys[5]! });

  expect(outcome).toMatchObject({ status: 'FAILED', error: { Error: 'ValidationFailed' } });
  const state = outcome.stateOutputs.get('Validate') as { mapError: { Error: string }; reduce: object; validation: object };
  expect(state.mapError.Error).toBe('States.ExceedToleratedFailureThreshold');
  // A failed map is not published: what its first batch made is staged, features/ stays as it was (absent); the
  // failed and never started batches are recorded.
  expect(state.reduce).toMatchObject({ listed: 20, rows: 5, failures: 15, failureCodes: { BATCH_FAILED: 15 } });
  expect(state.validation).toMatchObject({ passed: false });
  expect(outcome.stateOutputs.has('Publish')).toBe(false);
  expect(await readdir(join(output, 'runs', runId, 'parts'))).toEqual([`part-${runId}-00000.parquet`]);
  expect(await readdir(output)).not.toContain('features');

  const report = JSON.parse(await readFile(join(output, 'runs', runId, 'report.json'), 'utf8')) as { passed: boolean };
  expect(report.passed).toBe(false);
  const failed = (await readFile(join(output, 'runs', runId, 'failures.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(failed.map((failure) => failure.path).sort()).toEqual(
    keys
      .slice(5)
      .map((key) => join(input, key))
      .sort(),
  );
  expect(new Set(failed.map((failure) => failure.code))).toEqual(new Set(['BATCH_FAILED']));
});
