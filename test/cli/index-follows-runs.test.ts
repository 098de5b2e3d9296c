import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { readIndexManifest } from '../../functions/shared/vectors/vector-index.ts';
import { featurize } from '../support/cli.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('index-follows-runs', []);

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
});
