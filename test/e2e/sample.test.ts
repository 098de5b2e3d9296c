/**
 * The product as a user runs it: `featurize run` (the real CLI, the real model) over the 900-image sample into
 * a folder, `featurize inspect` on the result, the same run on the other engine; then a run from and to S3
 * (fauxqs) over the sample with the 72 edge cases mixed in. DuckDB reads the Parquet back, independently of the
 * project's own readers.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FailureRecord, failureCodes } from '../../functions/shared/failures.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import { parentFolderName } from '../../functions/shared/storage/storage.ts';
import { featurize } from '../support/cli.ts';
import { literal, query } from '../support/duckdb.ts';
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';
import { edgeCasesDir, sampleDir, sampleKeys } from '../support/shared-data.ts';

let dir: string;
let s3: LocalS3;
/** The folder run's vectors, by key relative to the sample folder. */
const localVectors = new Map<string, number[]>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'e2e-sample-'));
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

const parquetGlob = (folder: string) => literal(join(folder, 'features', '*.parquet'));

describe('featurize on the Fruits-360 sample', () => {
  it('turns the 900 sample images into 900 validated rows, labelled by folder, of 1280 floats each (and PCA, report)', async () => {
    const out = join(dir, 'out');
    const result = await featurize(['run', '--out', out, '--pca', '0.95']);
    expect(result.stderr).not.toMatch(/"level":"(WARN|ERROR)"/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^featurize: run \d{8}T\d{6}Z-[0-9a-f]{6}$/m);
    expect(result.stdout).toMatch(/^run \S+ succeeded/m);
    expect(result.stdout).toContain('images:   900 listed, 900 vectors, 0 failures');
    expect(result.stdout).toMatch(/time: +[\d.]+ s, [\d.]+ images\/s on \d+ workers/);
    expect(result.stdout).toContain(`dataset:  ${join(out, 'features')}/`);
    expect(result.stdout).toMatch(/^ {2}pca: +\d+ components, 9[5-9]\.\d% of the variance, in .+features-pca\/pca_model=/m);
    expect(result.stdout).toMatch(/^ {12}.+\/runs\/\S+\/report\.html$/m);
    const runFolder = (await readdir(join(out, 'runs')))[0]!;
    expect(await readdir(join(out, 'runs', runFolder))).toEqual(expect.arrayContaining(['report.json', 'report.html', 'failures.jsonl']));

    const rows = await query(
      `SELECT path, label, typeof(features) AS type, len(features)::INTEGER AS length, features
       FROM read_parquet(${parquetGlob(out)})`,
    );
    expect(rows).toHaveLength(900);
    expect(new Set(rows.map((row) => row.path)).size).toBe(900);
    const folders = (await readdir(sampleDir)).sort();
    expect([...new Set(rows.map((row) => row.label))].sort()).toEqual(folders);
    for (const row of rows) {
      expect(row.label).toBe(parentFolderName(String(row.path)));
      expect(row.length).toBe(1280);
      localVectors.set(String(row.path).slice(sampleDir.length + 1), row.features as number[]);
    }
    expect(rows[0]!.type).toMatch(/^FLOAT\[(1280)?\]$/);
    expect([...localVectors.values()].every((vector) => vector.every((v) => Number.isFinite(v) && v >= 0 && v <= 6))).toBe(true);
  });

  it('shows that dataset with inspect: schema, 900 rows, 1280 floats, 30 labels of 30 rows, first rows', async () => {
    const result = await featurize(['inspect', join(dir, 'out')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^schema\n( {2}.+\n)+/m);
    expect(result.stdout).toMatch(/^ {2}features +list<float>/m);
    expect(result.stdout).toMatch(/^rows +900$/m);
    expect(result.stdout).toMatch(/^vectors +1280 float32 each$/m);
    expect(result.stdout).toMatch(/^labels +30$/m);
    expect(result.stdout).toMatch(/^ {2}Apple Red 1 +30$/m);
    expect(result.stdout.match(/^ {2}\/.+\.jpg \| .+ \| \[[\d., ]+…\]$/gm)).toHaveLength(5);
    expect(result.stdout).toMatch(/^pca +\S+: \d+ of 1280 components, 9[5-9]\.\d% of the variance$/m);
    expect(result.stdout).toMatch(/^ +reduced .+ \(1 parts, 900 rows, runs \S+\)$/m);
  });

  it('gives vectors within 1e-4 of the onnx run with the tfjs engine, and records which engine made them', async () => {
    const out = join(dir, 'tfjs');
    const result = await featurize(['run', '--out', out, '--engine', 'tfjs']);
    expect(result.code).toBe(0);
    const rows = await query(`SELECT path, features FROM read_parquet(${parquetGlob(out)})`);
    expect(rows).toHaveLength(900);
    let largest = 0;
    for (const row of rows) {
      const onnx = localVectors.get(String(row.path).slice(sampleDir.length + 1))!;
      (row.features as number[]).forEach((value, i) => {
        largest = Math.max(largest, Math.abs(value - onnx[i]!));
      });
    }
    expect(largest).toBeLessThanOrEqual(1e-4);
    const [engine] = await query(
      `SELECT decode(value) AS value FROM parquet_kv_metadata(${parquetGlob(out)}) WHERE decode(key) = 'featurize.engine'`,
    );
    expect(engine?.value).toBe('tfjs/wasm');
  });

  it('gives the same vectors from and to S3, and puts each edge case in exactly one place: a row or a failure record', async () => {
    const sampleSubset = await sampleKeys(30, 30);
    const edgeCases = (await readdir(edgeCasesDir)).sort();
    await s3.createBucket('fruits');
    await s3.upload('fruits', sampleDir, sampleSubset, 'images/');
    await s3.upload('fruits', edgeCasesDir, edgeCases, 'images/edge-cases/');

    // The endpoint comes from the flag alone, for the CLI and its workers: the test's own setting is left out.
    const withoutEndpoint = { AWS_ENDPOINT_URL_S3: undefined };
    const result = await featurize(
      [
        'run',
        's3://fruits/images/',
        '--out',
        's3://fruits/datasets/e2e',
        '--s3-endpoint',
        s3.endpoint,
        '--tolerated-failure-percent',
        '10',
      ],
      withoutEndpoint,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ {2}failures: .*UNSUPPORTED_FORMAT/m);
    expect(result.stdout).toContain('dataset:  s3://fruits/datasets/e2e/features/');
    const inspected = await featurize(['inspect', 's3://fruits/datasets/e2e', '--s3-endpoint', s3.endpoint], withoutEndpoint);
    expect(inspected.stdout).toMatch(/^labels +31$/m);

    // DuckDB reads local files: the parts and the failure records come down from fauxqs first.
    const dataset = new S3Storage('fruits', 'datasets/e2e');
    const copy = join(dir, 's3-copy');
    let failures: FailureRecord[] = [];
    for await (const object of dataset.list()) {
      if (object.key.startsWith('features/')) {
        await mkdir(join(copy, 'features'), { recursive: true });
        await writeFile(join(copy, object.key), await dataset.read(object.key));
      } else if (object.key.endsWith('/failures.jsonl')) {
        failures = Buffer.from(await dataset.read(object.key))
          .toString()
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as FailureRecord);
      }
    }
    const rows = await query(`SELECT path, label, features FROM read_parquet(${parquetGlob(copy)})`);

    const listed = (await Array.fromAsync(new S3Storage('fruits', 'images').list())).map((object) => `s3://fruits/images/${object.key}`);
    expect(listed).toHaveLength(sampleSubset.length + edgeCases.length);
    const places = [...rows.map((row) => String(row.path)), ...failures.map((failure) => failure.path)];
    expect(places.sort()).toEqual(listed.sort());

    for (const row of rows.filter((r) => r.label !== 'edge-cases')) {
      const key = String(row.path).slice('s3://fruits/images/'.length);
      expect(row.features, key).toEqual(localVectors.get(key));
    }
    expect(rows.filter((row) => row.label !== 'edge-cases')).toHaveLength(sampleSubset.length);
    expect(failures.every((failure) => failure.path.startsWith('s3://fruits/images/edge-cases/'))).toBe(true);
    expect(failures.every((failure) => failure.code in failureCodes && failure.message.length > 0)).toBe(true);
    expect(new Set(failures.map((failure) => failure.code))).toEqual(new Set(['EMPTY', 'UNSUPPORTED_FORMAT', 'CORRUPT', 'TOO_LARGE']));
  });
});
