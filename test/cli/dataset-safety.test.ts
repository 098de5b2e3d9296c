/**
 * The mistakes that used to empty or corrupt a dataset, as a user makes them: `featurize run` on a folder with a
 * dataset made from it already (issue 10). Each run must change only what it covered, or nothing.
 */
import { copyFile, cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import { featurize } from '../support/cli.ts';
import { publishedPaths } from '../support/dataset.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';
import { snapshot } from '../support/snapshot.ts';

let dir: string;
let base: string;
let keys: string[];
/** As a user runs it: no POWERTOOLS_LOG_LEVEL of their own (the tests' environment sets one). */
const asUser = { POWERTOOLS_LOG_LEVEL: undefined };
const run = (input: string, out: string, ...extra: string[]) => featurize(['run', input, '--out', out, '--workers', '1', ...extra], asUser);

/** A folder of six sample images in three labels, and a dataset made from it. */
async function datasetOfBase(name: string): Promise<string> {
  const out = join(dir, name);
  await cp(join(dir, 'base-dataset'), out, { recursive: true });
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dataset-safety-'));
  base = join(dir, 'base');
  keys = await sampleKeys(3, 2);
  for (const key of keys) await cp(join(sampleDir, key), join(base, key), { recursive: true });
  const made = await run(base, join(dir, 'base-dataset'));
  expect(made.code).toBe(0);
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

const everyPath = () => keys.map((key) => join(base, key)).sort();

describe('featurize run on a folder that has a dataset already', () => {
  it('refuses an empty folder before starting, and leaves the dataset as it was', async () => {
    const out = await datasetOfBase('empty-run');
    const before = await snapshot(openStorage({ bucket: out }), 'features/');
    const empty = join(dir, 'empty');
    await mkdir(empty);

    const result = await run(empty, out);

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^run \S+ REFUSED before it started: no images under .*\/empty\/: nothing to do/m);
    expect(await snapshot(openStorage({ bucket: out }), 'features/')).toEqual(before);
  });

  it('publishes nothing when every input fails, even at --tolerated-failure-percent 100', async () => {
    const out = await datasetOfBase('all-failed');
    const before = await snapshot(openStorage({ bucket: out }), 'features/');
    const broken = join(dir, 'broken');
    await mkdir(join(broken, 'Kiwi'), { recursive: true });
    await writeFile(join(broken, 'Kiwi', 'half-written.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]));

    const result = await run(broken, out, '--tolerated-failure-percent', '100');

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/dataset: .*features\/ \(unchanged: this run was not published\)/);
    expect(await snapshot(openStorage({ bucket: out }), 'features/')).toEqual(before);
  });

  it('replaces only the rows under a sub-folder run over it, keeping every other row', async () => {
    const out = await datasetOfBase('sub-folder');
    const label = keys[0]!.split('/')[0]!;

    const result = await run(join(base, label), out);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`dataset:  ${join(out, 'features/')} (full run: replaces every row under ${join(base, label)}/`);
    expect(await publishedPaths(openStorage({ bucket: out }))).toEqual(everyPath());
  });

  it('records a file in a folder whose name is not UTF-8 as BAD_NAME, and keeps every row', async () => {
    const out = await datasetOfBase('not-utf8');
    const latin1Folder = Buffer.concat([Buffer.from(`${base}/caf`), Buffer.from([0xe9])]);
    await mkdir(latin1Folder);
    await copyFile(join(sampleDir, keys[0]!), Buffer.concat([latin1Folder, Buffer.from('/photo.jpg')]));
    try {
      const result = await run(base, out);

      expect(result.stdout).toContain('images:   7 listed, 6 vectors, 1 failures, 0 skipped');
      expect(result.stdout).toContain('failures: BAD_NAME 1');
      expect(result.code).toBe(0);
      expect(await publishedPaths(openStorage({ bucket: out }))).toEqual(everyPath());
    } finally {
      await rm(latin1Folder, { recursive: true });
    }
  });

  it('counts a .DS_Store as skipped, not as a failed image', async () => {
    const out = await datasetOfBase('ds-store');
    await writeFile(join(base, keys[0]!.split('/')[0]!, '.DS_Store'), 'Finder');
    try {
      const result = await run(base, out);

      expect(result.code).toBe(0);
      expect(result.stdout).toContain('images:   7 listed, 6 vectors, 0 failures, 1 skipped');
      expect(await publishedPaths(openStorage({ bucket: out }))).toEqual(everyPath());
    } finally {
      await rm(join(base, keys[0]!.split('/')[0]!, '.DS_Store'));
    }
  });

  it('refuses an output whose features/ holds files the pipeline did not write, naming them, and removes none', async () => {
    const out = await datasetOfBase('foreign');
    await writeFile(join(out, 'features', 'notes.txt'), 'mine');
    await mkdir(join(out, 'features', 'old'));
    await writeFile(join(out, 'features', 'old', 'export.parquet'), 'PAR1');
    const before = await snapshot(openStorage({ bucket: out }), 'features/');

    const result = await run(base, out);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('did not write');
    expect(result.stdout).toContain(join(out, 'features', 'notes.txt'));
    expect(result.stdout).toContain(join(out, 'features', 'old', 'export.parquet'));
    expect(await snapshot(openStorage({ bucket: out }), 'features/')).toEqual(before);
  });

  it('refuses an --out that is a symlink into the input, before starting', async () => {
    const link = join(dir, 'out-link');
    await symlink(join(base, 'inside-out'), link);

    const result = await run(base, link);

    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^featurize: the output .* and the input .* overlap \(one contains the other\)/);
  });
});
