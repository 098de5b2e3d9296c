/**
 * Write, audit, publish, in the state machine: the states from PlanReduce on, executed as written in
 * statemachine/featurize.asl.json by aws-local-stepfunctions, their Task states bound to the real reduce,
 * validate, publish, PCA and report handlers (the ReduceParts map run by the local runner's executor) over an output on the filesystem. The Distributed Map is not
 * needed to reach them: its results are written as it leaves them (test/support/map-run.ts), and execution
 * starts at PlanReduce with the state the execution holds there.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as auditPartHandler } from '../../functions/audit-part/handler.ts';
import { handler as finishReduceHandler } from '../../functions/finish-reduce/handler.ts';
import { handler as pcaHandler } from '../../functions/pca/handler.ts';
import { handler as planReduceHandler } from '../../functions/plan-reduce/handler.ts';
import { handler as publishHandler } from '../../functions/publish/handler.ts';
import { handler as reducePartHandler } from '../../functions/reduce-part/handler.ts';
import { handler as reportHandler } from '../../functions/report/handler.ts';
import { locationPrefix } from '../../functions/shared/dataset/run-scope.ts';
import { StorageUnavailableError } from '../../functions/shared/errors.ts';
import { batchIdOf, shardKey } from '../../functions/shared/run-layout.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import { handler as validateHandler } from '../../functions/validate/handler.ts';
import { lambdaContext as context, distributedMapHandler, executionContext, from, type JSONValue } from '../support/asl-definition.ts';
import { type FixtureBatch, items, writeMapRun } from '../support/map-run.ts';
import { snapshot } from '../support/snapshot.ts';

type Handler = (event: JSONValue) => Promise<never>;
const handlers: Record<string, Handler> = {
  PlanReduce: (event) => planReduceHandler(event as never, context) as Promise<never>,
  FinishReduce: (event) => finishReduceHandler(event as never, context) as Promise<never>,
  ExplainReduceFailure: (event) => finishReduceHandler(event as never, context) as Promise<never>,
  Validate: (event) => validateHandler(event as never, context) as Promise<never>,
  Publish: (event) => publishHandler(event as never, context) as Promise<never>,
  Pca: (event) => pcaHandler(event as never, context) as Promise<never>,
  Report: (event) => reportHandler(event as never, context) as Promise<never>,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'asl-publish-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Place {
  input: string;
  output: { bucket: string; prefix: string };
}

const place = (name: string): Place => ({ input: join(dir, name, 'input'), output: { bucket: join(dir, name, 'out'), prefix: '' } });

interface RunOptions {
  /** Keys (under images/) of an incremental run's manifest; a full run lists images/ instead. */
  manifest?: string[];
  tolerated?: number;
  /** The state execution starts at, with the state the execution holds after Validate when it is later. */
  startAt?: 'PlanReduce' | 'ChoosePublish';
  publish?: Handler;
  /** Done to the output after the map's results are written, before PlanReduce: what a faulty store would do. */
  damage?: (output: Storage) => Promise<void>;
}

/** The run's inputs and map results, then the execution from PlanReduce on; its output, or the error it failed with. */
async function execute(where: Place, runId: string, batches: FixtureBatch[], options: RunOptions = {}) {
  const input = openStorage({ bucket: where.input });
  for (const batch of batches) for (const item of batch.items) await input.write(item.key, `bytes of ${item.key}`);
  await writeMapRun({ runId, input: { bucket: where.input }, output: where.output, batches });
  await options.damage?.(openStorage(where.output));
  let manifest = null;
  if (options.manifest) {
    manifest = { bucket: where.input, key: `${runId}.json` };
    await writeFile(join(where.input, manifest.key), JSON.stringify(options.manifest.map((key) => ({ Key: `images/${key}` }))));
  }
  const state: Record<string, JSONValue> = {
    runId,
    input: { bucket: where.input, prefix: 'images/' },
    manifest,
    output: where.output,
    toleratedFailurePercentage: options.tolerated ?? 0,
    maxConcurrency: 0,
    pca: null,
    scope: manifest ? { kind: 'incremental' } : { kind: 'full', prefix: locationPrefix({ bucket: where.input, prefix: 'images/' }) },
    startedAt: new Date().toISOString(),
    checkError: null,
    reduce: null,
    validation: null,
    mapError: null,
    publish: null,
    publishError: null,
    pcaResult: null,
    pcaError: null,
    index: false,
    indexResult: null,
    indexError: null,
  };
  if (options.startAt === 'ChoosePublish') {
    state.reduce = { runId, parts: [] };
    state.validation = { passed: true, summary: 'all 12 checks passed' };
  }
  const reduceParts = distributedMapHandler(
    'ReduceParts',
    {
      ReducePart: (event) => reducePartHandler(event as never, context),
      AuditPart: (event) => auditPartHandler(event as never, context),
    },
    runId,
  );
  const execution = from(options.startAt ?? 'PlanReduce').run(state, {
    overrides: {
      taskResourceLocalHandlers: {
        ...handlers,
        ReduceParts: reduceParts as Handler,
        ...(options.publish ? { Publish: options.publish } : {}),
      },
      retryIntervalOverrides: { Publish: 0 },
    },
    context: executionContext(runId),
  });
  // A failed execution's error (the Fail state's Error and Cause) is the cause of the library's ExecutionError.
  return execution.result.then(
    (output) => ({ output: output as Record<string, unknown>, error: undefined }),
    (error: Error) => ({ output: undefined, error: error.cause as Error }),
  );
}

const reportPage = (where: Place, runId: string) => readFile(join(where.output.bucket, 'runs', runId, 'report.html'), 'utf8');
const succeeded = (keys: string[]): FixtureBatch[] => [{ status: 'SUCCEEDED', items: items(keys.map((key) => `images/${key}`)) }];
const unreadable = { code: 'READ_FAILED', message: 'cannot read: AccessDenied' } as const;

describe('state machine: write, audit, publish', () => {
  it('publishes a run only once it passed validation: a full run replaces features/ with copies of its audited parts, then succeeds with its report', async () => {
    const where = place('full');
    const output = openStorage(where.output);
    const first = await execute(where, 'run-a', succeeded(['Kiwi/1.jpg', 'Kiwi/2.jpg', 'Lemon/3.jpg']));
    expect(first.error).toBeUndefined();
    expect(first.output).toMatchObject({
      validation: { passed: true },
      publish: { kind: 'full', parts: ['features/part-run-a-00000.parquet'] },
    });

    const second = await execute(where, 'run-b', succeeded(['Kiwi/1.jpg', 'Kiwi/2.jpg', 'Lemon/3.jpg', 'Lemon/4.jpg']));

    expect(second.error).toBeUndefined();
    expect(second.output).toMatchObject({
      publish: { kind: 'full', parts: ['features/part-run-b-00000.parquet'], removedParts: 1 },
      publishError: null,
      report: { report: 'runs/run-b/report.html' },
    });
    const staged = await snapshot(output, 'runs/run-b/parts/');
    expect(await snapshot(output, 'features/')).toEqual({
      'features/part-run-b-00000.parquet': staged['runs/run-b/parts/part-run-b-00000.parquet'],
    });
  });

  it.each<[string, FixtureBatch[], RunOptions]>([
    [
      'a full run could not read more images than tolerated',
      [
        {
          status: 'SUCCEEDED',
          items: [
            { key: 'images/Kiwi/1.jpg' },
            { key: 'images/Kiwi/2.jpg', failure: unreadable },
            { key: 'images/Lemon/3.jpg', failure: unreadable },
          ],
        },
      ],
      { tolerated: 5 },
    ],
    [
      'an incremental run re-processing images of an older part misses one of its manifest',
      succeeded(['Kiwi/2.jpg']),
      { manifest: ['Kiwi/2.jpg', 'Plum/9.jpg'] },
    ],
  ])('leaves features/ byte for byte as it was when %s, renders the report and fails as ValidationFailed', async (_, batches, options) => {
    const where = place(`failed-${options.manifest ? 'incremental' : 'full'}`);
    const output = openStorage(where.output);
    expect((await execute(where, 'run-a', succeeded(['Kiwi/1.jpg', 'Kiwi/2.jpg', 'Lemon/3.jpg']))).error).toBeUndefined();
    const before = await snapshot(output, 'features/');

    const { output: state, error } = await execute(where, 'run-b', batches, options);

    expect(state).toBeUndefined();
    expect(error).toMatchObject({
      name: 'ValidationFailed',
      message: expect.stringMatching(/^1 of 13 checks failed: (failure-share|accounting) \(/),
    });
    expect(await snapshot(output, 'features/')).toEqual(before);
    expect(Object.keys(before)).toEqual(['features/part-run-a-00000.parquet']);
    expect(Object.keys(await snapshot(output, 'runs/run-b/parts/'))).toEqual(['runs/run-b/parts/part-run-b-00000.parquet']);
    expect(await reportPage(where, 'run-b')).toContain('Nothing was published: features/ is as it was before this run.');
  });

  it('retries Publish after a StorageUnavailableError, and the run succeeds', async () => {
    const where = place('retried');
    let attempts = 0;
    const flaky: Handler = async (event) => {
      if (++attempts === 1) throw new StorageUnavailableError('cannot copy: SlowDown');
      return handlers.Publish!(event);
    };

    const { output, error } = await execute(where, 'run-a', succeeded(['Kiwi/1.jpg']), { publish: flaky });

    expect(error).toBeUndefined();
    expect(attempts).toBe(2);
    expect(output).toMatchObject({ publish: { parts: ['features/part-run-a-00000.parquet'] }, publishError: null });
  });

  it('renders the report, then fails the run with StorageUnavailableError when the store stays unavailable through every retry of Publish', async () => {
    const where = place('unavailable');
    let attempts = 0;
    const unavailable: Handler = async () => {
      attempts++;
      throw new StorageUnavailableError('cannot copy: SlowDown');
    };

    const { error } = await execute(where, 'run-a', succeeded(['Kiwi/1.jpg']), { publish: unavailable });

    expect(error).toMatchObject({ name: 'StorageUnavailableError', message: 'cannot copy: SlowDown' });
    expect(attempts).toBe(1 + 4);
    expect(await snapshot(openStorage(where.output), 'features/')).toEqual({});
    expect(await reportPage(where, 'run-a')).toContain(
      'The run passed validation but could not be published: StorageUnavailableError: cannot copy: SlowDown.',
    );
  });

  it('renders the report, then fails the run with PublishRefusedError when Publish finds no passed validation report for the run', async () => {
    const where = place('refused');

    const { error } = await execute(where, 'run-a', succeeded(['Kiwi/1.jpg']), { startAt: 'ChoosePublish' });

    expect(error).toMatchObject({ name: 'PublishRefusedError', message: expect.stringContaining('run run-a has no validation report') });
    expect(await snapshot(openStorage(where.output), 'features/')).toEqual({});
    expect(await reportPage(where, 'run-a')).toContain(
      'The run passed validation but could not be published: PublishRefusedError: run run-a has no validation report',
    );
  });
  it("fails the run with a failed ReduceParts child's own error, naming its group, not only the map's", async () => {
    const where = place('child-error');
    const lost = shardKey('run-a', batchIdOf(['images/Pear/1.jpg']));

    const { error } = await execute(where, 'run-a', [...succeeded(['Kiwi/1.jpg', 'Kiwi/2.jpg']), ...succeeded(['Pear/1.jpg'])], {
      damage: (output) => output.remove([lost]),
    });

    expect(error?.name).toBe('ReduceGroupFailedError');
    expect(error?.message).toMatch(
      /^reduce group 0 of 1 of run run-a failed after its retries: \w+Error: .*shards\/.*; nothing was published$/,
    );
    expect(await snapshot(openStorage(where.output), 'features/')).toEqual({});
  });
});
