/**
 * Feature datasets in the reducer's contract schema, for tests of what reads them (PCA, report):
 * `path` string, `label` string, `size` int64, `etag` string (nullable), `sha256` string, `features` list of
 * float32, key-value metadata with the run id, model id, engine and preprocessing.
 */
import { Int64, Utf8, vectorFromArray } from 'apache-arrow';
import { seededRandom } from '../../functions/report/reservoir-sample.ts';
import { partMetadataKeys } from '../../functions/shared/dataset/parquet-read.ts';
import { encodeParquet, float32ListVector } from '../../functions/shared/dataset/parquet-write.ts';
import { featuresPrefix } from '../../functions/shared/run-layout.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';

export interface FeatureRow {
  path: string;
  label: string;
  features: ArrayLike<number>;
}

export const testSource = { modelId: 'mobilenet_v2_test@000000000000', engine: 'tfjs/wasm', preprocessing: '{"size":224}' };

/** Part metadata as the reducer writes it. */
function partMetadata(runId: string, source: typeof testSource): Record<string, string> {
  return {
    [partMetadataKeys.runId]: runId,
    [partMetadataKeys.modelId]: source.modelId,
    [partMetadataKeys.engine]: source.engine,
    [partMetadataKeys.preprocessing]: source.preprocessing,
  };
}

function encodeFeaturePart(
  rows: readonly FeatureRow[],
  runId: string,
  rowGroupRows: number,
  source: typeof testSource = testSource,
): Uint8Array {
  const width = rows[0]?.features.length ?? 0;
  const values = new Float32Array(rows.length * width);
  rows.forEach((row, i) => values.set(row.features, i * width));
  return encodeParquet(
    {
      path: vectorFromArray(rows.map((r) => r.path), new Utf8()),
      label: vectorFromArray(rows.map((r) => r.label), new Utf8()),
      size: vectorFromArray(rows.map(() => 1000n), new Int64()),
      etag: vectorFromArray(rows.map(() => null), new Utf8()),
      sha256: vectorFromArray(rows.map((r) => r.path.padEnd(64, '0').slice(0, 64)), new Utf8()),
      features: float32ListVector(values, width),
    },
    { metadata: partMetadata(runId, source), nullable: ['etag'], rowGroupRows },
  );
}

/** Writes `rows` as the run's parts `features/part-<runId>-NNNNN.parquet`, `rowsPerPart` rows each. */
export async function writeFeatureParts(
  output: Storage,
  runId: string,
  rows: readonly FeatureRow[],
  {
    rowsPerPart = rows.length,
    rowGroupRows = 1000,
    source = testSource,
  }: { rowsPerPart?: number; rowGroupRows?: number; source?: typeof testSource } = {},
): Promise<string[]> {
  const keys: string[] = [];
  for (let start = 0, part = 0; start < rows.length; start += rowsPerPart, part++) {
    const key = `${featuresPrefix}part-${runId}-${String(part).padStart(5, '0')}.parquet`;
    await output.write(key, encodeFeaturePart(rows.slice(start, start + rowsPerPart), runId, rowGroupRows, source));
    keys.push(key);
  }
  return keys;
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
