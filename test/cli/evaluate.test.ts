import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../functions/report/reservoir-sample.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import { featurize } from '../support/cli.ts';
import { clusteredRows, type FeatureRow, writeFeatureParts } from '../support/feature-parts.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('evaluate', ['datasets']);

/** Leave-one-out 1-NN top-1 by a float64 scan of every pair, copies (same hash) left out: the exact figure. */
function exactTop1(rows: readonly FeatureRow[]): number {
  const unit = rows.map((row) => {
    const norm = Math.hypot(...Array.from(row.features));
    return Array.from(row.features, (x) => x / norm);
  });
  const hash = (row: FeatureRow) => row.sha256 ?? row.path;
  let right = 0;
  rows.forEach((row, i) => {
    let best = -2;
    let label = '';
    rows.forEach((other, j) => {
      if (hash(other) === hash(row)) return;
      const similarity = unit[i]!.reduce((sum, x, d) => sum + x * unit[j]![d]!, 0);
      if (similarity > best) [best, label] = [similarity, other.label];
    });
    if (label === row.label) right++;
  });
  return right / rows.length;
}

// Noisy clusters whose 1-NN top-1 is well below 1, a few images copied under another path (same hash).
const noise = seededRandom(5);
const rows: FeatureRow[] = clusteredRows(160, { seed: 3, width: 24 }).map((row, i) => ({
  ...row,
  features: Array.from(row.features, (x) => x + noise() * 2.5),
  ...(i % 40 === 1 ? { sha256: 'copied'.padEnd(64, '0') } : {}),
}));

describe('featurize evaluate', () => {
  it('prints the JSON the issue asks for, agreeing with an exact computation, on a folder', async () => {
    await writeFeatureParts(new FsStorage(join(stores.dir, 'out')), '20260101T000000Z-aaaaaa', rows, { rowsPerPart: 70 });
    const result = await featurize(['evaluate', join(stores.dir, 'out'), '--json']);
    expect(result.stderr).toBe('');
    const evaluation = JSON.parse(result.stdout);
    expect(Object.keys(evaluation)).toEqual(['mode', 'images', 'top1', 'vote5', 'perLabel', 'confusions']);
    expect(evaluation).toMatchObject({ mode: 'leave-one-out', images: 160 });
    expect(evaluation.top1).toBe(exactTop1(rows));
    expect(evaluation.top1).toBeLessThan(1);
    expect(Object.keys(evaluation.perLabel)).toEqual(['Apple Red 1', 'Banana', 'Kiwi', 'Lemon']);
    expect(Object.values(evaluation.perLabel).reduce((sum: number, l) => sum + (l as { images: number }).images, 0)).toBe(160);
    expect(evaluation.confusions[0]).toEqual({ label: expect.any(String), predicted: expect.any(String), images: expect.any(Number) });
  });

  it('reads a dataset on S3 and prints a summary for people', async () => {
    await writeFeatureParts(new S3Storage('datasets', 'v1'), '20260101T000000Z-aaaaaa', rows);
    const result = await featurize(['evaluate', 's3://datasets/v1'], { AWS_ENDPOINT_URL_S3: stores.s3.endpoint });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^mode +leave-one-out .*exact cosine search, model mobilenet_v2_test@000000000000\nimages +160\ntop-1 +\d+\.\d %/,
    );
    expect(result.stdout).toMatch(/\n {2}Banana +40 +\d+\.\d %\n/);
  });

  it('refuses a location without a dataset in one line', async () => {
    const result = await featurize(['evaluate', join(stores.dir, 'nothing')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^featurize: no Parquet parts under .*nothing\/features\/\n$/);
  });
});
