/**
 * Every vector of a dataset in memory, for searching and evaluating it: read through the dataset module's
 * Parquet reader (one row group at a time) into one matrix of unit vectors, beside each row's path, label and
 * content hash, and the model, engine and preprocessing that made them (the parts' file metadata).
 *
 * 1280 float32 a row: 100,000 images take 512 MB. Beyond that, search through the index (vector-index.ts).
 */

import { listParts, openPart, type PartFile, partKeyValues, partMetadataKeys, readPartVectorGroups } from '../dataset/feature-parts.ts';
import { ConfigError, RunArtifactError } from '../errors.ts';
import { featuresPrefix } from '../run-layout.ts';
import type { Storage, StoredObject } from '../storage/storage.ts';
import { normalizeRows, type VectorMatrix } from './exact-search.ts';

/** What made a dataset's vectors: one model, engine and preprocessing for every part. */
export interface VectorSource {
  modelId: string;
  engine: string;
  preprocessing: string;
}

export interface ImageRow {
  path: string;
  label: string;
  sha256: string;
}

export interface DatasetVectors {
  source: VectorSource;
  rows: ImageRow[];
  /** Row i of the matrix is rows[i]'s vector, at unit length. */
  matrix: VectorMatrix;
}

/** features/ as listed (names, sizes, versions) and opened (the parts' footers). */
export interface DatasetParts {
  objects: StoredObject[];
  parts: PartFile[];
}

/** The dataset's parts under `features/`, opened (footers only); none is a ConfigError naming the place. */
export async function openDatasetParts(storage: Storage): Promise<DatasetParts> {
  const objects = await listParts(storage);
  if (objects.length === 0) throw new ConfigError(`no Parquet parts under ${storage.locationOf(featuresPrefix)}`);
  return { objects, parts: await Promise.all(objects.map((object) => openPart(storage, object))) };
}

/** The one source of every part; parts of two models (or engines, or preprocessings) are a RunArtifactError. */
export function partsSource(storage: Storage, parts: readonly PartFile[]): VectorSource {
  const sources = parts.map((part) => {
    const values = partKeyValues(part);
    return {
      modelId: values[partMetadataKeys.modelId] ?? '',
      engine: values[partMetadataKeys.engine] ?? '',
      preprocessing: values[partMetadataKeys.preprocessing] ?? '',
    };
  });
  const first = sources[0]!;
  const other = sources.findIndex(
    (s) => s.modelId !== first.modelId || s.engine !== first.engine || s.preprocessing !== first.preprocessing,
  );
  if (other >= 0) {
    throw new RunArtifactError(
      `${storage.locationOf(featuresPrefix)} mixes vectors of two sources (${parts[0]!.key}: ${first.modelId} ${first.engine}; ` +
        `${parts[other]!.key}: ${sources[other]!.modelId} ${sources[other]!.engine}): their similarities mean nothing`,
    );
  }
  return first;
}

/** Reads every row of the parts: path, label, sha256 and the unit vector. */
export async function readVectors(parts: readonly PartFile[]): Promise<{ rows: ImageRow[]; matrix: VectorMatrix }> {
  const total = parts.reduce((sum, part) => sum + Number(part.metadata.num_rows), 0);
  const rows: ImageRow[] = [];
  let data = new Float32Array(0);
  let dimension = 0;
  for (const part of parts) {
    for await (const { rows: group, vectors } of readPartVectorGroups(part, ['path', 'label', 'sha256'])) {
      for (const [index, row] of group.entries()) {
        const features = vectors.vector(index);
        if (dimension === 0) {
          dimension = features.length;
          data = new Float32Array(total * dimension);
        }
        if (features.length !== dimension) {
          throw new RunArtifactError(`${part.key}: a vector of ${features.length} values among vectors of ${dimension}`);
        }
        data.set(features, rows.length * dimension);
        rows.push({ path: String(row.path), label: String(row.label), sha256: String(row.sha256) });
      }
    }
  }
  return { rows, matrix: normalizeRows(data.subarray(0, rows.length * dimension), dimension || 1) };
}

/** The whole dataset under `storage`'s `features/`, in memory. */
export async function readDatasetVectors(storage: Storage): Promise<DatasetVectors> {
  const { parts } = await openDatasetParts(storage);
  const source = partsSource(storage, parts);
  return { source, ...(await readVectors(parts)) };
}
