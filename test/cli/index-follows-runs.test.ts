import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { readDatasetVectors } from '../../functions/shared/vectors/dataset-vectors.ts';
import { readIndexManifest } from '../../functions/shared/vectors/vector-index.ts';
import { featurize } from '../support/cli.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('index-follows-runs', []);

/** A folder of the sample's first `count` images (2 labels, 3 each), under the test's folder. */
async function inputOf(name: string, count: number): Promise<{ input: string; keys: string[] }> {
  const input = join(stores.dir, name);
  const keys = await sampleKeys(2, 3);
  for (const key of keys.slice(0, count)) await cp(join(sampleDir, key), join(input, key), { recursive: true });
  return { input, keys };
}

describe('an index made by featurize index follows later runs', () => {
  it('is updated after each run, and a run without one makes none', async () => {
    const input = join(stores.dir, 'in');
    const out = join(stores.dir, 'out');
    const keys = await sampleKeys(2, 3);
    for (const key of keys.slice(0, 4)) await cp(join(sampleDir, key), join(input, key), { recursive: true });

    const first = await featurize(['run', input, '--out', out, '--workers', '1']);
    expect(first.code).toBe(0);
    expect(first.stdout).not.toMatch(/^ {2}index /m);
    expect((await featurize(['index', out])).stdout).toMatch(/ built: 4 images;/);

    for (const key of keys.slice(4)) await cp(join(sampleDir, key), join(input, key), { recursive: true });
    const second = await featurize(['run', input, '--out', out, '--workers', '1']);
    expect(second.code).toBe(0);
    // A full run replaces every part: the first run's part goes, the second's comes.
    expect(second.stdout).toMatch(/\n {2}index .*\/out\/index\/ updated: 1 part\(s\) added or changed, 1 removed, 6 images;/);
    expect((await readIndexManifest(new FsStorage(out)))?.rows).toBe(6);
    const similar = await featurize(['similar', join(input, keys[5]!), '--dataset', out, '--k', '5']);
    expect(similar.stderr).toBe("featurize: 5 nearest by the index, query vector the dataset's own\n");
  });

  it("is built by a run with --index (the state machine's UpdateIndex step) and used by similar; --no-index leaves it behind", async () => {
    const { input, keys } = await inputOf('in-asked', 6);
    const out = join(stores.dir, 'out-asked');

    const run = await featurize(['run', input, '--out', out, '--workers', '1', '--index']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\n {2}index .*\/out-asked\/index\/ built: 6 images; exact search/);
    expect(await readIndexManifest(new FsStorage(out))).toMatchObject({ rows: 6 });
    const similar = await featurize(['similar', join(input, keys[0]!), '--dataset', out, '--k', '3']);
    expect(similar.stderr).toBe("featurize: 3 nearest by the index, query vector the dataset's own\n");

    const skipped = await featurize(['run', input, '--out', out, '--workers', '1', '--no-index']);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).not.toMatch(/^ {2}index/m);
    // The run replaced the part the index holds: similar no longer trusts it, and searches the dataset itself.
    const stale = await featurize(['similar', join(input, keys[0]!), '--dataset', out, '--k', '3']);
    expect(stale.stderr).toMatch(/^featurize: 3 nearest by exact search/);
  });

  it('leaves a run succeeded and its dataset published when the index cannot be updated, and says so', async () => {
    const { input } = await inputOf('in-broken', 4);
    const out = join(stores.dir, 'out-broken');
    // A file where the index's folder must go: LanceDB cannot make its database there.
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'index'), 'not a folder');

    const run = await featurize(['run', input, '--out', out, '--workers', '1', '--index']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^run \S+ succeeded: /m);
    expect(run.stdout).toMatch(
      /\n {2}index not updated \(the dataset is published\): .*Not a directory \(os error 20\)[^\n]*\n {2}report: /,
    );
    expect(run.stdout).not.toContain('Caused by');
    expect((await readDatasetVectors(new FsStorage(out))).rows).toHaveLength(4);
  });
});
