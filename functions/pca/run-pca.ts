/**
 * PCA over one run's feature parts, streaming: fit (or take a saved model), then write the reduced vectors.
 *
 *   pass 1 (fit only): every part, a row group at a time, into the float64 mean and scatter matrix;
 *                      eigendecomposition; the model written to pca/<runId>/model.json
 *   pass 2:            every part again, reduced row group by row group, written as one part of the model's
 *                      partition, features-pca/pca_model=<modelId>/part-<runId>-NNNNN.parquet: the same name,
 *                      the same rows in the same order as the features part it comes from; then the partition
 *                      follows what publishing did to older parts (see partitionChanges)
 *
 * Memory: the width² covariance (13 MB at 1280) and its eigenvectors, one row group of input rows, and one
 * reduced part (k/1280 of its source's vectors). Knows nothing of Lambda.
 */

import type { PcaRunResult } from '../../statemachine/contracts.ts';
import { listParts, openPart, type PartFile, partKeyValues, partMetadataKeys, readPartRowGroups } from '../shared/dataset/feature-parts.ts';
import { PcaError } from '../shared/errors.ts';
import { applyPca, encodePcaModel, keptVarianceShare, type PcaModel, type PcaSelection, type PcaSource } from '../shared/pca/pca-model.ts';
import { featuresPrefix, partRunId, pcaModelKey, pcaPartitionPrefix } from '../shared/run-layout.ts';
import type { Storage, StoredObject } from '../shared/storage/storage.ts';
import { encodeReducedPart } from './encode-reduced-part.ts';
import { fitPca } from './fit-pca.ts';
import { ScatterAccumulator } from './scatter-accumulator.ts';

export interface PcaRunRequest {
  runId: string;
  /** The run's output location: features/ is read, pca/ and features-pca/ are written. */
  output: Storage;
  /** Fit a model on this run's vectors, or apply a saved one (with the location it was read from). */
  mode: { fit: PcaSelection } | { apply: PcaModel; from: string };
  /** Rows per row group of the reduced parts. */
  rowGroupRows: number;
}

export async function runPca(request: PcaRunRequest): Promise<PcaRunResult> {
  const started = performance.now();
  const { runId, output, mode, rowGroupRows } = request;
  const featureParts = await listParts(output);
  const parts = featureParts.filter((object) => partRunId(object.key) === runId);
  // Nothing to fit on is an error; nothing to apply a saved model to (every image of the run failed) is not.
  if (parts.length === 0 && 'fit' in mode) {
    throw new PcaError(`run ${runId} has no feature parts under ${output.locationOf(featuresPrefix)}`);
  }
  // Each part's footer is fetched once, then read by every pass below.
  const opened = await Promise.all(parts.map((object) => openPart(output, object)));
  const source = opened[0] ? sourceOf(runId, partKeyValues(opened[0])) : undefined;

  let model: PcaModel;
  const millis = { covariance: 0, eigen: 0, project: 0, total: 0 };
  if ('fit' in mode) {
    const moments = await accumulate(opened);
    millis.covariance = performance.now() - started;
    const fit = fitPca(moments, mode.fit);
    millis.eigen = performance.now() - started - millis.covariance;
    model = { id: runId, createdAt: new Date().toISOString(), source: source!, selection: mode.fit, ...fit };
    await output.write(pcaModelKey(model.id), encodePcaModel(model));
  } else {
    model = mode.apply;
    if (source && model.source.modelId !== source.modelId) {
      throw new PcaError(
        `the PCA model ${model.id} was fitted on vectors of ${model.source.modelId}; run ${runId} has vectors of ${source.modelId}`,
      );
    }
    // The output keeps a copy of every model its partitions were reduced with.
    if (mode.from !== output.locationOf(pcaModelKey(model.id))) await output.write(pcaModelKey(model.id), encodePcaModel(model));
  }

  const projectStarted = performance.now();
  const partition = pcaPartitionPrefix(model.id);
  const { rewritten, removed } = await partitionChanges(output, partition, featureParts, runId);
  await output.remove(removed);
  let rows = 0;
  for (const part of opened) rows += await reducePart(output, part, partition, model, rowGroupRows);
  for (const part of rewritten) await reducePart(output, part, partition, model, rowGroupRows);
  millis.project = performance.now() - projectStarted;
  millis.total = performance.now() - started;

  return {
    runId,
    modelId: model.id,
    model: pcaModelKey(model.id),
    fitted: 'fit' in mode,
    components: model.components.length,
    varianceShare: keptVarianceShare(model),
    rows,
    parts: parts.length,
    rewrittenParts: rewritten.length,
    removedParts: removed.length,
    dataset: partition,
    millis: {
      covariance: Math.round(millis.covariance),
      eigen: Math.round(millis.eigen),
      project: Math.round(millis.project),
      total: Math.round(millis.total),
    },
  };
}

/** The reducer records the extractor in each part's key-value metadata. */
function sourceOf(runId: string, metadata: Record<string, string>): PcaSource {
  return {
    runId,
    modelId: metadata[partMetadataKeys.modelId] ?? 'unknown',
    engine: metadata[partMetadataKeys.engine] ?? 'unknown',
    preprocessing: metadata[partMetadataKeys.preprocessing] ?? 'unknown',
  };
}

/** The covariance is added a chunk at a time: a chunk's centred copy stays small whatever the row groups. */
const chunkRows = 2048;

async function accumulate(parts: readonly PartFile[]): Promise<ScatterAccumulator> {
  let moments: ScatterAccumulator | undefined;
  for (const part of parts) {
    for await (const rows of readPartRowGroups(part, ['features'])) {
      const vectors = rows.map((row) => row.features as ArrayLike<number>);
      moments ??= new ScatterAccumulator(vectors[0]?.length ?? 0);
      for (let start = 0; start < vectors.length; start += chunkRows) moments.add(vectors.slice(start, start + chunkRows));
    }
  }
  if (!moments) throw new PcaError(`the feature parts of the run hold no vectors`);
  return moments;
}

/**
 * What keeps a model's partition a faithful twin of features/ for the runs reduced with it: reduced parts
 * whose source is gone (a full run replaced the dataset, an incremental run emptied the part) are removed;
 * those whose source publishing rewrote since (an incremental run took out images it re-processed) are reduced
 * again. This run's own parts are reduced anyway.
 */
async function partitionChanges(
  output: Storage,
  partition: string,
  featureParts: readonly StoredObject[],
  runId: string,
): Promise<{ rewritten: PartFile[]; removed: string[] }> {
  const sources = new Map(featureParts.map((object) => [object.key.slice(featuresPrefix.length), object]));
  const rewritten: PartFile[] = [];
  const removed: string[] = [];
  for (const reduced of await listParts(output, partition)) {
    const source = sources.get(reduced.key.slice(partition.length));
    if (!source) {
      removed.push(reduced.key);
    } else if (partRunId(source.key) !== runId) {
      // The reduced part carries its source's metadata as it was: a rewrite since shows in rewritten_at.
      const [now, then] = await Promise.all([openPart(output, source), openPart(output, reduced)]);
      if (partKeyValues(now)[partMetadataKeys.rewrittenAt] !== partKeyValues(then)[partMetadataKeys.rewrittenAt]) rewritten.push(now);
    }
  }
  return { rewritten, removed };
}

/** Reduces one features part into the part of the same name in the model's partition; returns its row count. */
async function reducePart(output: Storage, part: PartFile, partition: string, model: PcaModel, rowGroupRows: number): Promise<number> {
  const key = partition + part.key.slice(featuresPrefix.length);
  const paths: string[] = [];
  const labels: string[] = [];
  const reduced: Float32Array[] = [];
  for await (const rows of readPartRowGroups(part, ['path', 'label', 'features'])) {
    for (const row of rows) {
      paths.push(row.path as string);
      labels.push(row.label as string);
    }
    reduced.push(
      applyPca(
        model,
        rows.map((row) => row.features as ArrayLike<number>),
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
  };
  await output.write(key, encodeReducedPart({ paths, labels, values, k }, { rowGroupRows, metadata }));
  return paths.length;
}
