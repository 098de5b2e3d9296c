import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/publish/handler.ts';
import { publishRun } from '../../functions/publish/publish-run.ts';
import { listParts, openPart, partKeyValues, readPartPaths, readPartRowGroups } from '../../functions/shared/dataset/feature-parts.ts';
import { leaseStoreFor } from '../../functions/shared/dataset/publish-lease.ts';
import { locationPrefix } from '../../functions/shared/dataset/run-scope.ts';
import { StorageUnavailableError } from '../../functions/shared/errors.ts';
import { featureEngine } from '../../functions/shared/model/engine-factory.ts';
import { reportKey } from '../../functions/shared/run-layout.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import { handler as validateHandler } from '../../functions/validate/handler.ts';
import type {
  PublishEvent,
  PublishResult,
  RunEvent,
  RunKind,
  RunScope,
  ValidateEvent,
  ValidationResult,
} from '../../statemachine/contracts.ts';
import fixture from '../events/publish.json' with { type: 'json' };
import { featurize } from '../support/cli.ts';
import { publishedPaths } from '../support/dataset.ts';
import { literal, query } from '../support/duckdb.ts';
import { type FixtureBatch, items, testModel, testPreprocessing, writeMapRun } from '../support/map-run.ts';
import type { KilledPublish } from '../support/publish-killed.ts';
import { reduceEvent, reduceRun } from '../support/reduce-run.ts';
import { modelDir } from '../support/shared-data.ts';
import { snapshot } from '../support/snapshot.ts';
import { useTestStores } from '../support/stores.ts';

const context = { functionName: 'publish', awsRequestId: 'test' } as Context;
const invoke = (event: unknown) => handler(event as PublishEvent, context) as Promise<PublishResult>;
const reduce = reduceEvent;
const validate = (event: ValidateEvent) => validateHandler(event, context) as Promise<ValidationResult>;

const stores = useTestStores('publish', ['fruits']);

interface Place {
  input: { bucket: string };
  output: { bucket: string; prefix: string };
}

/** A fresh input and output location per test, on the filesystem or in the fauxqs bucket. */
const places: [string, (name: string) => Place][] = [
  [
    'filesystem',
    (name) => ({ input: { bucket: join(stores.dir, name, 'input') }, output: { bucket: join(stores.dir, name, 'out'), prefix: '' } }),
  ],
  ['S3 (fauxqs)', (name) => ({ input: { bucket: 'fruits' }, output: { bucket: 'fruits', prefix: `datasets/${name}/` } })],
];
const onFilesystem = places[0]![1];

const options = { rowGroupRows: 4, readConcurrency: 2, leaseMs: 60_000, now: new Date('2026-11-25T15:30:00.000Z') };

/** A run as the reducer leaves it: shards, map results, failure records, and its parts staged under runs/<runId>/parts/. */
async function stage(where: Place, runId: string, batches: FixtureBatch[], partRows = 25_000, startedAt = new Date().toISOString()) {
  const shardRows = await writeMapRun({ runId, ...where, batches });
  const reduced = await reduceRun(
    { runId, input: openStorage(where.input), output: openStorage(where.output), startedAt, outputPrefix: where.output.prefix },
    { partRows, rowGroupRows: 4, readConcurrency: 2, now: new Date('2026-11-25T15:20:00.000Z') },
  );
  return { reduced, shardRows };
}

/** A full run covers the input's images/ prefix; an incremental run its own paths. */
function scopeOf(where: Place, kind: RunKind): RunScope {
  return kind === 'incremental' ? { kind } : { kind, prefix: locationPrefix({ bucket: where.input.bucket, prefix: 'images/' }) };
}

async function publish(where: Place, runId: string, kind: RunKind, parts: readonly string[], output: Storage = openStorage(where.output)) {
  return publishRun({ runId, output, scope: scopeOf(where, kind), parts, lease: await leaseStoreFor(output) }, options);
}

/** Six images in three parts of two (run-a, published), then run-b staged: it re-processes three and adds one. */
const olderKeys = [
  'images/Kiwi/1.jpg',
  'images/Kiwi/2.jpg',
  'images/Kiwi/3.jpg',
  'images/Lemon/4.jpg',
  'images/Lemon/5.jpg',
  'images/Pear/6.jpg',
];
const laterBatches: FixtureBatch[] = [
  // Kiwi/2 was re-uploaded, Pear/6 too (and now fails: its stale vector must go), Lemon/5 (the rest of Pear/6's
  // part) too, and Plum/7 is new.
  { status: 'SUCCEEDED', items: items(['images/Kiwi/2.jpg', 'images/Lemon/5.jpg']) },
  { status: 'SUCCEEDED', items: items(['images/Plum/7.jpg']) },
  {
    status: 'FAILED',
    items: items(['images/Pear/6.jpg']),
    error: { Error: 'Sandbox.Timedout', Cause: 'Task timed out after 300.00 seconds' },
  },
];

async function publishedThenStaged(where: Place) {
  const pairs = [olderKeys.slice(0, 2), olderKeys.slice(2, 4), olderKeys.slice(4)];
  const a = await stage(
    where,
    'run-a',
    pairs.map((pair) => ({ status: 'SUCCEEDED' as const, items: items(pair) })),
    2,
  );
  await publish(where, 'run-a', 'full', a.reduced.parts);
  const b = await stage(where, 'run-b', laterBatches, 2);
  return { a, b };
}

/** The storage, with `before` called ahead of each change it makes (a copy, a write, a removal) and `after` once it is made. */
function watch(storage: Storage, hooks: { before?: (change: string) => void; after?: (change: string) => Promise<void> }): Storage {
  const change = async <T>(what: string, make: () => Promise<T>) => {
    hooks.before?.(what);
    const result = await make();
    await hooks.after?.(what);
    return result;
  };
  return {
    root: storage.root,
    list: (prefix) => storage.list(prefix),
    read: (key) => storage.read(key),
    readRange: (key, start, end) => storage.readRange(key, start, end),
    readStream: (key) => storage.readStream(key),
    locationOf: (key) => storage.locationOf(key),
    write: (key, body, writeOptions) => change(`write ${key}`, () => storage.write(key, body, writeOptions)),
    copy: (from, to) => change(`copy ${to}`, () => storage.copy(from, to)),
    remove: (keys) => (keys.length === 0 ? storage.remove(keys) : change(`remove ${keys.join(', ')}`, () => storage.remove(keys))),
  };
}

const featurePaths = async (storage: Storage) => new Set(await publishedPaths(storage));

/**
 * features/ as its readers see it: each part's key-value metadata and rows (a vector as the hash of its float32
 * bytes). Not the bytes: the Parquet writer orders key-value metadata differently from one write to the next.
 */
async function datasetContents(storage: Storage) {
  const parts: Record<string, { metadata: [string, string][]; rows: unknown[] }> = {};
  for (const object of await listParts(storage)) {
    const part = await openPart(storage, object);
    const rows: unknown[] = [];
    for await (const group of readPartRowGroups(part, ['path', 'label', 'size', 'etag', 'sha256', 'features'])) {
      for (const { features, ...row } of group) {
        rows.push({
          ...row,
          size: Number(row.size),
          features: createHash('sha256')
            .update(Float32Array.from(features as number[]))
            .digest('hex'),
        });
      }
    }
    parts[object.key] = { metadata: Object.entries(partKeyValues(part)).sort(([a], [b]) => (a < b ? -1 : 1)), rows };
  }
  return parts;
}

const shortPath = (path: unknown) => (path as string).split('/images/')[1];

describe.each(places)('publish on %s', (_, place) => {
  it('copies the audited parts into features/ byte for byte, makes a full run replace the dataset, and leaves the staged parts', async () => {
    const where = place('full');
    const output = openStorage(where.output);
    const a = await stage(
      where,
      'run-a',
      [
        { status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg', 'images/Kiwi/2.jpg']) },
        { status: 'SUCCEEDED', items: items(['images/Lemon/3.jpg']) },
      ],
      2,
    );
    expect(await publish(where, 'run-a', 'full', a.reduced.parts)).toMatchObject({
      parts: ['features/part-run-a-00000.parquet', 'features/part-run-a-00001.parquet'],
      removedParts: 0,
    });
    const b = await stage(where, 'run-b', [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg', 'images/Lemon/4.jpg']) }]);

    const result = await publish(where, 'run-b', 'full', b.reduced.parts);

    expect(result).toEqual({
      runId: 'run-b',
      kind: 'full',
      parts: ['features/part-run-b-00000.parquet'],
      removedParts: 2,
      rewrittenParts: 0,
      newerParts: 0,
      repaired: null,
      millis: expect.any(Number),
    });
    const staged = await snapshot(output, 'runs/run-b/parts/');
    expect(await snapshot(output, 'features/')).toEqual({
      'features/part-run-b-00000.parquet': staged['runs/run-b/parts/part-run-b-00000.parquet'],
    });
    expect(Object.keys(await snapshot(output, 'runs/run-a/parts/'))).toEqual(a.reduced.parts);
  });
});

describe('publish', () => {
  it('makes an incremental run keep older parts, rewriting those holding an image it re-processed (a row or a failure) and removing emptied ones', async () => {
    const where = onFilesystem('incremental');
    const output = openStorage(where.output);
    const { a, b } = await publishedThenStaged(where);
    const untouched = (await snapshot(output, 'features/'))['features/part-run-a-00001.parquet'];

    const result = await publish(where, 'run-b', 'incremental', b.reduced.parts);

    expect(result).toMatchObject({
      parts: ['features/part-run-b-00000.parquet', 'features/part-run-b-00001.parquet'],
      rewrittenParts: 1,
      removedParts: 1,
    });
    const after = await snapshot(output, 'features/');
    expect(Object.keys(after)).toEqual([
      'features/part-run-a-00000.parquet',
      'features/part-run-a-00001.parquet',
      'features/part-run-b-00000.parquet',
      'features/part-run-b-00001.parquet',
    ]);
    expect(after['features/part-run-a-00001.parquet']).toBe(untouched);
    const glob = literal(join(where.output.bucket, 'features', '*.parquet'));
    const rows = await query(`SELECT path, features, filename FROM read_parquet(${glob}, filename = true) ORDER BY path`);
    expect(rows.map((row) => [shortPath(row.path), (row.filename as string).split('/').pop()])).toEqual([
      ['Kiwi/1.jpg', 'part-run-a-00000.parquet'],
      ['Kiwi/2.jpg', 'part-run-b-00000.parquet'],
      ['Kiwi/3.jpg', 'part-run-a-00001.parquet'],
      ['Lemon/4.jpg', 'part-run-a-00001.parquet'],
      ['Lemon/5.jpg', 'part-run-b-00000.parquet'],
      ['Plum/7.jpg', 'part-run-b-00001.parquet'],
    ]);
    for (const row of rows) {
      const shard = (b.shardRows.get(row.path as string) ?? a.shardRows.get(row.path as string))!;
      const bits = Buffer.from(Float32Array.from(row.features as number[]).buffer);
      expect(
        bits.equals(Buffer.from(shard.features!.buffer, shard.features!.byteOffset, shard.features!.byteLength)),
        row.path as string,
      ).toBe(true);
    }
    const metadata = await query(
      `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${literal(join(where.output.bucket, 'features/part-run-a-00000.parquet'))}) WHERE decode(key) LIKE 'featurize.%' ORDER BY key`,
    );
    expect(metadata).toEqual([
      { key: 'featurize.created_at', value: '2026-11-25T15:20:00.000Z' },
      { key: 'featurize.engine', value: testModel.engine },
      { key: 'featurize.model_id', value: testModel.modelId },
      { key: 'featurize.path_max', value: join(where.input.bucket, 'images/Kiwi/2.jpg') },
      { key: 'featurize.path_min', value: join(where.input.bucket, 'images/Kiwi/1.jpg') },
      { key: 'featurize.preprocessing', value: testPreprocessing },
      { key: 'featurize.rewritten_at', value: '2026-11-25T15:30:00.000Z' },
      { key: 'featurize.rewritten_by_run', value: 'run-b' },
      { key: 'featurize.run_id', value: 'run-a' },
      { key: 'featurize.run_started_at', value: expect.any(String) },
    ]);
  });

  it.each<RunKind>(['full', 'incremental'])(
    'never leaves an image missing from features/ while publishing a run (%s): every new part is in place before anything is removed',
    async (mode) => {
      const where = onFilesystem(`never-missing-${mode}`);
      const storage = openStorage(where.output);
      const { b } = await publishedThenStaged(where);
      const before = await featurePaths(storage);
      const reference = onFilesystem(`never-missing-${mode}-reference`);
      await cp(where.output.bucket, reference.output.bucket, { recursive: true });
      await publish(where, 'run-b', mode, b.reduced.parts, openStorage(reference.output));
      const after = await featurePaths(openStorage(reference.output));
      const kept = [...before].filter((path) => after.has(path));
      expect(kept.length).toBeGreaterThan(0);
      const changes: string[] = [];
      const missing: string[] = [];

      await publish(
        where,
        'run-b',
        mode,
        b.reduced.parts,
        watch(storage, {
          after: async (change) => {
            changes.push(change);
            const now = await featurePaths(storage);
            for (const path of kept) if (!now.has(path)) missing.push(`${shortPath(path)} after ${change}`);
          },
        }),
      );

      expect(missing).toEqual([]);
      // Of the changes to features/, every copy comes first, then the removals; the journal is written before both.
      const toFeatures = changes.filter((change) => /^(copy|remove) features\//.test(change));
      const firstRemoval = toFeatures.findIndex((change) => change.startsWith('remove '));
      expect(toFeatures.slice(0, firstRemoval)).toEqual(
        expect.arrayContaining(['copy features/part-run-b-00000.parquet', 'copy features/part-run-b-00001.parquet']),
      );
      expect(firstRemoval).toBeGreaterThan(0);
      expect(toFeatures.slice(firstRemoval).filter((change) => change.startsWith('copy '))).toEqual([]);
      expect(changes.indexOf('write publish-journal.json')).toBeLessThan(changes.indexOf(toFeatures[0]!));
      expect(await featurePaths(storage)).toEqual(after);
    },
  );

  it.each<RunKind>(['full', 'incremental'])(
    'finishes a publish (%s) interrupted before any of its changes when retried, as an uninterrupted one would have; a retry after success changes nothing',
    async (mode) => {
      const where = onFilesystem(`retried-${mode}`);
      const { b } = await publishedThenStaged(where);
      const reference = onFilesystem(`retried-${mode}-reference`);
      await cp(where.output.bucket, reference.output.bucket, { recursive: true });
      const referenceStorage = openStorage(reference.output);
      const changes: string[] = [];
      await publish(where, 'run-b', mode, b.reduced.parts, watch(referenceStorage, { after: async (change) => void changes.push(change) }));
      const expected = await datasetContents(referenceStorage);
      expect(changes.length).toBeGreaterThanOrEqual(3);

      for (const [k, change] of changes.entries()) {
        const attempt = onFilesystem(`retried-${mode}-${k}`);
        await cp(where.output.bucket, attempt.output.bucket, { recursive: true });
        const storage = openStorage(attempt.output);
        let left = k;
        const interrupted = watch(storage, {
          before: () => {
            if (left-- === 0) throw new StorageUnavailableError(`interrupted before ${change}`);
          },
        });
        // One change at a time: no copy of the interrupted attempt is still in flight when the retry starts.
        const attemptRequest = {
          runId: 'run-b',
          scope: scopeOf(where, mode),
          parts: b.reduced.parts,
          lease: await leaseStoreFor(storage),
        };
        await expect(publishRun({ ...attemptRequest, output: interrupted }, { ...options, readConcurrency: 1 })).rejects.toThrow(
          StorageUnavailableError,
        );

        await publishRun({ ...attemptRequest, output: storage }, options);

        expect(await datasetContents(storage), `interrupted before ${change}`).toEqual(expected);
      }

      // Published already (its commit record says so): publishing again changes nothing and says what was done.
      const settled = await snapshot(referenceStorage, 'features/');
      const again = await publish(where, 'run-b', mode, b.reduced.parts, referenceStorage);
      expect(again.parts).toEqual(['features/part-run-b-00000.parquet', 'features/part-run-b-00001.parquet']);
      expect(await snapshot(referenceStorage, 'features/')).toEqual(settled);
    },
  );

  it('refuses, before changing anything, to publish a run whose audited parts are gone (expired by the lifecycle)', async () => {
    const where = onFilesystem('expired');
    const output = openStorage(where.output);
    const { b } = await publishedThenStaged(where);
    await output.remove([b.reduced.parts[1]!]);
    const before = await snapshot(output, 'features/');

    const error = await publish(where, 'run-b', 'incremental', b.reduced.parts).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'RunArtifactError', message: expect.stringContaining('part-run-b-00001.parquet') });
    expect(await snapshot(output, 'features/')).toEqual(before);
  });
});

describe('publish handler', () => {
  /** The inputs, the map's results, then the reducer and the validator as the state machine runs them. */
  async function audited(where: Place, runId: string, batches: FixtureBatch[], tolerated = 0) {
    const images = openStorage(where.input);
    for (const batch of batches) for (const item of batch.items) await images.write(item.key, `bytes of ${item.key}`);
    await writeMapRun({ runId, ...where, batches });
    const input = { ...where.input, prefix: `images/${runId}/` };
    const event: RunEvent = {
      runId,
      input,
      manifest: null,
      output: where.output,
      scope: { kind: 'full', prefix: locationPrefix(input) },
      startedAt: new Date().toISOString(),
      mapError: null,
    };
    const reduced = await reduce(event);
    const validation = await validate({ ...event, toleratedFailurePercentage: tolerated, reduce: reduced });
    return { reduced, validation };
  }
  const batch = (runId: string, ...extra: FixtureBatch['items']): FixtureBatch[] => [
    { status: 'SUCCEEDED', items: [...items([`images/${runId}/Kiwi/1.jpg`, `images/${runId}/Lemon/2.jpg`]), ...extra] },
  ];

  it('publishes exactly what the validator audited and passed: its parts, in the mode of its report', async () => {
    const where = places[1]![1]('handler');
    const { reduced, validation } = await audited(where, 'run-h', batch('run-h'));
    expect(validation.passed).toBe(true);

    const result = await invoke({ runId: 'run-h', output: where.output });

    expect(result).toMatchObject({ runId: 'run-h', kind: 'full', parts: ['features/part-run-h-00000.parquet'] });
    const output = openStorage(where.output);
    expect(Object.values(await snapshot(output, 'features/'))).toEqual(Object.values(await snapshot(output, 'runs/run-h/parts/')));
    expect(reduced.parts).toEqual(['runs/run-h/parts/part-run-h-00000.parquet']);
  });

  it.each<[string, (where: Place) => Promise<void>, RegExp]>([
    [
      'it has no validation report',
      async (where) =>
        void (await reduce({
          runId: 'run-r',
          input: { ...where.input, prefix: 'images/run-r/' },
          manifest: null,
          output: where.output,
          scope: { kind: 'full', prefix: locationPrefix({ ...where.input, prefix: 'images/run-r/' }) },
          startedAt: new Date().toISOString(),
          mapError: null,
        })),
      /^run run-r has no validation report at .*runs\/run-r\/report\.json: it was not audited$/,
    ],
    [
      'its validation failed',
      async (where) =>
        void (await audited(
          where,
          'run-r',
          batch('run-r', { key: 'images/run-r/Kiwi/3.jpg', failure: { code: 'READ_FAILED', message: 'AccessDenied' } }),
        )),
      /^run run-r did not pass validation \(failure-share failed\): features\/ is left as it was$/,
    ],
    [
      'its report names a part outside its staging folder',
      async (where) => {
        await audited(where, 'run-r', batch('run-r'));
        const output = openStorage(where.output);
        const report = JSON.parse(Buffer.from(await output.read(reportKey('run-r'))).toString()) as { parts: string[] };
        await output.write(reportKey('run-r'), JSON.stringify({ ...report, parts: ['features/part-run-old-00000.parquet'] }));
      },
      /names features\/part-run-old-00000\.parquet, not a staged part of run run-r$/,
    ],
  ])('refuses a run when %s (PublishRefusedError), leaving features/ as it was', async (_, prepare, message) => {
    const where = onFilesystem(`refused-${Math.random().toString(36).slice(2)}`);
    const { reduced } = await audited(where, 'run-old', batch('run-old'));
    await invoke({ runId: 'run-old', output: where.output });
    await prepare(where);
    const output = openStorage(where.output);
    const before = await snapshot(output, 'features/');
    expect(Object.keys(before)).toEqual([reduced.parts[0]!.replace('runs/run-old/parts/', 'features/')]);

    const error = await invoke({ runId: 'run-r', output: where.output }).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'PublishRefusedError', message: expect.stringMatching(message) });
    expect(await snapshot(output, 'features/')).toEqual(before);
  });

  it('accepts the Publish state event as the state machine passes it', async () => {
    const where = { input: { bucket: 'fruits' }, output: fixture.output };
    const { validation } = await audited(where, fixture.runId, batch(fixture.runId));
    expect(validation.passed).toBe(true);

    expect(await invoke(fixture)).toMatchObject({ runId: fixture.runId, parts: [`features/part-${fixture.runId}-00000.parquet`] });
  });

  it.each([
    [{ ...fixture, runId: '../etc' }, /runId/],
    [{ runId: fixture.runId, output: { prefix: 'x/' } }, /output\.bucket/],
  ])('rejects a malformed event with InvalidEventError naming the field (%#)', async (bad, pattern) => {
    await expect(invoke(bad)).rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringMatching(pattern) });
  });
});

describe('publish, runs against each other', () => {
  /** The dataset as path → the run whose row it holds; a path in two parts fails the test. */
  async function rowsByRun(storage: Storage): Promise<Record<string, string>> {
    const owners: Record<string, string> = {};
    for (const object of await listParts(storage)) {
      const part = await openPart(storage, object);
      const runId = partKeyValues(part)['featurize.run_id']!;
      for (const path of (await readPartPaths(part)).map(shortPath)) {
        expect(owners[path!], `${path} in two parts`).toBeUndefined();
        owners[path!] = runId;
      }
    }
    return owners;
  }
  const scoped = (where: Place, prefix: string): RunScope => ({ kind: 'scoped', prefix: locationPrefix({ ...where.input, prefix }) });
  const run = (where: Place, runId: string, scope: RunScope, parts: readonly string[], output = openStorage(where.output)) =>
    leaseStoreFor(output).then((lease) => publishRun({ runId, output, scope, parts, lease }, options));

  it.each(places)('replaces only the rows under the prefix of a scoped run (%s); rows elsewhere stay', async (_, place) => {
    const where = place('scoped');
    const a = await stage(where, 'run-a', [{ status: 'SUCCEEDED', items: items(olderKeys) }], 2);
    await publish(where, 'run-a', 'full', a.reduced.parts);
    // images/Kiwi/ again: 2 and 3 are gone from the input, 8 is new.
    const s = await stage(where, 'run-s', [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg', 'images/Kiwi/8.jpg']) }]);

    const result = await run(where, 'run-s', scoped(where, 'images/Kiwi/'), s.reduced.parts);

    expect(result).toMatchObject({ kind: 'scoped', parts: ['features/part-run-s-00000.parquet'] });
    expect(await rowsByRun(openStorage(where.output))).toEqual({
      'Kiwi/1.jpg': 'run-s',
      'Kiwi/8.jpg': 'run-s',
      'Lemon/4.jpg': 'run-a',
      'Lemon/5.jpg': 'run-a',
      'Pear/6.jpg': 'run-a',
    });
  });

  /**
   * run-b (full, or scoped to images/Kiwi/; started first) re-processes the Kiwi images; run-c (incremental, started
   * later) re-processes Kiwi/2 and Lemon/5. Whatever the order they publish in, the later-started run's rows win and
   * no path is lost or doubled.
   */
  async function twoRuns(name: string, bKind: 'full' | 'scoped' = 'scoped') {
    const where = onFilesystem(name);
    const a = await stage(where, 'run-a', [{ status: 'SUCCEEDED', items: items(olderKeys) }], 2, '2026-12-01T10:00:00.000Z');
    await publish(where, 'run-a', 'full', a.reduced.parts);
    const b = await stage(
      where,
      'run-b',
      [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg', 'images/Kiwi/2.jpg', 'images/Kiwi/8.jpg']) }],
      2,
      '2026-12-01T11:00:00.000Z',
    );
    const c = await stage(
      where,
      'run-c',
      [{ status: 'SUCCEEDED', items: items(['images/Kiwi/2.jpg', 'images/Lemon/5.jpg']) }],
      25_000,
      '2026-12-01T11:05:00.000Z',
    );
    return {
      where,
      b: () => run(where, 'run-b', bKind === 'full' ? scopeOf(where, 'full') : scoped(where, 'images/Kiwi/'), b.reduced.parts),
      c: () => run(where, 'run-c', { kind: 'incremental' }, c.reduced.parts),
    };
  }
  const afterBoth = {
    scoped: {
      'Kiwi/1.jpg': 'run-b',
      'Kiwi/2.jpg': 'run-c',
      'Kiwi/8.jpg': 'run-b',
      'Lemon/4.jpg': 'run-a',
      'Lemon/5.jpg': 'run-c',
      'Pear/6.jpg': 'run-a',
    },
    // A full run removes what it no longer found (Kiwi/3, Lemon/4, Pear/6), but not Lemon/5: the later run's row.
    full: { 'Kiwi/1.jpg': 'run-b', 'Kiwi/2.jpg': 'run-c', 'Kiwi/8.jpg': 'run-b', 'Lemon/5.jpg': 'run-c' },
  };

  it.each([
    ['scoped', ['b', 'c']],
    ['scoped', ['c', 'b']],
    ['full', ['b', 'c']],
    ['full', ['c', 'b']],
  ] as const)(
    'keeps the later-started run’s rows, losing and doubling none, when a %s run and a later incremental one publish in the order %j',
    async (kind, order) => {
      const runs = await twoRuns(`two-${kind}-${order.join('')}`, kind);
      for (const which of order) await runs[which]();
      expect(await rowsByRun(openStorage(runs.where.output))).toEqual(afterBoth[kind]);
    },
  );

  it('lets two publishes at once take turns on the lease (the state machine retries PublishLeaseBusyError), with the same dataset', async () => {
    const runs = await twoRuns('two-at-once');
    const busy: string[] = [];
    const retried = async (publishOne: () => Promise<PublishResult>): Promise<PublishResult> => {
      for (;;) {
        try {
          return await publishOne();
        } catch (error) {
          if ((error as Error).name !== 'PublishLeaseBusyError') throw error;
          busy.push((error as Error).message);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };

    await Promise.all([retried(runs.b), retried(runs.c)]);

    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0]).toMatch(
      /^run run-[bc]#\w+ \(process \d+ on .+\) holds the lease on .*publish\.lock; free again when it is done or its lease expires$/,
    );
    expect(await rowsByRun(openStorage(runs.where.output))).toEqual(afterBoth.scoped);
  });

  it('refuses, changing nothing, an output whose features/ holds files this pipeline did not write, naming them', async () => {
    const where = onFilesystem('foreign');
    const output = openStorage(where.output);
    const a = await stage(where, 'run-a', [{ status: 'SUCCEEDED', items: items(olderKeys) }], 2);
    await publish(where, 'run-a', 'full', a.reduced.parts);
    await output.write('features/notes.txt', 'kept by a person');
    await output.write('features/2025/old-export.parquet', 'PAR1 not ours');
    const b = await stage(where, 'run-b', [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg']) }]);
    const before = await snapshot(output, 'features/');

    const error = await publish(where, 'run-b', 'full', b.reduced.parts).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'PublishRefusedError' });
    expect((error as Error).message).toContain(
      `holds 2 file(s) this pipeline did not write: ${output.locationOf('features/2025/old-export.parquet')}`,
    );
    expect((error as Error).message).toContain(output.locationOf('features/notes.txt'));
    expect(await snapshot(output, 'features/')).toEqual(before);
  });

  it('refuses, changing nothing, to mix the vectors of two models, unless the run replaces every row of the other model', async () => {
    const where = onFilesystem('models');
    const output = openStorage(where.output);
    const a = await stage(where, 'run-a', [{ status: 'SUCCEEDED', items: items(olderKeys), modelId: 'another-model@feedface' }], 2);
    await publish(where, 'run-a', 'full', a.reduced.parts);
    const before = await snapshot(output, 'features/');
    const kiwi = await stage(where, 'run-k', [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg']) }]);

    const error = await run(where, 'run-k', scoped(where, 'images/Kiwi/'), kiwi.reduced.parts).catch((e: unknown) => e);

    expect(error).toMatchObject({
      name: 'PublishRefusedError',
      message: expect.stringContaining('holds vectors of another-model@feedface'),
    });
    expect(await snapshot(output, 'features/')).toEqual(before);
    const all = await stage(where, 'run-all', [{ status: 'SUCCEEDED', items: items(olderKeys) }]);
    await publish(where, 'run-all', 'full', all.reduced.parts);
    expect(Object.values(await rowsByRun(output))).toEqual(Array(olderKeys.length).fill('run-all'));
  });

  it('refuses, changing nothing, an onnx-int8 run on a dataset of the float onnx engine: the engines record different model ids', async () => {
    const [float, int8] = [await featureEngine('onnx', modelDir), await featureEngine('onnx-int8', modelDir)];
    try {
      const where = onFilesystem('int8');
      const output = openStorage(where.output);
      const a = await stage(where, 'run-a', [{ status: 'SUCCEEDED', items: items(olderKeys), modelId: float.descriptor.id }], 2);
      await publish(where, 'run-a', 'full', a.reduced.parts);
      const before = await snapshot(output, 'features/');
      const kiwi = await stage(where, 'run-k', [{ status: 'SUCCEEDED', items: items(['images/Kiwi/1.jpg']), modelId: int8.descriptor.id }]);

      const error = await run(where, 'run-k', scoped(where, 'images/Kiwi/'), kiwi.reduced.parts).catch((e: unknown) => e);

      expect(error).toMatchObject({
        name: 'PublishRefusedError',
        message: expect.stringContaining(`holds vectors of ${float.descriptor.id}, this run's are of ${int8.descriptor.id}`),
      });
      expect(await snapshot(output, 'features/')).toEqual(before);
    } finally {
      float.dispose();
      int8.dispose();
    }
  });
});

describe('publish, killed mid-way', () => {
  it('leaves a journal that `featurize repair` (or the next publish) finishes: no image twice, none lost, the run published once', async () => {
    const where = onFilesystem('killed');
    const output = openStorage(where.output);
    const { b } = await publishedThenStaged(where);
    const reference = onFilesystem('killed-reference');
    await cp(where.output.bucket, reference.output.bucket, { recursive: true });
    await publish(where, 'run-b', 'full', b.reduced.parts, openStorage(reference.output));
    const expected = await datasetContents(openStorage(reference.output));
    const request: KilledPublish = {
      runId: 'run-b',
      output: where.output,
      scope: scopeOf(where, 'full'),
      parts: b.reduced.parts,
      copies: 1,
    };
    const requestFile = join(stores.dir, 'killed-request.json');
    await writeFile(requestFile, JSON.stringify(request));

    const killed = spawnSync(process.execPath, [fileURLToPath(new URL('../support/publish-killed.ts', import.meta.url)), requestFile]);

    expect(killed.signal).toBe('SIGKILL');
    expect(Object.keys(await snapshot(output, ''))).toEqual(expect.arrayContaining(['publish-journal.json', 'publish.lock']));
    const asUser = { POWERTOOLS_LOG_LEVEL: undefined };
    const repaired = await featurize(['repair', where.output.bucket], asUser);
    expect(repaired).toMatchObject({ code: 0, stderr: '' });
    expect(repaired.stdout).toMatch(
      /^featurize: finished the interrupted publish of run run-b into .*: 2 part\(s\) in place, 3 removed\n$/,
    );
    expect(await datasetContents(output)).toEqual(expected);
    expect(Object.keys(await snapshot(output, ''))).not.toContain('publish-journal.json');
    // Published once: its retry (the state machine's, or a rerun) changes nothing.
    const settled = await snapshot(output, 'features/');
    await publish(where, 'run-b', 'full', b.reduced.parts);
    expect(await snapshot(output, 'features/')).toEqual(settled);
    expect(await featurize(['repair', where.output.bucket], asUser)).toMatchObject({
      code: 0,
      stdout: `featurize: nothing to repair at ${where.output.bucket}: no publish was interrupted\n`,
    });
  });
});
