/**
 * One features part reduced by a PCA model into one part of the same rows: `path`, `label` and `pca` (k float32),
 * in the same order, carrying the source part's metadata and the model's. PcaPart writes it staged; PublishPca
 * writes it into the partition when its source changed after the plan. Memory: one row group of the source and
 * the reduced part (k/1280 of the source's vectors).
 */
import { type PartFile, partKeyValues, readPartVectorGroups } from '../dataset/feature-parts.ts';
import { pcaModelKey } from '../run-layout.ts';
import type { Storage } from '../storage/storage.ts';
import { encodeReducedPart } from './encode-reduced-part.ts';
import { applyPca, type PcaModel } from './pca-model.ts';

/** The metadata key naming the version (ETag, or mtime locally) of the features part a reduced part was read from. */
export const pcaSourceVersionKey = 'featurize.pca_source_version';

/** Writes `part` reduced by `model` at `key`; returns its row count. */
export async function reduceFeaturesPart(
  output: Storage,
  part: PartFile,
  key: string,
  model: PcaModel,
  options: { rowGroupRows: number; metadata?: Record<string, string>; tags?: Record<string, string> },
): Promise<number> {
  const paths: string[] = [];
  const labels: string[] = [];
  const reduced: Float32Array[] = [];
  for await (const { rows, vectors } of readPartVectorGroups(part, ['path', 'label'])) {
    for (const row of rows) {
      paths.push(row.path as string);
      labels.push(row.label as string);
    }
    reduced.push(
      applyPca(
        model,
        rows.map((_, index) => vectors.vector(index)),
      ),
    );
  }
  const k = model.components.length;
  const values = new Float32Array(paths.length * k);
  let offset = 0;
  for (const chunk of reduced) {
    values.set(chunk, offset);
    offset += chunk.length;
  }
  const metadata = {
    ...partKeyValues(part),
    'featurize.pca_model_id': model.id,
    'featurize.pca_model': pcaModelKey(model.id),
    'featurize.pca_components': String(k),
    ...options.metadata,
  };
  const bytes = encodeReducedPart({ paths, labels, values, k }, { rowGroupRows: options.rowGroupRows, metadata });
  await output.write(key, bytes, options.tags ? { tags: options.tags } : undefined);
  return paths.length;
}
