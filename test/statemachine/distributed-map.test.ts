/**
 * The definition run locally end to end, with stand-in functions bound to its function ARNs: what is under test is
 * the state machine and the Distributed Map pre-pass (reader, batcher, concurrency, retries, tolerated failures,
 * ResultWriter), not extraction (test/e2e runs the real functions).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as checkRun } from '../../functions/check-run/handler.ts';
import { InvalidEventError, StorageUnavailableError } from '../../functions/shared/errors.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import { stepErrorText } from '../../statemachine/contracts.ts';
import { loadDefinition } from '../../statemachine/definition.ts';
import type { ChildOutcome } from '../../statemachine/local/distributed-map.ts';
import { RuntimeExitError } from '../../statemachine/local/errors.ts';
import type { Json, JsonObject } from '../../statemachine/local/json.ts';
import { type LocalFunction, runLocalExecution } from '../../statemachine/local/run-execution.ts';
import { isExtractionMap, type PipelineSettings, stepFunctionArn, substitutionsFor } from '../../statemachine/local/run-pipeline.ts';
import { lambdaContext } from '../support/asl-definition.ts';
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';

let root: string;
let imagesDir: string;
let s3: LocalS3;
const keys = Array.from({ length: 25 }, (_, i) => `Label ${i % 3}/image-${String(i).padStart(2, '0')}.jpg`).sort();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'distributed-map-'));
  imagesDir = join(root, 'images');
  for (const key of keys) {
    await mkdir(join(imagesDir, key, '..'), { recursive: true });
    await writeFile(join(imagesDir, key), `bytes of ${key}`);
  }
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3.stop();
  await rm(root, { recursive: true, force: true });
});

interface Batch {
  Items: JsonObject[];
  BatchInput: { runId: string; input: { bucket: string; prefix: string }; output: { bucket: string; prefix: string } };
}

interface Run {
  runId: string;
  outcome: Awaited<ReturnType<typeof runLocalExecution>>;
  /** Every extract invocation, retries included. */
  extractCalls: Batch[];
  reduceEvents: JsonObject[];
  reducePartEvents: JsonObject[];
  auditPartEvents: JsonObject[];
  validateEvents: JsonObject[];
  /** PCA runs only when a run asks for it; these runs do not. */
  pcaEvents: JsonObject[];
  reportEvents: JsonObject[];
  finished: ChildOutcome[];
  outputDir: string;
  mapOutput: () => { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } };
  resultFile: (key: string) => Promise<JsonObject[]>;
  manifest: () => Promise<JsonObject>;
}

let runs = 0;

async function execute(
  options: {
    settings?: Partial<PipelineSettings>;
    extract?: (batch: Batch, attempt: number) => Promise<unknown>;
    validate?: LocalFunction;
    input?: Json;
    parallelism?: number;
  } = {},
): Promise<Run> {
  const runId = `run-${++runs}`;
  const outputDir = join(root, runId);
  const settings: PipelineSettings = {
    runId,
    input: { bucket: imagesDir, prefix: '' },
    output: { bucket: outputDir, prefix: '' },
    maxItemsPerBatch: 10,
    maxConcurrency: 0,
    toleratedFailurePercentage: 0,
    workers: 2,
    env: {},
    ...options.settings,
  };
  const extractCalls: Batch[] = [];
  const attempts = new Map<string, number>();
  const reduceEvents: JsonObject[] = [];
  const reducePartEvents: JsonObject[] = [];
  const auditPartEvents: JsonObject[] = [];
  const validateEvents: JsonObject[] = [];
  const pcaEvents: JsonObject[] = [];
  const reportEvents: JsonObject[] = [];
  const finished: ChildOutcome[] = [];
  const extract: LocalFunction = async (event) => {
    const batch = event as unknown as Batch;
    extractCalls.push(batch);
    const first = String(batch.Items[0]!.Key);
    const attempt = (attempts.get(first) ?? 0) + 1;
    attempts.set(first, attempt);
    return options.extract ? options.extract(batch, attempt) : { items: batch.Items.length };
  };
  const outcome = await runLocalExecution({
    definition: await loadDefinition(substitutionsFor(settings)),
    functions: {
      [stepFunctionArn('CheckRun')]: (event) => checkRun(event as never, lambdaContext),
      [stepFunctionArn('Extract')]: extract,
      // The reduce fan-out over a plan of two groups, one ReduceParts child each (test/functions/reduce.test.ts
      // runs the real functions).
      [stepFunctionArn('PlanReduce')]: async (event) => {
        reduceEvents.push(event as JsonObject);
        const plan = join('runs', runId, 'reduce', 'plan.json');
        await mkdir(join(outputDir, plan, '..'), { recursive: true });
        await writeFile(join(outputDir, plan), JSON.stringify([{ index: 0 }, { index: 1 }]));
        return { plan: { bucket: outputDir, key: plan }, groups: 2 };
      },
      [stepFunctionArn('ReducePart')]: async (event) => {
        reducePartEvents.push(event as JsonObject);
        return { rows: 0 };
      },
      [stepFunctionArn('AuditPart')]: async (event) => {
        auditPartEvents.push(event as JsonObject);
        return { rows: 0 };
      },
      [stepFunctionArn('FinishReduce')]: async () => ({ rows: 0 }),
      [stepFunctionArn('Validate')]: async (event) => {
        validateEvents.push(event as JsonObject);
        return options.validate ? options.validate(event) : { passed: true, summary: 'all checks passed' };
      },
      // Publishing is not what these tests are about: bound, so that a run that passes reaches PCA and its report.
      [stepFunctionArn('Publish')]: async () => ({ parts: [] }),
      // Bound because every Task state must be; these runs do not ask for an index (test/statemachine/index-states.test.ts).
      [stepFunctionArn('UpdateIndex')]: async () => {
        throw new Error('UpdateIndex runs only when the run asks for an index');
      },
      [stepFunctionArn('Pca')]: async (event) => {
        pcaEvents.push(event as JsonObject);
        return {};
      },
      // Bound because every Task state must be; these runs reach PCA's fan-out only through Pca, whose result is empty.
      [stepFunctionArn('PcaPart')]: async () => {
        throw new Error('PcaPart runs only over a PCA plan');
      },
      [stepFunctionArn('PublishPca')]: async () => {
        throw new Error('PublishPca runs only after a PCA plan');
      },
      [stepFunctionArn('Report')]: async (event) => {
        reportEvents.push(event as JsonObject);
        return { report: `runs/${runId}/report.html` };
      },
    },
    executionName: runId,
    parallelism: options.parallelism ?? settings.workers,
    retryIntervalMs: 0,
    observer: { childFinished: (child) => finished.push(child) },
    observes: isExtractionMap,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  const mapOutput = () => (outcome.stateOutputs.get('PlanReduce') as { map: ReturnType<Run['mapOutput']> }).map;
  // A failed map leaves no ResultWriterDetails in the state (only its error): the reducer finds the manifest
  // under runs/<runId>/map/, and so does this.
  const manifest = async () => {
    const [mapRunId] = await readdir(join(outputDir, 'runs', runId, 'map'));
    return JSON.parse(await readFile(join(outputDir, 'runs', runId, 'map', mapRunId!, 'manifest.json'), 'utf8'));
  };
  return {
    runId,
    outcome,
    extractCalls,
    reduceEvents,
    reducePartEvents,
    auditPartEvents,
    validateEvents,
    pcaEvents,
    reportEvents,
    finished,
    outputDir,
    mapOutput,
    manifest,
    // OutputType JSONL: one record a line, every line ended.
    resultFile: async (key) => {
      const text = await readFile(join(outputDir, key), 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      return text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line));
    },
  };
}

describe('local execution of the state machine', () => {
  it('lists the input, batches it by MaxItemsPerBatch with the BatchInput, and hands reduce and validate the run', async () => {
    const run = await execute();
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.status).toBe('SUCCEEDED');
    expect(run.extractCalls.map((batch) => batch.Items.length).sort()).toEqual([10, 10, 5]);
    expect(run.extractCalls.flatMap((batch) => batch.Items.map((item) => item.Key)).sort()).toEqual(keys);
    const item = run.extractCalls.flatMap((batch) => batch.Items).find((i) => i.Key === keys[0])!;
    expect(Object.keys(item)).toEqual(['Key', 'LastModified', 'Size']);
    expect(item.Size).toBe(Buffer.byteLength(`bytes of ${keys[0]}`));
    expect(Math.abs(Number(item.LastModified) - Date.now() / 1000)).toBeLessThan(3600);
    expect(run.extractCalls[0]!.BatchInput).toEqual({
      runId: 'run-1',
      input: { bucket: imagesDir, prefix: '' },
      output: { bucket: run.outputDir, prefix: '' },
    });

    expect(run.reduceEvents).toEqual([
      {
        runId: 'run-1',
        input: { bucket: imagesDir, prefix: '' },
        manifest: null,
        output: { bucket: run.outputDir, prefix: '' },
        scope: { kind: 'full', prefix: `${imagesDir}/` },
        startedAt: expect.any(String),
        mapError: null,
        // A reduce part per worker thread when the run is large enough (plan-reduce.ts).
        reduceParallelism: 2,
      },
    ]);
    // One ReduceParts child per group of the plan, each given its group and the run; its AuditPart the same event.
    const byGroup = (events: JsonObject[]) => events.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(byGroup(run.reducePartEvents)).toEqual(
      [0, 1].map((index) => ({
        Items: [{ index }],
        BatchInput: {
          runId: 'run-1',
          input: { bucket: imagesDir, prefix: '' },
          manifest: null,
          output: { bucket: run.outputDir, prefix: '' },
          scope: { kind: 'full', prefix: `${imagesDir}/` },
          startedAt: expect.any(String),
          pca: null,
        },
      })),
    );
    expect(byGroup(run.auditPartEvents)).toEqual(run.reducePartEvents);
    const { reduceParallelism: _, ...runEvent } = run.reduceEvents[0]!;
    expect(run.validateEvents[0]).toMatchObject({ ...runEvent, toleratedFailurePercentage: 0, reduce: { rows: 0 } });
    expect(run.pcaEvents).toEqual([]);
    expect(run.reportEvents).toHaveLength(1);
    expect(run.outcome.output).toMatchObject({ validation: { passed: true } });
  });

  it('writes the ResultWriter files as AWS does and returns the Map Run ARN and the manifest location', async () => {
    const run = await execute();
    const { MapRunArn, ResultWriterDetails } = run.mapOutput();
    const mapRunId = MapRunArn.split(':').at(-1)!;
    expect(MapRunArn).toMatch(/^arn:aws:states:[^:]+:\d+:mapRun:featurize\/Extract:[0-9a-f-]{36}$/);
    expect(ResultWriterDetails).toEqual({ Bucket: run.outputDir, Key: `runs/run-2/map/${mapRunId}/manifest.json` });

    const manifest = await run.manifest();
    const succeededKey = `runs/run-2/map/${mapRunId}/SUCCEEDED_0.json`;
    const succeeded = await run.resultFile(succeededKey);
    expect(manifest).toEqual({
      DestinationBucket: run.outputDir,
      MapRunArn,
      ResultFiles: {
        SUCCEEDED: [{ Key: succeededKey, Size: (await readFile(join(run.outputDir, succeededKey))).byteLength }],
        FAILED: [],
        PENDING: [],
      },
    });
    expect(succeeded).toHaveLength(3);
    const record = succeeded.find((r) => JSON.parse(String(r.Input)).Items.length === 5)!;
    expect(Object.keys(record).sort()).toEqual(
      [
        'ExecutionArn',
        'Input',
        'InputDetails',
        'Name',
        'Output',
        'OutputDetails',
        'RedriveCount',
        'RedriveStatus',
        'RedriveStatusReason',
        'StartDate',
        'StateMachineArn',
        'Status',
        'StopDate',
      ].sort(),
    );
    expect(record).toMatchObject({
      Status: 'SUCCEEDED',
      InputDetails: { Included: true },
      OutputDetails: { Included: true },
      StateMachineArn: expect.stringMatching(/:stateMachine:featurize\/Extract$/),
    });
    expect(record.ExecutionArn).toBe(`${String(record.StateMachineArn).replace(':stateMachine:', ':execution:')}:${record.Name}`);
    expect(JSON.parse(String(record.Input))).toMatchObject({ Items: expect.any(Array), BatchInput: { runId: 'run-2' } });
    expect(JSON.parse(String(record.Output))).toEqual({ items: 5 });
    expect(Date.parse(String(record.StopDate))).toBeGreaterThanOrEqual(Date.parse(String(record.StartDate)));
  });

  it('closes batches by MaxInputBytesPerBatch, counting the JSON size of the items', async () => {
    const itemSizes = keys.map((key) => ({ key, bytes: 0 }));
    const probe = await execute({ settings: { maxItemsPerBatch: 1000 } });
    for (const item of probe.extractCalls.flatMap((batch) => batch.Items)) {
      itemSizes.find((s) => s.key === item.Key)!.bytes = Buffer.byteLength(JSON.stringify(item));
    }
    // The deployment's byte limit is a definition substitution; an execution input may override it.
    const limit = itemSizes[0]!.bytes * 4 + 2;
    const run = await execute({ settings: { maxItemsPerBatch: 1000 }, input: { maxBytesPerBatch: limit } });
    const sizes = run.extractCalls.map((batch) => batch.Items.reduce((sum, i) => sum + Buffer.byteLength(JSON.stringify(i)), 0));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(limit);
    expect(run.extractCalls.map((batch) => batch.Items.length).sort((a, b) => b - a)[0]).toBe(4);
    expect(run.extractCalls.flatMap((batch) => batch.Items)).toHaveLength(keys.length);
  });

  it('shapes listObjectsV2 items from S3 as AWS does: quoted Etag, full Key, LastModified in seconds, Size, StorageClass', async () => {
    await s3.createBucket('listing');
    await s3.upload('listing', imagesDir, keys.slice(0, 4), 'photos/');
    const run = await execute({ settings: { input: { bucket: 'listing', prefix: 'photos/' } } });
    expect(run.outcome.status).toBe('SUCCEEDED');
    const items = run.extractCalls.flatMap((batch) => batch.Items);
    expect(items.map((item) => item.Key).sort()).toEqual(keys.slice(0, 4).map((key) => `photos/${key}`));
    const listed = await Array.fromAsync(new S3Storage('listing').list('photos'));
    for (const item of items) {
      const object = listed.find((o) => o.key === item.Key)!;
      expect(item).toEqual({
        Etag: `"${object.etag}"`,
        Key: object.key,
        LastModified: Math.floor(object.lastModified!.getTime() / 1000),
        Size: object.size,
        ...(object.storageClass ? { StorageClass: object.storageClass } : {}),
      });
    }
    expect(Object.keys(items[0]!).slice(0, 2)).toEqual(['Etag', 'Key']);
  });

  it('reads the items of a JSON manifest (the incremental path) and keeps them as written', async () => {
    const manifestItems = [
      { Key: keys[3], Size: 12, Etag: '"abc"' },
      { Key: keys[7], Size: 34, Etag: '"def"' },
    ];
    const manifestDir = join(root, 'manifests');
    await mkdir(manifestDir, { recursive: true });
    await writeFile(join(manifestDir, 'new-keys.json'), JSON.stringify(manifestItems));
    const run = await execute({ input: { manifest: { bucket: manifestDir, key: 'new-keys.json' } } });
    expect(run.outcome.status).toBe('SUCCEEDED');
    expect(run.extractCalls.flatMap((batch) => batch.Items)).toEqual(manifestItems);
    expect(run.mapOutput().MapRunArn).toContain(':mapRun:featurize/ExtractManifest:');
    expect(run.reduceEvents[0]).toMatchObject({ manifest: { bucket: manifestDir, key: 'new-keys.json' }, mapError: null });
  });

  it('runs at most MaxConcurrency batches at once', async () => {
    let running = 0;
    let most = 0;
    const run = await execute({
      settings: { maxItemsPerBatch: 2, maxConcurrency: 2 },
      parallelism: 8,
      extract: async (batch) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return { items: batch.Items.length };
      },
    });
    expect(run.extractCalls).toHaveLength(13);
    expect(most).toBe(2);
  });

  it('plans the reduce for as many children at once as the workers, or MaxConcurrency when it allows fewer', async () => {
    const planned = async (settings: Partial<PipelineSettings>) => (await execute({ settings })).reduceEvents[0]?.reduceParallelism;
    expect(await planned({ workers: 3, maxConcurrency: 0 })).toBe(3);
    expect(await planned({ workers: 3, maxConcurrency: 1 })).toBe(1);
  });

  it("retries a batch whose function fails with an error the ItemProcessor's Retry names, and the run completes", async () => {
    const run = await execute({
      extract: async (batch, attempt) => {
        if (batch.Items[0]!.Key === keys[0] && attempt === 1) throw new StorageUnavailableError('simulated outage');
        return { items: batch.Items.length };
      },
    });
    expect(run.outcome.status).toBe('SUCCEEDED');
    expect(run.extractCalls.filter((batch) => batch.Items[0]!.Key === keys[0])).toHaveLength(2);
    expect(run.finished.every((child) => child.status === 'SUCCEEDED')).toBe(true);
    expect((await run.manifest()).ResultFiles).toMatchObject({ FAILED: [], PENDING: [] });
  });

  it('retries a batch whose function crashed (Runtime.ExitError), as it retries an unreachable store', async () => {
    const run = await execute({
      extract: async (batch, attempt) => {
        if (batch.Items[0]!.Key === keys[0] && attempt === 1) throw new RuntimeExitError('the worker thread died');
        return { items: batch.Items.length };
      },
    });
    expect(run.outcome.status).toBe('SUCCEEDED');
    expect(run.extractCalls.filter((batch) => batch.Items[0]!.Key === keys[0])).toHaveLength(2);
  });

  it('does not retry an error the Retry does not name, and fails that batch', async () => {
    const run = await execute({
      settings: { toleratedFailurePercentage: 50 },
      extract: async (batch) => {
        if (batch.Items[0]!.Key === keys[0]) throw new InvalidEventError('bad batch');
        return { items: batch.Items.length };
      },
    });
    expect(run.extractCalls.filter((batch) => batch.Items[0]!.Key === keys[0])).toHaveLength(1);
    expect(run.outcome.status).toBe('SUCCEEDED');
    expect(run.reduceEvents[0]!.mapError).toBeNull();
  });

  it('gives up on a batch after MaxAttempts retries and records it in FAILED_0.json, within the tolerated percentage', async () => {
    const run = await execute({
      settings: { toleratedFailurePercentage: 50 },
      extract: async (batch) => {
        if (batch.Items[0]!.Key === keys[0]) throw new StorageUnavailableError('the store stays down');
        return { items: batch.Items.length };
      },
    });
    // The second retrier: StorageUnavailableError, MaxAttempts 3.
    expect(run.extractCalls.filter((batch) => batch.Items[0]!.Key === keys[0])).toHaveLength(4);
    expect(run.outcome.status).toBe('SUCCEEDED');
    const manifest = await run.manifest();
    const failedFile = (manifest.ResultFiles as { FAILED: { Key: string }[] }).FAILED[0]!.Key;
    const [failed] = await run.resultFile(failedFile);
    expect(failed).toMatchObject({ Status: 'FAILED', Error: 'StorageUnavailableError', RedriveStatus: 'REDRIVABLE_BY_MAP_RUN' });
    expect(JSON.parse(String(failed!.Cause))).toMatchObject({ errorType: 'StorageUnavailableError', errorMessage: 'the store stays down' });
    expect(JSON.parse(String(failed!.Input)).Items[0].Key).toBe(keys[0]);
    expect(failed).not.toHaveProperty('Output');
  });

  it('fails the map past the tolerated failure percentage: no new batch starts, the rest are PENDING, Catch sends the run on to reduce and validate', async () => {
    const run = await execute({
      settings: { maxItemsPerBatch: 5 },
      parallelism: 1,
      extract: async (batch) => {
        if (batch.Items[0]!.Key === keys[5]) throw new StorageUnavailableError('the store stays down');
        return { items: batch.Items.length };
      },
      validate: async () => ({ passed: false, summary: '5 of 25 images are in no place: BATCH_FAILED' }),
    });
    // Batches run one at a time: the first succeeds, the second fails, the three others never start.
    expect(run.finished.map((child) => child.status)).toEqual(['SUCCEEDED', 'FAILED']);
    const manifest = (await run.manifest()) as { ResultFiles: Record<string, { Key: string }[]> };
    const pending = await run.resultFile(manifest.ResultFiles.PENDING![0]!.Key);
    expect(pending.map((record) => Object.keys(record).sort())).toEqual(Array(3).fill(['Input', 'InputDetails', 'Status']));
    expect(pending.map((record) => JSON.parse(String(record.Input)).Items.length)).toEqual([5, 5, 5]);
    expect(pending[0]!.Status).toBe('PENDING');

    const mapError = run.reduceEvents[0]!.mapError as { Error: string; Cause: string };
    expect(mapError.Error).toBe('States.ExceedToleratedFailureThreshold');
    expect(mapError.Cause).toContain('5 of 25 items failed');
    expect(run.validateEvents[0]!.mapError).toEqual(mapError);
    expect(run.outcome).toMatchObject({
      status: 'FAILED',
      error: { Error: 'ValidationFailed', Cause: '5 of 25 images are in no place: BATCH_FAILED' },
    });
  });

  it('fails the map with States.ItemReaderFailed when its items cannot be read, and still reduces and validates', async () => {
    await writeFile(join(imagesDir, 'broken-manifest.json'), 'not JSON');
    const run = await execute({ input: { manifest: { bucket: imagesDir, key: 'broken-manifest.json' } } });
    expect(run.extractCalls).toHaveLength(0);
    expect(run.reduceEvents[0]!.mapError).toMatchObject({ Error: 'States.ItemReaderFailed' });
    expect(run.validateEvents).toHaveLength(1);
  });

  it('ends a run whose output the deployment may not write at once, naming the setting that grants it: no report can be written there', async () => {
    const run = await execute({ input: { output: { bucket: root, prefix: 'elsewhere/' } } });
    expect(run.outcome).toMatchObject({ status: 'FAILED', error: { Error: 'OutputUnavailableError' } });
    expect(stepErrorText(run.outcome.error!)).toMatch(/elsewhere\/ is not one this deployment may write .*-c extraOutputPrefixes=/);
    expect(run.extractCalls).toHaveLength(0);
    expect(run.reportEvents).toHaveLength(0);
  });

  it.each<[string, Json, RegExp]>([
    ['a batch limit that is not a positive integer', { maxItemsPerBatch: 0 }, /maxItemsPerBatch: Too small/],
    ['a string concurrency', { maxConcurrency: '10' }, /maxConcurrency: Invalid input: expected number, received string/],
    [
      'a fractional tolerated failure percentage',
      { toleratedFailurePercentage: 2.5 },
      /toleratedFailurePercentage: Invalid input: expected int/,
    ],
    ['an input without its bucket', { input: { prefix: 'images/' } }, /input\.bucket: Invalid input/],
    ['an unknown setting', { maxConcurency: 5 }, /unknown setting "maxConcurency"/],
    ['an input that is not a bucket name', { input: { bucket: 'Not a bucket!', prefix: '' } }, /^input: not an S3 bucket name/],
  ])('refuses a run with %s before anything is listed, naming the field, and still writes its report', async (_, input, cause) => {
    const run = await execute({ input });
    expect(run.outcome).toMatchObject({ status: 'FAILED', error: { Error: 'RunRefusedError' } });
    const message = stepErrorText(run.outcome.error!).replace(/^RunRefusedError: (invalid run settings: )?/, '');
    expect(message).toMatch(cause);
    expect(run.extractCalls).toHaveLength(0);
    expect(run.reduceEvents).toHaveLength(0);
    expect(run.reportEvents).toMatchObject([{ runId: run.runId, checkError: { Error: 'RunRefusedError' } }]);
  });
});
