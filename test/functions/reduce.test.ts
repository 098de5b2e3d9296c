import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { handler as auditPartHandler } from '../../functions/audit-part/handler.ts';
import { handler as finishReduceHandler } from '../../functions/finish-reduce/handler.ts';
import { handler as planReduceHandler } from '../../functions/plan-reduce/handler.ts';
import { planReduce } from '../../functions/plan-reduce/plan-reduce.ts';
import { handler as reducePartHandler } from '../../functions/reduce-part/handler.ts';
import { reduceSettings } from '../../functions/shared/config.ts';
import { readRunSample } from '../../functions/shared/dataset/row-sample.ts';
import { locationPrefix } from '../../functions/shared/dataset/run-scope.ts';
import type { FailureRecord } from '../../functions/shared/failures.ts';
import { failuresKey, reducePlanKey, reduceStatsKey, stagedPartsPrefix } from '../../functions/shared/run-layout.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import type {
  PartAuditSummary,
  PlanReduceEvent,
  PlanReduceResult,
  ReduceGroup,
  ReducePartEvent,
  ReduceResult,
  RunEvent,
} from '../../statemachine/contracts.ts';
import fixture from '../events/plan-reduce.json' with { type: 'json' };
import { distributedMapHandler, executionContext, from, type JSONValue } from '../support/asl-definition.ts';
import { literal, query } from '../support/duckdb.ts';
import { clusteredRows, writeFeatureParts } from '../support/feature-parts.ts';
import { type FixtureBatch, items, testModel, testPreprocessing, writeMapRun } from '../support/map-run.ts';
import { reduceEvent, reduceRun } from '../support/reduce-run.ts';
import { tagsOfPuts } from '../support/s3-server.ts';
import { snapshot } from '../support/snapshot.ts';
import { useTestStores } from '../support/stores.ts';

const context = { functionName: 'reduce', awsRequestId: 'test' } as Context;
/** PlanReduce, each group's ReducePart, FinishReduce: the three functions the state machine's reduce states run. */
const invoke = (event: RunEvent) => reduceEvent(event);

const stores = useTestStores('reduce', ['fruits']);

interface Place {
  input: { bucket: string };
  output: { bucket: string; prefix: string };
}

/** A fresh output location per test, on the filesystem or in the fauxqs bucket. */
const places: [string, (name: string) => Place][] = [
  ['filesystem', (name) => ({ input: { bucket: join(stores.dir, 'input') }, output: { bucket: join(stores.dir, name), prefix: '' } })],
  ['S3 (fauxqs)', (name) => ({ input: { bucket: 'fruits' }, output: { bucket: 'fruits', prefix: `datasets/${name}/` } })],
];
const onFilesystem = places[0]![1];

const startedAt = '2026-11-25T15:10:40.512Z';

function event(runId: string, place: Place, overrides: Partial<RunEvent> = {}): RunEvent {
  const input = { ...place.input, prefix: 'images/' };
  return {
    runId,
    input,
    manifest: null,
    output: place.output,
    scope: { kind: 'full', prefix: locationPrefix(input) },
    startedAt,
    mapError: null,
    ...overrides,
  };
}

/** What the reducer is asked, as its handler asks it. */
function reduceRequest(runId: string, place: Place) {
  return { runId, input: openStorage(place.input), output: openStorage(place.output), startedAt, outputPrefix: '' };
}

const options = { partRows: 25_000, rowGroupRows: 5_000, readConcurrency: 4 };

/** The parts as local files, for DuckDB (which reads S3 only through an extension it would download). */
async function localParts(place: Place, parts: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(stores.dir, 'parts-'));
  const storage = openStorage(place.output);
  for (const key of parts) await writeFile(join(dir, key.replaceAll('/', '_')), await storage.read(key));
  return dir;
}

/** The rows of the run's staged parts, in a local output directory. */
async function stagedRows(dir: string, runId: string) {
  const glob = `${join(dir, stagedPartsPrefix(runId))}*.parquet`;
  return query(`SELECT path, label, features, filename FROM read_parquet(${literal(glob)}, filename = true) ORDER BY path`);
}

async function failureRecords(storage: Storage, runId: string): Promise<FailureRecord[]> {
  const text = Buffer.from(await storage.read(failuresKey(runId))).toString();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as FailureRecord);
}

function sameBits(a: ArrayLike<number>, b: Float32Array): boolean {
  return Buffer.from(Float32Array.from(a).buffer).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const lambdaCause = JSON.stringify({
  errorType: 'StorageUnavailableError',
  errorMessage: 'cannot write s3://fruits/datasets/runs/r/shards/x.arrow: SlowDown',
  trace: ['StorageUnavailableError: cannot write', '    at S3Storage.write (file:///var/task/handler.mjs:1:1)'],
});

describe.each(places)('reduce on %s', (_, place) => {
  it('writes the vectors of succeeded batches as Parquet that DuckDB reads as 1280 floats a row, bit for bit, and every failure as a record', async () => {
    const where = place('first-run');
    const batches: FixtureBatch[] = [
      {
        status: 'SUCCEEDED',
        items: [
          { key: 'images/Apple Red 1/0_100.jpg' },
          { key: 'images/Apple Red 1/1_100.jpg' },
          { key: 'images/Kiwi/36_100.jpg', failure: { code: 'CORRUPT', message: 'VipsJpeg: premature end of input file' } },
        ],
      },
      { status: 'SUCCEEDED', items: items(['images/Kiwi/37_100.jpg', 'images/Lemon/322_100.jpg', 'images/Lemon/ünï code & co.jpg']) },
      {
        status: 'FAILED',
        items: items(['images/Pear/1_100.jpg', 'images/Pear/2_100.jpg']),
        error: { Error: 'StorageUnavailableError', Cause: lambdaCause },
      },
    ];
    const shardRows = await writeMapRun({ runId: 'run-1', ...where, batches });

    const result = await invoke(event('run-1', where));

    expect(result).toEqual({
      runId: 'run-1',
      listed: 8,
      rows: 5,
      failures: 3,
      failureCodes: { CORRUPT: 1, BATCH_FAILED: 2 },
      parts: ['runs/run-1/parts/part-run-1-00000.parquet'],
      groups: 1,
      modelId: testModel.modelId,
      engine: testModel.engine,
      millis: expect.any(Number),
      extractMillis: { batches: expect.any(Number), inference: expect.any(Number) },
    });
    const dir = await localParts(where, result.parts);
    const [features] = await query(`SELECT column_type FROM (DESCRIBE SELECT features FROM read_parquet(${literal(`${dir}/*.parquet`)}))`);
    expect(features).toEqual({ column_type: 'FLOAT[]' });
    const rows = await query(`SELECT path, label, features FROM read_parquet(${literal(`${dir}/*.parquet`)}) ORDER BY path`);
    const expected = [...shardRows.values()].filter((row) => row.features).sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(rows.map((row) => [row.path, row.label])).toEqual(expected.map((row) => [row.path, row.label]));
    rows.forEach((row, i) => {
      expect(row.features as number[]).toHaveLength(1280);
      expect(sameBits(row.features as number[], expected[i]!.features!), row.path as string).toBe(true);
    });

    expect(await Array.fromAsync(openStorage(where.output).list('features/'))).toEqual([]);
    const input = openStorage(where.input);
    const failures = await failureRecords(openStorage(where.output), 'run-1');
    expect(failures).toEqual([
      { path: input.locationOf('images/Kiwi/36_100.jpg'), code: 'CORRUPT', message: 'VipsJpeg: premature end of input file' },
      ...['images/Pear/1_100.jpg', 'images/Pear/2_100.jpg'].map((key) => ({
        path: input.locationOf(key),
        code: 'BATCH_FAILED',
        message: 'StorageUnavailableError: cannot write s3://fruits/datasets/runs/r/shards/x.arrow: SlowDown',
      })),
    ]);
  });
});

describe('reduce', () => {
  it('records the model, engine, preprocessing, run and creation time as Parquet key-value metadata', async () => {
    const where = onFilesystem('metadata');
    await writeMapRun({ runId: 'run-meta', ...where, batches: [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg']) }] });

    const result = await reduceRun(reduceRequest('run-meta', where), { ...options, now: new Date('2026-11-25T15:12:00.000Z') });

    const file = join(where.output.bucket, result.parts[0]!);
    const metadata = await query(
      `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${literal(file)}) WHERE decode(key) LIKE 'featurize.%' ORDER BY key`,
    );
    expect(Object.fromEntries(metadata.map((row) => [row.key, row.value]))).toEqual({
      'featurize.created_at': '2026-11-25T15:12:00.000Z',
      'featurize.engine': testModel.engine,
      'featurize.model_id': testModel.modelId,
      'featurize.path_max': join(where.input.bucket, 'images/Kiwi/1.jpg'),
      'featurize.path_min': join(where.input.bucket, 'images/Kiwi/1.jpg'),
      'featurize.preprocessing': testPreprocessing,
      'featurize.run_id': 'run-meta',
      'featurize.run_started_at': startedAt,
    });
    const schema = await query(`SELECT name, type, repetition_type FROM parquet_schema(${literal(file)}) WHERE name <> 'arrow_schema'`);
    expect(schema).toEqual([
      { name: 'path', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED' },
      { name: 'label', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED' },
      { name: 'size', type: 'INT64', repetition_type: 'REQUIRED' },
      { name: 'etag', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
      { name: 'sha256', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED' },
      { name: 'features', type: null, repetition_type: 'REQUIRED' },
      { name: 'list', type: null, repetition_type: 'REPEATED' },
      { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
    ]);
  });

  it('cuts parts at batch boundaries, in key order, near the row cap, each recording the bounds of its paths, every bit kept', async () => {
    const where = onFilesystem('capped');
    const keys = Array.from({ length: 11 }, (_, i) => `images/Kiwi/${String(i).padStart(2, '0')}.jpg`);
    const shardRows = await writeMapRun({
      runId: 'run-cap',
      ...where,
      batches: [items(keys.slice(0, 3)), items(keys.slice(3, 8)), items(keys.slice(8))].map((batch) => ({
        status: 'SUCCEEDED' as const,
        items: batch,
      })),
    });

    const result = await reduceRun(reduceRequest('run-cap', where), { ...options, partRows: 4, rowGroupRows: 3 });

    expect(result.parts).toEqual([0, 1, 2].map((i) => `runs/run-cap/parts/part-run-cap-0000${i}.parquet`));
    const rows = await stagedRows(where.output.bucket, 'run-cap');
    const perPart = Map.groupBy(rows, (row) => (row.filename as string).split('/').pop());
    // Batches of 3, 5 and 3 against a cap of 4: a part never splits a batch, so each batch is a part.
    expect([...perPart.values()].map((part) => part.length)).toEqual([3, 5, 3]);
    expect(rows).toHaveLength(11);
    for (const row of rows) expect(sameBits(row.features as number[], shardRows.get(row.path as string)!.features!)).toBe(true);
    const groups = await query(
      `SELECT count(DISTINCT row_group_id) AS groups FROM parquet_metadata(${literal(join(where.output.bucket, result.parts[1]!))})`,
    );
    expect(groups).toEqual([{ groups: 2n }]);
  });

  it('cuts a run of more than one part into parts of even size, so that no child of the reduce takes much longer than the rest', async () => {
    const where = onFilesystem('even');
    const keys = Array.from({ length: 12 }, (_, i) => `images/Kiwi/${String(i).padStart(2, '0')}.jpg`);
    await writeMapRun({
      runId: 'run-even',
      ...where,
      batches: [0, 2, 4, 6, 8, 10].map((start) => ({ status: 'SUCCEEDED' as const, items: items(keys.slice(start, start + 2)) })),
    });

    await reduceRun(reduceRequest('run-even', where), { ...options, partRows: 8 });

    const rows = await stagedRows(where.output.bucket, 'run-even');
    expect(rows).toHaveLength(12);
    // 12 vectors in batches of 2 against a cap of 8: two parts of 6, not one of 8 and one of 4.
    expect([...Map.groupBy(rows, (row) => row.filename as string).values()].map((part) => part.length)).toEqual([6, 6]);
  });

  it('cuts a run into at least one part per ReduceParts child running at once, while each part keeps 1,000 rows', async () => {
    const where = onFilesystem('parallel');
    const keys = Array.from({ length: 2_400 }, (_, i) => `images/Kiwi/${String(i).padStart(4, '0')}.jpg`);
    const batches = (count: number) =>
      Array.from({ length: count / 200 }, (_, i) => ({ status: 'SUCCEEDED' as const, items: items(keys.slice(i * 200, (i + 1) * 200)) }));
    const groupRows = async (runId: string, parallelism: number) => {
      await planReduce({ runId, output: openStorage(where.output), outputLocation: where.output }, { partRows: 25_000, parallelism });
      const plan = await openStorage(where.output).read(reducePlanKey(runId));
      return (JSON.parse(Buffer.from(plan).toString('utf8')) as ReduceGroup[]).map((group) => group.rows);
    };
    await writeMapRun({ runId: 'run-wide', ...where, batches: batches(2_400) });
    await writeMapRun({ runId: 'run-narrow', ...where, batches: batches(1_800) });

    // 2,400 vectors under a cap of 25,000: one part on one child, two of 1,200 when two children run at once.
    expect(await groupRows('run-wide', 1)).toEqual([2_400]);
    expect(await groupRows('run-wide', 2)).toEqual([1_200, 1_200]);
    expect(await groupRows('run-wide', 8)).toEqual([1_200, 1_200]);
    // 1,800 vectors would make parts of 900: below minRowsPerPart a part costs more than a second core saves.
    expect(await groupRows('run-narrow', 2)).toEqual([1_800]);
  });

  it('leaves the same parts with the same rows when retried, and removes a part and a sample an earlier attempt left over', async () => {
    const where = onFilesystem('retried');
    await writeMapRun({
      runId: 'run-retry',
      ...where,
      batches: [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg', 'images/Kiwi/2.jpg', 'images/Lemon/3.jpg']) }],
    });
    const request = reduceRequest('run-retry', where);
    const first = await reduceRun(request, { ...options, partRows: 2 });
    const before = await stagedRows(where.output.bucket, 'run-retry');
    const samples = join(where.output.bucket, 'runs/run-retry/reduce/samples');
    // Three rows (one batch: one part): every one sampled for the report, in the part's sample.
    expect(await readdir(samples)).toEqual(['00000.arrow']);
    const sampled = (await readRunSample(request.output, 'run-retry', 10)).sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(sampled.map((row) => ({ path: row.path, label: row.label, features: Array.from(row.features) }))).toEqual(
      before.map(({ path, label, features }) => ({ path, label, features })),
    );
    await writeFile(
      join(where.output.bucket, 'runs/run-retry/parts/part-run-retry-00002.parquet'),
      'left over by an attempt with more results',
    );
    await writeFile(join(samples, '00001.arrow'), 'left over by an attempt with more results');

    const second = await reduceRun(request, { ...options, partRows: 2 });
    expect(await readdir(samples)).toEqual(['00000.arrow']);

    // The same result but for its own wall time.
    expect({ ...second, millis: 0 }).toEqual({ ...first, millis: 0 });
    expect(await readdir(join(where.output.bucket, 'runs/run-retry/parts'))).toEqual(first.parts.map((key) => key.split('/').pop()));
    expect(await stagedRows(where.output.bucket, 'run-retry')).toEqual(before);
    expect((await failureRecords(request.output, 'run-retry')).length).toBe(0);

    // A sample that is not one fails the report's reading of it, naming the file, rather than shrinking the sample.
    await writeFile(join(samples, '00001.arrow'), 'not an Arrow file');
    await expect(readRunSample(request.output, 'run-retry', 10)).rejects.toMatchObject({
      name: 'RunArtifactError',
      message: expect.stringMatching(/reduce\/samples\/00001\.arrow: not an Arrow IPC file/),
    });
  });

  it('leaves features/ exactly as it was, byte for byte, even for a run re-processing the images it holds', async () => {
    const where = onFilesystem('features-untouched');
    const output = openStorage(where.output);
    const published = clusteredRows(3, { width: 1280, labels: ['Kiwi'], prefix: join(where.input.bucket, 'images') });
    await writeFeatureParts(output, 'run-a', published);
    const before = await snapshot(output, 'features/');
    await writeMapRun({
      runId: 'run-b',
      ...where,
      batches: [{ status: 'SUCCEEDED', items: items(['images/Kiwi/0.jpg', 'images/Kiwi/1.jpg', 'images/Lemon/9.jpg']) }],
    });

    const result = await invoke(event('run-b', where));

    expect(result).toMatchObject({ rows: 3, parts: ['runs/run-b/parts/part-run-b-00000.parquet'] });
    expect(await snapshot(output, 'features/')).toEqual(before);
  });

  it('tags its staged parts and its own objects as intermediate, for the bucket lifecycle rule, and not its failure records', async () => {
    const where = places[1]![1]('tagged');
    await writeMapRun({ runId: 'run-tags', ...where, batches: [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg']) }] });
    let result: ReduceResult | undefined;
    const tagged = await tagsOfPuts(async () => (result = await invoke(event('run-tags', where))));
    expect(tagged.get(`/fruits/${where.output.prefix}${result!.parts[0]}`)).toBe('featurize%3Aintermediate=true');
    expect(tagged.has(`/fruits/${where.output.prefix}${failuresKey('run-tags')}`)).toBe(true);
    expect(tagged.get(`/fruits/${where.output.prefix}${failuresKey('run-tags')}`)).toBeUndefined();
    // The fan-out's own objects (plan, stats) are intermediates too.
    for (const key of [reducePlanKey('run-tags'), reduceStatsKey('run-tags', 0)]) {
      expect(tagged.get(`/fruits/${where.output.prefix}${key}`), key).toBe('featurize%3Aintermediate=true');
    }
  });

  it('gives zero parts and a clean result when the map left no results (its item reader failed)', async () => {
    const where = onFilesystem('no-results');
    await mkdir(where.output.bucket, { recursive: true });

    const result = await invoke(event('run-empty', where, { mapError: { Error: 'States.ItemReaderFailed', Cause: 'Access Denied' } }));

    expect(result).toMatchObject({ listed: 0, rows: 0, failures: 0, parts: [], modelId: null, engine: null });
    expect(await failureRecords(openStorage(where.output), 'run-empty')).toEqual([]);
  });

  it('stages what the succeeded batches made when the map failed, and records every failure, including batches that never ran', async () => {
    const where = onFilesystem('map-failed');
    await writeMapRun({
      runId: 'run-b',
      ...where,
      batches: [
        {
          status: 'SUCCEEDED',
          items: [
            { key: 'images/Kiwi/2.jpg' },
            { key: 'images/Kiwi/x.jpg', failure: { code: 'EMPTY', message: 'the object has no bytes' } },
          ],
        },
        {
          status: 'FAILED',
          items: items(['images/Lemon/3.jpg']),
          error: { Error: 'Sandbox.Timedout', Cause: 'Task timed out after 300.00 seconds' },
        },
        { status: 'PENDING', items: items(['images/Lemon/4.jpg']) },
      ],
    });

    const result = await invoke(
      event('run-b', where, {
        mapError: { Error: 'States.ExceedToleratedFailureThreshold', Cause: 'The specified tolerated failure threshold was exceeded' },
      }),
    );

    expect(result).toMatchObject({
      listed: 4,
      rows: 1,
      parts: ['runs/run-b/parts/part-run-b-00000.parquet'],
      failures: 3,
      failureCodes: { EMPTY: 1, BATCH_FAILED: 2 },
    });
    expect((await stagedRows(where.output.bucket, 'run-b')).map((row) => (row.path as string).split('/images/')[1])).toEqual([
      'Kiwi/2.jpg',
    ]);
    const messages = (await failureRecords(openStorage(where.output), 'run-b')).map((failure) => failure.message);
    expect(messages).toEqual([
      'the object has no bytes',
      'Sandbox.Timedout: Task timed out after 300.00 seconds',
      'never ran: the map stopped before this batch started',
    ]);
  });

  it('refuses a run whose batches were made by different models, before writing anything', async () => {
    const where = onFilesystem('two-models');
    await writeMapRun({
      runId: 'run-mixed',
      ...where,
      batches: [
        { status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg']) },
        { status: 'SUCCEEDED', items: items(['images/Kiwi/2.jpg']), modelId: 'mobilenet_v3@fedcba987654' },
      ],
    });

    const error = await invoke(event('run-mixed', where)).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'RunArtifactError', message: expect.stringContaining('mobilenet_v3@fedcba987654') });
    expect(await readdir(where.output.bucket)).toEqual(['runs']);
  });

  it('refuses a shard that is not one (not Arrow, or a column missing), naming it, before writing any part', async () => {
    const where = onFilesystem('not-a-shard');
    await writeMapRun({ runId: 'run-bad-shard', ...where, batches: [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg']) }] });
    const output = openStorage(where.output);
    const [shard] = await Array.fromAsync(output.list('runs/run-bad-shard/shards/'));
    await output.write(shard!.key, '{"not":"arrow"}');

    const error = await invoke(event('run-bad-shard', where)).catch((e: unknown) => e);

    expect(error).toMatchObject({
      name: 'RunArtifactError',
      message: expect.stringMatching(new RegExp(`^${output.locationOf(shard!.key)}: not an Arrow IPC file: `)),
    });
    expect(await Array.fromAsync(output.list(stagedPartsPrefix('run-bad-shard')))).toEqual([]);
  });

  it('refuses parts so large that publishing could not copy them in one S3 request (FEATURIZE_PART_ROWS over 500,000)', () => {
    expect(reduceSettings({ FEATURIZE_PART_ROWS: '500000' }).partRows).toBe(500_000);
    expect(() => reduceSettings({ FEATURIZE_PART_ROWS: '500001' })).toThrow(/invalid setting FEATURIZE_PART_ROWS/);
  });

  it('accepts the event of each reduce state as the state machine passes it: PlanReduce, a ReduceParts child, FinishReduce', async () => {
    await writeMapRun({
      runId: fixture.runId,
      input: { bucket: fixture.input.bucket },
      output: fixture.output,
      batches: [{ status: 'SUCCEEDED', items: items(['images/Kiwi/36_100.jpg', 'images/Lemon/322_100.jpg']) }],
    });

    const plan = (await planReduceHandler(fixture as PlanReduceEvent, context)) as PlanReduceResult;
    expect(plan).toMatchObject({
      runId: fixture.runId,
      plan: { bucket: 'fruits', key: `${fixture.output.prefix}${reducePlanKey(fixture.runId)}` },
      groups: 1,
      listed: 2,
      batchFailures: 0,
    });
    const output = openStorage(fixture.output);
    const [group] = JSON.parse(Buffer.from(await output.read(reducePlanKey(fixture.runId))).toString()) as ReduceGroup[];
    const childEvent: ReducePartEvent = {
      Items: [group!],
      BatchInput: {
        runId: fixture.runId,
        input: fixture.input,
        manifest: null,
        output: fixture.output,
        scope: fixture.scope as RunEvent['scope'],
        startedAt: fixture.startedAt,
        pca: null,
      },
    };
    expect(await reducePartHandler(childEvent, context)).toMatchObject({ index: 0, rows: 2, failures: 0 });
    // The fixture's images are not written: the part's range of the input lists none.
    expect(await auditPartHandler(childEvent, context)).toMatchObject({ index: 0, rows: 2, listed: 0 });
    const result = (await finishReduceHandler({ output: fixture.output, plan, mapError: null }, context)) as ReduceResult;

    expect(result).toMatchObject({
      runId: fixture.runId,
      listed: 2,
      rows: 2,
      parts: [`runs/${fixture.runId}/parts/part-${fixture.runId}-00000.parquet`],
    });
  });

  it.each([
    [planReduceHandler, {}, /runId: /],
    [planReduceHandler, { ...fixture, output: { prefix: 'x/' } }, /output\.bucket/],
    [planReduceHandler, { ...fixture, manifest: { bucket: 'fruits' } }, /manifest\.key/],
    [reducePartHandler, { Items: [], BatchInput: {} }, /Items: /],
    [finishReduceHandler, { output: fixture.output }, /plan: /],
  ])('rejects a malformed event with InvalidEventError naming the field (%#)', async (handler, bad, pattern) => {
    const error = await (handler as (event: unknown, context: Context) => Promise<unknown>)(bad, context).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'InvalidEventError' });
    expect((error as Error).message).toMatch(pattern);
  });

  it('fans out in the state machine: one ReduceParts child per part, and the same parts and rows as the groups cut in one process', async () => {
    const where = { ...onFilesystem('fan-out'), input: { bucket: join(stores.dir, 'fan-out-input') } };
    const keys = Array.from({ length: 11 }, (_, i) => `images/Kiwi/${String(i).padStart(2, '0')}.jpg`);
    // The input as listed anew: the batches' keys, a failed batch's, and two that no batch had (a lost listing).
    const input = openStorage(where.input);
    for (const key of [...keys, 'images/Pear/1.jpg', 'images/Apple/1.jpg', 'images/Kiwi/02x.jpg']) await input.write(key, 'x');
    const shardRows = await writeMapRun({
      runId: 'run-fan',
      ...where,
      batches: [
        { status: 'SUCCEEDED', items: items(keys.slice(0, 3)) },
        { status: 'SUCCEEDED', items: items(keys.slice(3, 8)) },
        { status: 'SUCCEEDED', items: items(keys.slice(8)) },
        { status: 'FAILED', items: items(['images/Pear/1.jpg']), error: { Error: 'Sandbox.Timedout', Cause: 'Task timed out' } },
      ],
    });
    const children: JSONValue[] = [];
    const audits: PartAuditSummary[] = [];
    const reduceParts = distributedMapHandler(
      'ReduceParts',
      {
        ReducePart: async (event) => {
          children.push(event);
          return (await reducePartHandler(event as ReducePartEvent, context)) as JSONValue;
        },
        AuditPart: async (event) => {
          const summary = (await auditPartHandler(event as ReducePartEvent, context)) as PartAuditSummary;
          audits.push(summary);
          return summary as unknown as JSONValue;
        },
      },
      'run-fan',
    );
    const state = { ...event('run-fan', where), maxConcurrency: 0, pca: null } as unknown as JSONValue;
    const execution = from('PlanReduce', undefined, 'FinishReduce').run(state, {
      overrides: {
        taskResourceLocalHandlers: {
          // The plan with a cap of 4 rows a part (the handler reads FEATURIZE_PART_ROWS once, at its cold start).
          PlanReduce: (_input) =>
            planReduce(
              { runId: 'run-fan', output: openStorage(where.output), outputLocation: where.output },
              { partRows: 4 },
            ) as Promise<JSONValue>,
          ReduceParts: reduceParts,
          FinishReduce: (input) => finishReduceHandler(input as never, context) as Promise<JSONValue>,
        },
      },
      context: executionContext('run-fan'),
    });
    const { reduce: fannedOut } = (await execution.result) as { reduce: ReduceResult };

    // Batches of 3, 5 and 3 against a cap of 4: three groups, three children, three parts.
    expect(children).toHaveLength(3);
    // Their ranges of keys tile the input: Apple/1 before the first group, Kiwi/02x between two, Pear/1 after the last.
    expect(audits.sort((a, b) => a.index - b.index).map((audit) => [audit.rows, audit.listed])).toEqual([
      [3, 4],
      [5, 6],
      [3, 4],
    ]);
    expect(fannedOut).toMatchObject({ listed: 12, rows: 11, failures: 1, failureCodes: { BATCH_FAILED: 1 } });
    expect(fannedOut.parts).toEqual([0, 1, 2].map((i) => `runs/run-fan/parts/part-run-fan-0000${i}.parquet`));
    const rows = await stagedRows(where.output.bucket, 'run-fan');
    expect(rows.map((row) => row.path)).toEqual(keys.map((key) => join(where.input.bucket, key)));
    for (const row of rows) expect(sameBits(row.features as number[], shardRows.get(row.path as string)!.features!)).toBe(true);
    const stats = JSON.parse(Buffer.from(await openStorage(where.output).read(reduceStatsKey('run-fan', 1))).toString());
    expect(stats).toMatchObject({ index: 1, rows: 5, failures: 0, part: fannedOut.parts[1] });

    // The same parts, rows and failure records as the plan and its groups run in one process.
    const inOneProcess = await reduceRun(reduceRequest('run-fan', where), { ...options, partRows: 4 });
    expect({ ...inOneProcess, millis: 0 }).toEqual({ ...fannedOut, millis: 0 });
    expect(await stagedRows(where.output.bucket, 'run-fan')).toEqual(rows);
  });
});
