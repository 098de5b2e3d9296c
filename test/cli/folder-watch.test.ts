import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FolderWatch, type WatchBatch, watchFolder } from '../../cli/folder-watch.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { FunctionPool } from '../../statemachine/local/function-pool.ts';
import type { ExecutionOutcome } from '../../statemachine/local/run-execution.ts';
import { createPipelinePool, runPipeline } from '../../statemachine/local/run-pipeline.ts';
import { startFeaturize } from '../support/cli.ts';
import { publishedPaths } from '../support/dataset.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';

let input: string;
let out: string;
let watcher: FolderWatch;
let keys: string[];
/** The worker threads every run of the watch uses, as `featurize watch` keeps them; each import of the extract function notes a line in `imports`. */
let pool: FunctionPool;
let imports: string;
const handlers = { Extract: new URL('../support/functions/counted-extract-handler.ts', import.meta.url) };
/** Each batch the watcher ran, in order, with the outcome of its pipeline run; awaited one at a time. */
const finished: { batch: WatchBatch; outcome: ExecutionOutcome | 'interrupted' }[] = [];
/** Set by a test: the next run stops before it starts, as when the machine or the store fails. */
let interruptNext = false;
const waiting: (() => void)[] = [];
const errors: unknown[] = [];

async function nextRun(index: number) {
  while (finished.length <= index) await new Promise<void>((resolve) => waiting.push(resolve));
  return finished[index]!;
}

async function add(key: string, from = key) {
  await mkdir(dirname(join(input, key)), { recursive: true });
  await copyFile(join(sampleDir, from), join(input, key));
}

const datasetPaths = () => publishedPaths(openStorage({ bucket: out }));

beforeAll(async () => {
  input = await mkdtemp(join(tmpdir(), 'watch-in-'));
  out = await mkdtemp(join(tmpdir(), 'watch-out-'));
  keys = await sampleKeys(3, 4);
  await add(keys[0]!);
  imports = join(out, 'extract-imports.txt');
  const env = { ...process.env, EXTRACT_IMPORTS: imports };
  pool = createPipelinePool({ workers: 1, env, handlers });
  const output = { bucket: out, prefix: '' };
  watcher = watchFolder({
    dir: input,
    output,
    windowMs: 200,
    run: async (batch) => {
      if (interruptNext) {
        interruptNext = false;
        finished.push({ batch, outcome: 'interrupted' });
        waiting.splice(0).forEach((resolve) => {
          resolve();
        });
        throw new Error('the store is unavailable');
      }
      const outcome = await runPipeline({
        runId: batch.runId,
        input: { bucket: input, prefix: '' },
        output,
        manifest: batch.manifest,
        maxItemsPerBatch: 10,
        maxConcurrency: 0,
        toleratedFailurePercentage: 0,
        workers: 1,
        env,
        handlers,
        pool,
      });
      finished.push({ batch, outcome });
      waiting.splice(0).forEach((resolve) => {
        resolve();
      });
      return outcome.status === 'SUCCEEDED';
    },
    onError: (error) => errors.push(error),
  });
});
afterAll(async () => {
  await watcher.stop();
  await pool.close();
  await rm(input, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

describe('featurize watch', () => {
  it('leaves the files already there, and runs the new ones through the manifest path as one batch', async () => {
    expect(await watcher.ready).toBe(1);
    await add(keys[1]!);
    await add(keys[2]!);

    const { batch, outcome } = await nextRun(0);
    expect(batch.keys).toEqual([keys[1], keys[2]].sort());
    expect(batch.runId).toMatch(/^upload-\d{8}T\d{6}Z-[0-9a-f]{24}$/);
    expect(batch.manifest).toEqual({ bucket: out, key: `manifests/${batch.runId}.json` });
    const manifest = JSON.parse(await readFile(join(out, batch.manifest.key), 'utf8'));
    expect(manifest).toEqual(batch.keys.map((key) => ({ Key: key, Size: expect.any(Number) })));
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(await datasetPaths()).toEqual(batch.keys.map((key) => join(input, key)));
    expect(errors).toEqual([]);
  });

  it('ignores a file written again with the same bytes, and takes the next new file alone', async () => {
    // Same content, new modification time: a duplicate. Then a file with new content under a new name.
    await writeFile(join(input, keys[1]!), await readFile(join(sampleDir, keys[1]!)));
    await add(`${dirname(keys[3]!)}/copy of ${keys[3]!.split('/').pop()}`, keys[3]!);

    const { batch, outcome } = await nextRun(1);
    expect(batch.keys).toEqual([`${dirname(keys[3]!)}/copy of ${keys[3]!.split('/').pop()}`]);
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    // Every image once: the two of the first batch and the new one; the baseline file was never processed.
    const paths = await datasetPaths();
    expect(paths).toEqual([...new Set(paths)]);
    expect(paths).toHaveLength(3);
    expect(paths).not.toContain(join(input, keys[0]!));
  });

  it('publishes the good files of a batch that holds a corrupt one, recording the corrupt one, and ignores a copy of a known file', async () => {
    const good = keys.slice(4, 9);
    for (const key of good) await add(key);
    await mkdir(join(input, 'Kiwi'));
    await writeFile(join(input, 'Kiwi', 'half-written.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]));
    // Known content under a new name: recorded as seen, never run.
    await add(`${dirname(keys[1]!)}/copy of a known one.jpg`, keys[1]!);

    const { batch, outcome } = await nextRun(2);

    expect(batch.keys).toEqual([...good, 'Kiwi/half-written.jpg'].sort());
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    const paths = await datasetPaths();
    expect(paths).toEqual(expect.arrayContaining(good.map((key) => join(input, key))));
    expect(paths).toHaveLength(8);
    const failures = await readFile(join(out, 'runs', batch.runId, 'failures.jsonl'), 'utf8');
    expect(failures).toContain('"code":"CORRUPT"');
    expect(failures).toContain('half-written.jpg');
  });

  it('tries the files of a run that did not succeed again, until one does', async () => {
    interruptNext = true;
    await add(keys[9]!);

    const first = await nextRun(3);
    expect(first).toMatchObject({ batch: { keys: [keys[9]] }, outcome: 'interrupted' });
    const again = await nextRun(4);

    expect(again.batch.keys).toEqual([keys[9]]);
    expect(again.outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(await datasetPaths()).toContain(join(input, keys[9]!));
    expect(errors).toEqual([new Error('the store is unavailable')]);
  });

  it('keeps its worker thread, and the model loaded in it, from run to run', async () => {
    const runs = finished.filter((run) => run.outcome !== 'interrupted');
    expect(runs.length).toBeGreaterThanOrEqual(4);
    // One thread imported the extract function once, for every run: none started a thread or loaded a model again.
    expect((await readFile(imports, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('runs as a command until interrupted: new files in, a run summary out; Ctrl-C while the run loads the model lets it end, exit code 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'watch-cli-in-'));
    const target = await mkdtemp(join(tmpdir(), 'watch-cli-out-'));
    // Two workers, as on a 2-core machine: the run needs one, the other may still be loading when the run ends.
    const cli = startFeaturize(['watch', dir, '--out', target, '--window', '0.2', '--workers', '2']);
    await cli.saw('Ctrl-C stops');
    await mkdir(join(dir, 'Kiwi'));
    await copyFile(join(sampleDir, keys[0]!), join(dir, 'Kiwi', 'new.jpg'));
    // The run has just started its worker threads: they take seconds to load the model.
    await cli.saw(/new file\(s\), run /);
    cli.kill('SIGINT');
    const { code, stdout, stderr } = await cli.exited;
    expect(stderr).not.toContain('terminate called');
    expect(stderr).toMatch(/^featurize: stopping once run upload-\S+ has ended/m);
    expect(code).toBe(0);
    expect(stdout).toMatch(/featurize: 1 new file\(s\), run upload-\S+\nrun upload-\S+ succeeded/);
    await rm(dir, { recursive: true, force: true });
    await rm(target, { recursive: true, force: true });
  });
});
