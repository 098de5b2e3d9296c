/**
 * The whole state machine (statemachine/featurize.asl.json, run by the local runner) over many rows: a synthetic
 * extract function (test/support/functions/synthetic-extract-handler.ts) writes the shards, and every later step
 * is the real one: PlanReduce, the ReduceParts children (ReducePart, AuditPart), FinishReduce, Validate, Publish,
 * Report. 3,000 rows in the suite; `npm run test:scale` runs it over 1,000,000 (FEATURIZE_SCALE_ROWS), where the
 * vectors alone are 4.9 GiB, so a step that held the run's rows would take this process past its memory bound.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listParts, openPart, readPartRowGroups } from '../../functions/shared/dataset/feature-parts.ts';
import { newRunId, reportKey } from '../../functions/shared/run-layout.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import type { ValidationReport } from '../../functions/validate/validate-run.ts';
import { runPipeline } from '../../statemachine/local/run-pipeline.ts';
import { syntheticVector } from '../support/map-run.ts';

const rows = Number(process.env.FEATURIZE_SCALE_ROWS ?? 3000);
/** Parts of 1,000 rows in the suite (three ReduceParts children, their listing ranges tiling the input), else the default. */
const partRows = rows <= 10_000 ? '1000' : '25000';
/**
 * This process's peak resident memory (every step, the worker threads included) stays under this, whatever the
 * number of rows: at 1,000,000 rows the vectors alone are 4.9 GiB.
 */
const peakBoundMiB = 2560;
const labels = 131;

let dir: string;
let input: string;
const keyOf = (i: number) => `images/Label ${i % labels}/${i}_100.jpg`;

beforeAll(async () => {
  // Read by PlanReduce (this thread) and the ReduceParts children (the workers' environment is this one's).
  vi.stubEnv('FEATURIZE_PART_ROWS', partRows);
  dir = await mkdtemp(join(tmpdir(), 'scale-'));
  input = join(dir, 'in');
  for (let label = 0; label < labels; label++) await mkdir(join(input, 'images', `Label ${label}`), { recursive: true });
  for (let i = 0; i < rows; i++) await writeFile(join(input, keyOf(i)), '');
}, 600_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

async function run(name: string, env: NodeJS.ProcessEnv = {}) {
  const runId = newRunId();
  const output = join(dir, name);
  const outcome = await runPipeline({
    runId,
    input: { bucket: input, prefix: 'images/' },
    output: { bucket: output, prefix: '' },
    maxItemsPerBatch: 250,
    maxConcurrency: 0,
    toleratedFailurePercentage: 0,
    workers: 2,
    env: { ...process.env, ...env },
    handlers: { Extract: new URL('../support/functions/synthetic-extract-handler.ts', import.meta.url) },
  });
  const report = JSON.parse(await readFile(join(output, reportKey(runId)), 'utf8')) as ValidationReport;
  return { outcome, report, output: new FsStorage(output) };
}

describe(`the whole state machine over ${rows.toLocaleString('en-US')} rows of synthetic vectors`, () => {
  it('accounts for every input exactly, publishes each once, and stays within its memory bound', async () => {
    const { outcome, report, output } = await run('all');

    expect(outcome.status).toBe('SUCCEEDED');
    expect(report.counts).toEqual({ listed: rows, rows, skipped: 0, failures: 0 });
    expect(report.checks.find((check) => check.name === 'accounting')?.detail).toMatch(`each of the ${rows} inputs`);
    const parts = await listParts(output);
    expect(parts).toHaveLength(Math.ceil(rows / Number(partRows)));
    let published = 0;
    for (const object of parts) published += Number((await openPart(output, object)).metadata.num_rows);
    expect(published).toBe(rows);
    // The first row group of the first part, vector by vector, as the synthetic extractor made them.
    const first = await openPart(output, parts[0]!);
    for await (const group of readPartRowGroups(first, ['path', 'features'])) {
      for (const row of group) {
        const key = (row.path as string).slice(input.length + 1);
        expect(Float32Array.from(row.features as number[])).toEqual(syntheticVector(key));
      }
      break;
    }
    const peakMiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1]) / 1024;
    console.log(`whole run over ${rows} rows: peak resident memory ${Math.round(peakMiB)} MiB (bound ${peakBoundMiB})`);
    expect(peakMiB).toBeLessThan(peakBoundMiB);
  }, 3_600_000);

  it('names both paths when extraction drops one row and writes another twice, and publishes nothing', async () => {
    const dropped = keyOf(7);
    const twice = keyOf(rows - 3);
    const { outcome, report, output } = await run('lost-and-twice', { FEATURIZE_TEST_DROP_KEY: dropped, FEATURIZE_TEST_TWICE_KEY: twice });

    expect(outcome).toMatchObject({ status: 'FAILED', error: { Error: 'ValidationFailed' } });
    expect(report.counts).toMatchObject({ listed: rows, rows });
    const accounting = report.checks.find((check) => check.name === 'accounting')?.detail ?? '';
    expect(accounting).toContain(`neither in the dataset nor in failures.jsonl, e.g. ${join(input, dropped)}`);
    expect(accounting).toContain(`in more than one place, e.g. ${join(input, twice)}`);
    expect(await listParts(output)).toEqual([]);
  }, 3_600_000);
});
