/**
 * The index step after publishing, executed as written in statemachine/featurize.asl.json by
 * aws-local-stepfunctions, its Task states bound to the real index and report handlers over a published run's
 * output on the filesystem: reached only when the run's `index` setting is true, and never able to fail or undo
 * a published run.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { handler as reportHandler } from '../../functions/report/handler.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { readIndexManifest } from '../../functions/shared/vectors/vector-index.ts';
import { handler as updateIndexHandler } from '../../functions/update-index/handler.ts';
import { lambdaContext as context, executionContext, from, type JSONValue, substitutions } from '../support/asl-definition.ts';
import { writeSampleRun } from '../support/sample-run.ts';
import { snapshot } from '../support/snapshot.ts';

const handlers = {
  UpdateIndex: (event: JSONValue) => updateIndexHandler(event as never, context) as Promise<never>,
  Report: (event: JSONValue) => reportHandler(event as never, context) as Promise<never>,
};

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A published sample run (200 rows in two parts under features/) in a folder of its own. */
async function publishedRun(): Promise<{ dir: string; storage: FsStorage }> {
  const dir = await mkdtemp(join(tmpdir(), 'asl-index-'));
  dirs.push(dir);
  const storage = new FsStorage(dir);
  await writeSampleRun(storage, 'run');
  return { dir, storage };
}

/** The execution's state after Publish, as the earlier states leave it. */
function afterPublish(dir: string, index: boolean): JSONValue {
  return {
    runId: 'run',
    input: { bucket: 'fruits', prefix: 'images/' },
    manifest: null,
    output: { bucket: dir, prefix: '' },
    checkError: null,
    mapError: null,
    pca: null,
    pcaResult: null,
    pcaError: null,
    index,
    indexResult: null,
    indexError: null,
    reduce: { rows: 200, failures: 4 },
    validation: { passed: true, summary: 'all 12 checks passed' },
    publish: { runId: 'run', kind: 'full', parts: ['features/part-run-00000.parquet', 'features/part-run-00001.parquet'], millis: 40 },
    publishError: null,
  };
}

async function run(input: JSONValue) {
  const execution = from('ChooseIndex').run(input, {
    overrides: { taskResourceLocalHandlers: handlers },
    context: executionContext('run'),
  });
  return execution.result.then(
    (output) => ({ output: output as Record<string, unknown>, error: undefined }),
    (error: Error) => ({ output: undefined, error: error.cause }),
  );
}

describe('state machine: the index after publishing', () => {
  it.each([
    ['false', {}, false],
    ['true', {}, true],
    ['true', { index: false }, false],
    ['false', { index: true }, true],
  ])('takes the index setting from ${IndexDefault} = %s unless the input gives one (%j)', async (indexDefault, request, expected) => {
    const machine = from('Prepare', { ...substitutions, IndexDefault: indexDefault }, 'ApplyDefaults');
    const output = await machine.run(request, { context: executionContext('run') }).result;
    expect(output).toMatchObject({ run: { index: expected } });
  });

  it('builds the index from the published parts when the run asks for it, then reports and succeeds', async () => {
    const { dir, storage } = await publishedRun();
    const { output, error } = await run(afterPublish(dir, true));
    expect(error).toBeUndefined();
    expect(output).toMatchObject({
      indexResult: { action: 'built', rows: 200, partsAdded: 2, location: join(dir, 'index/') },
      indexError: null,
      report: { report: 'runs/run/report.html' },
    });
    expect(await readIndexManifest(storage)).toMatchObject({
      rows: 200,
      parts: [{ key: 'features/part-run-00000.parquet' }, { key: 'features/part-run-00001.parquet' }],
    });
  });

  it('skips the step when the run does not ask for it', async () => {
    const { dir, storage } = await publishedRun();
    const { output, error } = await run(afterPublish(dir, false));
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ indexResult: null, indexError: null, report: { report: 'runs/run/report.html' } });
    expect(await readIndexManifest(storage)).toBeUndefined();
  });

  it('keeps a failed update as indexError: the published dataset untouched, the run succeeded, the report saying so', async () => {
    const { dir, storage } = await publishedRun();
    // A file where the index's folder must go: LanceDB cannot create its database there.
    await writeFile(join(dir, 'index'), 'not a folder');
    const published = await snapshot(storage, 'features/');

    const { output, error } = await run(afterPublish(dir, true));

    expect(error).toBeUndefined();
    expect(output).toMatchObject({
      indexResult: null,
      indexError: { Cause: expect.stringContaining('Not a directory') },
      publish: { kind: 'full' },
    });
    expect(await snapshot(storage, 'features/')).toEqual(published);
    expect(await readFile(join(dir, 'runs', 'run', 'report.html'), 'utf8')).toContain(
      'The dataset is published, but its nearest-neighbour index was not updated',
    );
  });
});
