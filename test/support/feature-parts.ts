/**
 * Feature parts as the reducer writes them (its own writer and metadata keys), from vectors a test chooses:
 * for tests of what reads the dataset (PCA, report).
 */

import { seededRandom } from '../../functions/report/reservoir-sample.ts';
import { partMetadataKeys } from '../../functions/shared/dataset/feature-parts.ts';
import { encodeParquet } from '../../functions/shared/dataset/parquet-writer.ts';
import { inSample, sampleShare, writeRowSample } from '../../functions/shared/dataset/row-sample.ts';
import { ScatterAccumulator } from '../../functions/shared/pca/scatter-accumulator.ts';
import { featuresPrefix, partKey, partMomentsKey } from '../../functions/shared/run-layout.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';

export interface FeatureRow {
  path: string;
  label: string;
  features: ArrayLike<number>;
  /** Content hash; by default one of its own per path. */
  sha256?: string;
}

export const testSource = { modelId: 'mobilenet_v2_test@000000000000', engine: 'tfjs/wasm', preprocessing: '{"size":224}' };

/**
 * Writes `rows` as the run's parts `<folder>part-<runId>-NNNNN.parquet` (features/ unless told), `rowsPerPart`
 * rows each, with the reducer's own Parquet writer and part metadata, and each part's scatter moments
 * (runs/<runId>/reduce/moments/NNNNN.bin) and sample for the report (runs/<runId>/reduce/samples/) as the reducer
 * writes them.
 */
export async function writeFeatureParts(
  output: Storage,
  runId: string,
  rows: readonly FeatureRow[],
  {
    rowsPerPart = rows.length,
    rowGroupRows = 1000,
    source = testSource,
    folder = featuresPrefix,
  }: { rowsPerPart?: number; rowGroupRows?: number; source?: typeof testSource; folder?: string } = {},
): Promise<string[]> {
  const metadata = {
    [partMetadataKeys.runId]: runId,
    [partMetadataKeys.modelId]: source.modelId,
    [partMetadataKeys.engine]: source.engine,
    [partMetadataKeys.preprocessing]: source.preprocessing,
  };
  const keys: string[] = [];
  const share = sampleShare(rows.length);
  for (let start = 0, index = 0; start < rows.length; start += rowsPerPart, index++) {
    const chunk = rows.slice(start, start + rowsPerPart).map((row) => ({
      path: row.path,
      label: row.label,
      size: 1000,
      etag: null,
      sha256: row.sha256 ?? row.path.padEnd(64, '0').slice(0, 64),
      features: Float32Array.from(row.features),
    }));
    const key = partKey(runId, index, folder);
    await output.write(key, await encodeParquet(once(chunk), { rowGroupRows, metadata }));
    keys.push(key);
    const moments = new ScatterAccumulator(chunk[0]!.features.length);
    moments.add(chunk.map((row) => row.features));
    await output.write(partMomentsKey(runId, index), moments.toBytes());
    await writeRowSample(
      output,
      runId,
      { index, ...source },
      chunk.filter((row) => inSample(row.path, share)),
    );
  }
  return keys;
}

async function* once<T>(value: T): AsyncGenerator<T> {
  yield value;
}

/**
 * Synthetic vectors: one cluster per label around its own centre, noise on top, all ≥ 0 like ReLU6 features;
 * the `r`-th row has label `labels[r % labels.length]` and path `<prefix>/<label>/<r>.jpg`.
 */
export function clusteredRows(
  count: number,
  { seed = 1, width = 96, labels = ['Apple Red 1', 'Banana', 'Kiwi', 'Lemon'], prefix = 's3://images/fruits' } = {},
): FeatureRow[] {
  const random = seededRandom(seed);
  const centres = labels.map((_, l) => Float64Array.from({ length: width }, (_, i) => 2 + Math.sin(l * 7 + i) * ((i % 3) + 1) * 0.5));
  return Array.from({ length: count }, (_, r) => {
    const label = labels[r % labels.length]!;
    const features = Float32Array.from(centres[r % labels.length]!, (c) => Math.max(0, c + (random() - 0.5) * 0.6));
    return { path: `${prefix}/${label}/${r}.jpg`, label, features };
  });
}
