/**
 * PCA over one run's feature parts, streaming: fit (or take a saved model), then write the reduced vectors.
 *
 *   pass 1 (fit only): every part, a slice of rows at a time, into the float64 mean and scatter matrix;
 *                      eigendecomposition; the model written to pca/<runId>/model.json
 *   pass 2:            every part again, reduced slice by slice, written as one part of the model's partition,
 *                      features-pca/pca_model=<modelId>/part-<runId>-NNNNN.parquet: the same name, the same rows
 *                      in the same order as the features part it comes from
 *
 * Memory: the width² covariance (13 MB at 1280) and its eigenvectors, one slice of input rows, and one
 * reduced part (k/1280 of its source's vectors). Knows nothing of Lambda.
 */
import { Utf8, vectorFromArray } from 'apache-arrow';
import { listParts, partMetadataKeys, readFooter, readRowSlices, type PartFile } from '../shared/dataset/parquet-read.ts';
import { encodeParquet, float32ListVector } from '../shared/dataset/parquet-write.ts';
import { PcaError } from '../shared/errors.ts';
import { applyPca, encodePcaModel, keptVarianceShare, type PcaModel, type PcaSelection, type PcaSource } from '../shared/pca/pca-model.ts';
import { featuresPrefix, pcaModelKey, pcaPartitionPrefix, runPartPattern } from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';
import { fitPca } from './fit-pca.ts';
import { ScatterAccumulator } from './scatter-accumulator.ts';

export interface PcaRunRequest {
  runId: string;
  /** The run's output location: features/ is read, pca/ and features-pca/ are written. */
  output: Storage;
  /** Fit a model on this run's vectors, or apply a saved one (with the location it was read from). */
  mode: { fit: PcaSelection } | { apply: PcaModel; from: string };
  /** Rows decoded at once. */
  sliceRows?: number;
}

/** What the state machine keeps of the step (small), and what the report reads. */
export interface PcaRunResult {
  runId: string;
  modelId: string;
  /** The model's key relative to the output location. */
  model: string;
  /** False when a saved model was applied. */
  fitted: boolean;
  components: number;
  /** The share of the total variance of the fitted vectors that the kept components explain. */
  varianceShare: number;
  rows: number;
  parts: number;
  /** The folder of the reduced parts, relative to the output location. */
  dataset: string;
  millis: { covariance: number; eigen: number; project: number; total: number };
}

export async function runPca(request: PcaRunRequest): Promise<PcaRunResult> {
  const started = performance.now();
  const { runId, output, mode, sliceRows = 1024 } = request;
  const parts = await listParts(output, featuresPrefix, runPartPattern(runId));
  if (parts.length === 0) throw new PcaError(`run ${runId} has no feature parts under ${output.locationOf(featuresPrefix)}`);
  const source = sourceOf(runId, (await readFooter(output, parts[0]!)).metadata);

  let model: PcaModel;
  const millis = { covariance: 0, eigen: 0, project: 0, total: 0 };
  if ('fit' in mode) {
    const moments = await accumulate(output, parts, sliceRows);
    millis.covariance = performance.now() - started;
    const fit = fitPca(moments, mode.fit);
    millis.eigen = performance.now() - started - millis.covariance;
    model = { id: runId, createdAt: new Date().toISOString(), source, selection: mode.fit, ...fit };
    await output.write(pcaModelKey(model.id), encodePcaModel(model));
  } else {
    model = mode.apply;
    if (model.source.modelId !== source.modelId) {
      throw new PcaError(
        `the PCA model ${model.id} was fitted on vectors of ${model.source.modelId}; run ${runId} has vectors of ${source.modelId}`,
      );
    }
    // The output keeps a copy of every model its partitions were reduced with.
    if (mode.from !== output.locationOf(pcaModelKey(model.id))) await output.write(pcaModelKey(model.id), encodePcaModel(model));
  }

  const projectStarted = performance.now();
  let rows = 0;
  const partition = pcaPartitionPrefix(model.id);
  const written = new Set<string>();
  for (const part of parts) {
    const key = partition + part.key.slice(featuresPrefix.length);
    rows += await reducePart(output, part, key, model, sliceRows);
    written.add(key);
  }
  // A retried run whose reducer wrote fewer parts must not leave the previous attempt's extra ones behind.
  const stale = (await listParts(output, partition, runPartPattern(runId))).map((p) => p.key).filter((k) => !written.has(k));
  await output.remove(stale);
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

async function accumulate(output: Storage, parts: readonly PartFile[], sliceRows: number): Promise<ScatterAccumulator> {
  let moments: ScatterAccumulator | undefined;
  for (const part of parts) {
    for await (const slice of readRowSlices(output, part, ['features'], sliceRows)) {
      const vectors = slice.columns.features as ArrayLike<ArrayLike<number>>;
      const rows = Array.from(vectors);
      moments ??= new ScatterAccumulator(rows[0]?.length ?? 0);
      moments.add(rows);
    }
  }
  if (!moments) throw new PcaError(`the feature parts of the run hold no vectors`);
  return moments;
}

/** Reduces one features part into one part of the model's partition; returns its row count. */
async function reducePart(output: Storage, part: PartFile, key: string, model: PcaModel, sliceRows: number): Promise<number> {
  const paths: string[] = [];
  const labels: string[] = [];
  const reduced: Float32Array[] = [];
  for await (const slice of readRowSlices(output, part, ['path', 'label', 'features'], sliceRows)) {
    for (let i = 0; i < slice.rowCount; i++) {
      paths.push(slice.columns.path[i] as string);
      labels.push(slice.columns.label[i] as string);
    }
    reduced.push(applyPca(model, Array.from(slice.columns.features as ArrayLike<ArrayLike<number>>)));
  }
  const k = model.components.length;
  const values = new Float32Array(paths.length * k);
  let offset = 0;
  for (const chunk of reduced) {
    values.set(chunk, offset);
    offset += chunk.length;
  }
  const { metadata } = await readFooter(output, part);
  await output.write(
    key,
    encodeParquet(
      { path: vectorFromArray(paths, new Utf8()), label: vectorFromArray(labels, new Utf8()), pca: float32ListVector(values, k) },
      {
        metadata: {
          ...metadata,
          'featurize.pca_model_id': model.id,
          'featurize.pca_model': pcaModelKey(model.id),
          'featurize.pca_components': String(k),
        },
      },
    ),
  );
  return paths.length;
}
