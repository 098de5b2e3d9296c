import { join } from 'node:path';
import { Field, Float64, List, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import type { Context } from 'aws-lambda';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { describe, expect, it, vi } from 'vitest';
import { handler as publishHandler } from '../../functions/publish/handler.ts';
import { encodeParquet } from '../../functions/shared/dataset/parquet-writer.ts';
import { locationPrefix } from '../../functions/shared/dataset/run-scope.ts';
import { reportKey } from '../../functions/shared/run-layout.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import { handler } from '../../functions/validate/handler.ts';
import type { ValidationReport } from '../../functions/validate/validate-run.ts';
import type { PublishResult, ReduceResult, RunEvent, ValidateEvent, ValidationResult } from '../../statemachine/contracts.ts';
import fixture from '../events/validate.json' with { type: 'json' };
import { type FixtureBatch, items, syntheticVector, testModel, testPreprocessing, writeMapRun } from '../support/map-run.ts';
import { reduceEvent } from '../support/reduce-run.ts';
import { snapshot } from '../support/snapshot.ts';
import { useTestStores } from '../support/stores.ts';

const context = { functionName: 'validate', awsRequestId: 'test' } as Context;
const reduce = reduceEvent;
const publish = (event: RunEvent) => publishHandler(event, context) as Promise<PublishResult>;
const validate = (event: unknown) => handler(event as ValidateEvent, context) as Promise<ValidationResult>;

const stores = useTestStores('validate', ['fruits']);

interface Place {
  input: { bucket: string; prefix: string };
  output: { bucket: string; prefix: string };
}

/** Each test has its own input prefix and output location, on the filesystem or in the fauxqs bucket. */
const places: [string, (name: string) => Place][] = [
  [
    'filesystem',
    (name) => ({
      input: { bucket: join(stores.dir, name, 'input'), prefix: 'images/' },
      output: { bucket: join(stores.dir, name, 'out'), prefix: '' },
    }),
  ],
  [
    'S3 (fauxqs)',
    (name) => ({ input: { bucket: 'fruits', prefix: `${name}/images/` }, output: { bucket: 'fruits', prefix: `datasets/${name}/` } }),
  ],
];
const onFilesystem = places[0]![1];

interface Scenario {
  batches: FixtureBatch[];
  /** Keys (relative to the input prefix) that exist in the input location; default: every item's key. */
  inputs?: string[];
  manifest?: RunEvent['manifest'];
  mapError?: RunEvent['mapError'];
  tolerated?: number;
  /** A narrower scope than the input prefix (a folder under it), to put rows outside it. */
  scopeFolder?: string;
  /** Runs between the reducer and the audits: what a faulty reducer would have written. */
  meddle?: (where: Place, reduced: ReduceResult) => Promise<void>;
  /** Runs between the audits and the validator: a part changed after it was audited. */
  tamper?: (where: Place, reduced: ReduceResult) => Promise<void>;
}

/** Writes the inputs and the map's results, reduces, validates, and publishes a run that passed: the state machine's steps. */
async function runPipeline(where: Place, runId: string, scenario: Scenario) {
  const input = openStorage({ bucket: where.input.bucket });
  const batches = scenario.batches.map((batch) => ({
    ...batch,
    items: batch.items.map((item) => ({ ...item, key: where.input.prefix + item.key })),
  }));
  const inputs = scenario.inputs ?? scenario.batches.flatMap((batch) => batch.items.map((item) => item.key));
  for (const key of inputs) await input.write(where.input.prefix + key, `bytes of ${key}`);
  await writeMapRun({ runId, input: { bucket: where.input.bucket }, output: where.output, batches });
  const manifest = scenario.manifest ?? null;
  const event: RunEvent = {
    runId,
    input: where.input,
    manifest,
    output: where.output,
    scope: manifest
      ? { kind: 'incremental' }
      : { kind: 'full', prefix: locationPrefix({ ...where.input, prefix: where.input.prefix + (scenario.scopeFolder ?? '') }) },
    startedAt: new Date().toISOString(),
    mapError: scenario.mapError ?? null,
  };
  const reduced = await reduce(event, async (reduced) => scenario.meddle?.(where, reduced));
  await scenario.tamper?.(where, reduced);
  const result = await validate({ ...event, toleratedFailurePercentage: scenario.tolerated ?? 0, reduce: reduced });
  const report = JSON.parse(Buffer.from(await openStorage(where.output).read(result.report)).toString()) as ValidationReport;
  if (result.passed) await publish(event);
  return { result, report, reduced };
}

/** Copies a part (by default the run's first staged part) to another key, as a stray writer would have left it. */
const copyPartTo = (key: string, from?: string) => async (at: Place, reduced: ReduceResult) => {
  await openStorage(at.output).copy(from ?? reduced.parts[0]!, key);
};

const failedChecks = (report: ValidationReport) => report.checks.filter((check) => !check.passed).map((check) => check.name);
const detailOf = (report: ValidationReport, name: string) => report.checks.find((check) => check.name === name)?.detail ?? '';

const corrupt = { code: 'CORRUPT', message: 'VipsJpeg: premature end of input file' } as const;
const unreadable = { code: 'READ_FAILED', message: 'cannot read: AccessDenied' } as const;
const goodRun: FixtureBatch[] = [
  {
    status: 'SUCCEEDED',
    items: [...items(['Apple Red 1/0_100.jpg', 'Apple Red 1/1_100.jpg']), { key: 'Kiwi/36_100.jpg', failure: corrupt }],
  },
  { status: 'SUCCEEDED', items: items(['Kiwi/37_100.jpg', 'Lemon/322_100.jpg', 'Lemon/323_100.jpg', 'Lemon/ünï code.jpg']) },
  {
    status: 'FAILED',
    items: items(['Pear/1_100.jpg']),
    error: { Error: 'Sandbox.Timedout', Cause: 'Task timed out after 300.00 seconds' },
  },
];
const allChecks = [
  'map',
  'inputs',
  'parts',
  'schema',
  'vector-length',
  'finite',
  'range',
  'non-zero',
  'labels',
  'scope',
  'accounting',
  'duplicates',
  'failure-share',
];

describe.each(places)('validate on %s', (_, place) => {
  it('passes a good run and writes report.json with its counts, labels, failures by code, model and every check', async () => {
    const where = place('good');

    const { result, report, reduced } = await runPipeline(where, 'run-good', { batches: goodRun, tolerated: 30 });

    const input = openStorage({ bucket: where.input.bucket });
    const location = (key: string) => input.locationOf(where.input.prefix + key);
    expect(result).toEqual({
      passed: true,
      summary: 'all 13 checks passed: 6 rows, 2 failures, 0 skipped of 8 inputs',
      report: reportKey('run-good'),
      counts: { listed: 8, rows: 6, skipped: 0, failures: 2 },
      millis: expect.any(Number),
    });
    expect(report).toEqual({
      runId: 'run-good',
      passed: true,
      scope: { kind: 'full', prefix: locationPrefix(where.input) },
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      modelId: testModel.modelId,
      engine: testModel.engine,
      preprocessing: testPreprocessing,
      counts: { listed: 8, rows: 6, skipped: 0, failures: 2 },
      labels: { 'Apple Red 1': 2, Kiwi: 1, Lemon: 3 },
      failureCodes: {
        CORRUPT: { count: 1, examples: [location('Kiwi/36_100.jpg')] },
        BATCH_FAILED: { count: 1, examples: [location('Pear/1_100.jpg')] },
      },
      parts: reduced.parts,
      checks: allChecks.map((name) => ({ name, passed: true, detail: expect.any(String) })),
    });
    expect(detailOf(report, 'failure-share')).toBe(
      '1 of 8 inputs failed in the pipeline (unreadable, failed batches: 12.50 %, tolerated 30 %); bad files (1) and skipped ones (0) are recorded, not counted',
    );
  });
});

describe('validate', () => {
  const wrongLength = Float32Array.from(syntheticVector('short').subarray(0, 1279));
  const withValue = (index: number, value: number) => {
    const vector = syntheticVector('odd');
    vector[index] = value;
    return vector;
  };

  it.each<[string, string, Scenario, RegExp]>([
    [
      'vector-length',
      'a vector is one value short',
      { batches: [{ status: 'SUCCEEDED', items: [{ key: 'Kiwi/1.jpg', features: wrongLength }] }] },
      /1 vectors without 1280 values, e\.g\. .*Kiwi\/1\.jpg \(1279 values\)/,
    ],
    [
      'finite',
      'a value is NaN',
      { batches: [{ status: 'SUCCEEDED', items: [{ key: 'Kiwi/1.jpg', features: withValue(7, Number.NaN) }, { key: 'Kiwi/2.jpg' }] }] },
      /1 vectors with NaN .*Kiwi\/1\.jpg$/,
    ],
    [
      'range',
      'a value is over 6',
      { batches: [{ status: 'SUCCEEDED', items: [{ key: 'Kiwi/1.jpg' }, { key: 'Kiwi/2.jpg', features: withValue(1279, 6.5) }] }] },
      /outside \[0, 6\], e\.g\. .*Kiwi\/2\.jpg$/,
    ],
    [
      'range',
      'a value is negative',
      { batches: [{ status: 'SUCCEEDED', items: [{ key: 'Kiwi/1.jpg', features: withValue(0, -0.25) }] }] },
      /Kiwi\/1\.jpg$/,
    ],
    [
      'non-zero',
      'a vector is all zeros',
      { batches: [{ status: 'SUCCEEDED', items: [{ key: 'Kiwi/1.jpg', features: new Float32Array(1280) }] }] },
      /1 all-zero vectors .*Kiwi\/1\.jpg$/,
    ],
    [
      'labels',
      'a label is empty',
      { batches: [{ status: 'SUCCEEDED', items: [{ key: 'Kiwi/1.jpg', label: '' }] }] },
      /Kiwi\/1\.jpg \(""\)/,
    ],
    [
      'accounting',
      'an input of the prefix is in neither the dataset nor the failures',
      { batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/1.jpg']) }], inputs: ['Kiwi/1.jpg', 'Kiwi/forgotten.jpg'] },
      /1 inputs of \/.*\/images\/ neither in the dataset nor in failures\.jsonl, e\.g\. .*Kiwi\/forgotten\.jpg/,
    ],
    [
      'accounting',
      'a row is of no input of the prefix',
      { batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/1.jpg', 'Kiwi/from-elsewhere.jpg']) }], inputs: ['Kiwi/1.jpg'] },
      /1 rows or failures not among the inputs of \/.*\/images\/, e\.g\. .*Kiwi\/from-elsewhere\.jpg/,
    ],
    [
      'failure-share',
      'more inputs failed in the pipeline than tolerated',
      {
        batches: [
          {
            status: 'SUCCEEDED',
            items: [{ key: 'Kiwi/1.jpg', failure: unreadable }, ...items(['Kiwi/2.jpg', 'Kiwi/3.jpg', 'Kiwi/4.jpg'])],
          },
        ],
        tolerated: 10,
      },
      /^1 of 4 inputs failed in the pipeline \(unreadable, failed batches: 25\.00 %, tolerated 10 %\)/,
    ],
    [
      'scope',
      'a row lies outside what the run covers',
      { batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/1.jpg', 'Lemon/2.jpg']) }], scopeFolder: 'Kiwi/' },
      /^1 rows outside \/.*\/images\/Kiwi\/, e\.g\. .*Lemon\/2\.jpg$/,
    ],
  ])('fails the %s check when %s, naming an example', async (check, _, scenario, detail) => {
    const where = onFilesystem(`broken-${check}-${Math.random().toString(36).slice(2)}`);

    const { result, report } = await runPipeline(where, 'run-broken', scenario);

    expect(failedChecks(report)).toEqual([check]);
    expect(detailOf(report, check)).toMatch(detail);
    expect(result.passed).toBe(false);
    expect(result.summary).toMatch(new RegExp(`^1 of 13 checks failed: ${check} \\(`));
  });

  it('never fails a run for bad files: corrupt, empty, unsupported and skipped inputs are recorded, the good images pass', async () => {
    const where = onFilesystem('bad-files');
    const { result, report } = await runPipeline(where, 'run-bad-files', {
      batches: [
        {
          status: 'SUCCEEDED',
          items: [
            ...items(['Kiwi/1.jpg', 'Kiwi/2.jpg']),
            { key: 'Kiwi/3.jpg', failure: corrupt },
            { key: 'Kiwi/empty.jpg', failure: { code: 'EMPTY', message: 'the object has no bytes' } },
            { key: 'Kiwi/notes.txt', failure: { code: 'UNSUPPORTED_FORMAT', message: 'text' } },
            { key: 'Kiwi/.DS_Store', failure: { code: 'HIDDEN', message: 'skipped' } },
          ],
        },
      ],
      tolerated: 0,
    });

    expect(failedChecks(report)).toEqual([]);
    expect(result).toMatchObject({ passed: true, counts: { listed: 6, rows: 2, skipped: 1, failures: 3 } });
  });

  it.each<[string, Scenario, RegExp]>([
    ['nothing was listed', { batches: [] }, /^no images under \/.*\/images\/: nothing to publish$/],
    [
      'every input is a bad file',
      { batches: [{ status: 'SUCCEEDED', items: [{ key: 'Kiwi/1.jpg', failure: corrupt }] }] },
      /^none of the 1 images under \/.*\/images\/ gave a vector: nothing to publish$/,
    ],
    [
      'only hidden files were listed',
      { batches: [{ status: 'SUCCEEDED', items: [{ key: 'Kiwi/.DS_Store', failure: { code: 'HIDDEN', message: 'skipped' } }] }] },
      /^no images under \/.*\/images\/: only 1 hidden file\(s\) or folder marker\(s\), skipped$/,
    ],
  ])('fails the inputs check when %s: an empty run never publishes', async (_, scenario, detail) => {
    const where = onFilesystem(`empty-${Math.random().toString(36).slice(2)}`);
    await openStorage(where.output).write('features/part-run-earlier-00000.parquet', 'the dataset as it was');
    const before = await snapshot(openStorage(where.output), 'features/');

    const { result, report } = await runPipeline(where, 'run-empty', scenario);

    expect(failedChecks(report)).toEqual(['inputs']);
    expect(detailOf(report, 'inputs')).toMatch(detail);
    expect(result.passed).toBe(false);
    expect(await snapshot(openStorage(where.output), 'features/')).toEqual(before);
  });

  it('fails the parts check when the staging folder holds a part of the run that the reducer did not report', async () => {
    const where = onFilesystem('stray-part');
    const meddle = copyPartTo('runs/run-stray/parts/part-run-stray-00001.parquet');

    const { report } = await runPipeline(where, 'run-stray', { batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/1.jpg']) }], meddle });

    expect(failedChecks(report)).toEqual(['parts']);
    expect(detailOf(report, 'parts')).toContain('parts no audit read: runs/run-stray/parts/part-run-stray-00001.parquet');
  });

  it('fails the parts check when a part changed after its audit read it', async () => {
    const where = onFilesystem('changed-part');
    const tamper = async (at: Place, reduced: ReduceResult) => {
      const output = openStorage(at.output);
      await output.write(reduced.parts[0]!, Buffer.concat([Buffer.from(await output.read(reduced.parts[0]!)), Buffer.from('!')]));
    };

    const { report, result } = await runPipeline(where, 'run-changed', {
      batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/1.jpg']) }],
      tamper,
    });

    expect(failedChecks(report)).toEqual(['parts']);
    expect(detailOf(report, 'parts')).toBe(
      'parts changed since their audit read them: runs/run-changed/parts/part-run-changed-00000.parquet',
    );
    expect(result.passed).toBe(false);
  });

  it('names both paths when one row is lost and another duplicated between extraction and publish, though the counts agree', async () => {
    const where = onFilesystem('lost-and-twice');
    const keys = Array.from({ length: 40 }, (_, i) => `${i % 2 ? 'Kiwi' : 'Lemon'}/${i}.jpg`);
    const batches: FixtureBatch[] = [
      { status: 'SUCCEEDED', items: items(keys.filter((key) => key !== 'Kiwi/7.jpg')) },
      { status: 'SUCCEEDED', items: items(['Lemon/12.jpg']) },
    ];

    const { report } = await runPipeline(where, 'run-lost', { batches, inputs: keys });

    expect(report.counts).toMatchObject({ listed: 40, rows: 40 });
    expect(failedChecks(report)).toEqual(['accounting', 'duplicates']);
    expect(detailOf(report, 'accounting')).toMatch(
      /^1 inputs of .* neither in the dataset nor in failures\.jsonl, e\.g\. .*Kiwi\/7\.jpg; 1 inputs in more than one place, e\.g\. .*Lemon\/12\.jpg$/,
    );
    expect(detailOf(report, 'duplicates')).toMatch(/Lemon\/12\.jpg \(2 times\)$/);
  });

  it('finds a path in two parts whose ranges of paths overlap, reading only those parts again', async () => {
    const where = onFilesystem('overlapping-parts');
    // Two groups of one batch each; the reducer (as a faulty one would) also puts Kiwi/3.jpg in the second part.
    vi.stubEnv('FEATURIZE_PART_ROWS', '4');
    const meddle = async (at: Place) => {
      const row = (key: string) => ({
        path: openStorage({ bucket: at.input.bucket }).locationOf(`${at.input.prefix}${key}`),
        label: key.split('/')[0]!,
        size: 1,
        etag: null,
        sha256: 'ab',
        features: syntheticVector(key),
      });
      const bytes = await encodeParquet(
        (async function* () {
          yield [row('Kiwi/3.jpg'), row('Lemon/5.jpg'), row('Lemon/6.jpg')];
        })(),
        { rowGroupRows: 10, metadata: {} },
      );
      await openStorage(at.output).write('runs/run-overlap/parts/part-run-overlap-00001.parquet', bytes);
    };

    const { report } = await runPipeline(where, 'run-overlap', {
      batches: [
        { status: 'SUCCEEDED', items: items(['Kiwi/1.jpg', 'Kiwi/2.jpg', 'Kiwi/3.jpg', 'Kiwi/4.jpg']) },
        { status: 'SUCCEEDED', items: items(['Lemon/5.jpg', 'Lemon/6.jpg']) },
      ],
      meddle,
    });
    vi.unstubAllEnvs();

    expect(failedChecks(report)).toEqual(['parts', 'accounting', 'duplicates']);
    expect(detailOf(report, 'duplicates')).toMatch(/^1 paths with more than one row in this run, e\.g\. .*Kiwi\/3\.jpg \(2 times\)$/);
    expect(detailOf(report, 'accounting')).toMatch(/^1 inputs in more than one place, e\.g\. .*Kiwi\/3\.jpg$/);
  });

  it('fails the schema check for a part whose features are not float32', async () => {
    const where = onFilesystem('doubles');
    const meddle = async (at: Place, reduced: ReduceResult) => {
      const doubles = new Table({
        path: vectorFromArray([openStorage({ bucket: at.input.bucket }).locationOf(`${at.input.prefix}Kiwi/1.jpg`)], new Utf8()),
        features: vectorFromArray([Array.from(syntheticVector('d'))], new List(new Field('element', new Float64()))),
      });
      await openStorage(at.output).write(reduced.parts[0]!, writeParquet(WasmTable.fromIPCStream(tableToIPC(doubles, 'stream'))));
    };

    const { report } = await runPipeline(where, 'run-doubles', {
      batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/1.jpg']) }],
      meddle,
    });

    expect(failedChecks(report)).toContain('schema');
    expect(detailOf(report, 'schema')).toMatch(/label is missing, expected STRING; .*features is LIST<DOUBLE>, expected LIST<FLOAT>/);
  });

  it('checks an incremental run against its manifest, not the whole prefix', async () => {
    const where = onFilesystem('incremental');
    await runPipeline(where, 'run-full', { batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/1.jpg', 'Kiwi/2.jpg']) }] });
    const meddle = async (at: Place) => {
      const keys = ['Kiwi/2.jpg', 'Lemon/3.jpg', 'Lemon/4.jpg'].map((key) => ({
        Key: `${at.input.prefix}${key}`,
        Size: 10,
        Etag: '"0e2d"',
      }));
      await openStorage({ bucket: at.input.bucket }).write('manifest.json', JSON.stringify(keys));
    };

    const { report } = await runPipeline(where, 'run-new', {
      batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/2.jpg', 'Lemon/3.jpg']) }],
      manifest: { bucket: where.input.bucket, key: 'manifest.json' },
      meddle,
    });

    expect(failedChecks(report)).toEqual(['accounting']);
    expect(detailOf(report, 'accounting')).toMatch(
      /^1 inputs of the manifest neither in the dataset nor in failures\.jsonl, e\.g\. .*Lemon\/4\.jpg$/,
    );
  });

  it('fails the map check with the map error when the map failed, and says the run is not published', async () => {
    const where = onFilesystem('map-failed');
    const mapError = { Error: 'States.ExceedToleratedFailureThreshold', Cause: 'The specified tolerated failure threshold was exceeded' };

    const { result, report } = await runPipeline(where, 'run-failed-map', {
      batches: [
        { status: 'SUCCEEDED', items: items(['Kiwi/1.jpg']) },
        { status: 'FAILED', items: items(['Kiwi/2.jpg']), error: { Error: 'Lambda.Unknown', Cause: 'out of memory' } },
      ],
      mapError,
      tolerated: 100,
    });

    expect(failedChecks(report)).toEqual(['map']);
    expect(detailOf(report, 'map')).toBe(`the map failed, so the run is not published: ${mapError.Error}: ${mapError.Cause}`);
    expect(result.summary).toMatch(/^1 of 13 checks failed: map \(the map failed/);
    expect(await Array.fromAsync(openStorage(where.output).list('features/'))).toEqual([]);
  });

  it('accepts the Validate state event as the state machine passes it', async () => {
    const input = openStorage({ bucket: fixture.input.bucket });
    const keys = ['images/Kiwi/36_100.jpg', 'images/Lemon/322_100.jpg'];
    for (const key of keys) await input.write(key, 'jpeg bytes');
    await writeMapRun({
      runId: fixture.runId,
      input: { bucket: fixture.input.bucket },
      output: fixture.output,
      batches: [{ status: 'SUCCEEDED', items: items(keys) }],
    });
    const { reduce: _, toleratedFailurePercentage: __, ...runEvent } = fixture;
    expect(await reduce(runEvent as RunEvent)).toEqual({
      ...fixture.reduce,
      millis: expect.any(Number),
      extractMillis: { batches: expect.any(Number), inference: expect.any(Number) },
    });

    const result = await validate(fixture as ValidateEvent);

    expect(result).toMatchObject({ passed: true, counts: { listed: 2, rows: 2, failures: 0 } });
  });

  it.each([
    [{ ...fixture, toleratedFailurePercentage: 120 }, /toleratedFailurePercentage/],
    [{ ...fixture, reduce: { ...fixture.reduce, parts: 'features/' } }, /reduce\.parts/],
  ])('rejects a malformed event with InvalidEventError naming the field (%#)', async (bad, pattern) => {
    const error = await validate(bad).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'InvalidEventError' });
    expect((error as Error).message).toMatch(pattern);
  });
});
