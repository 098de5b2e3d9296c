/**
 * The first step of a run's PCA: fit a model (or take a saved one), then plan the reduction that the PcaParts
 * map fans out, a part per child. Runs under the output's lease (the handler takes it), so that features/ holds
 * still while it is listed.
 *
 *   fit:  the moments each ReduceParts child wrote of its part (runs/<runId>/reduce/moments/, see
 *         scatter-accumulator.ts) merged one object at a time: memory is two width² matrices, whatever the run's
 *         size; eigendecomposition; the model written to pca/<runId>/model.json. The fit is over the run's rows
 *         as staged (before publishing).
 *   plan: this run's parts in features/, and the older parts of the model's partition whose source publishing
 *         rewrote since (partitionChanges), each with the version of the features part listed now:
 *         runs/<runId>/pca/plan.json, a JSON array the map's ItemReader reads.
 *
 * Knows nothing of Lambda.
 */

import pMap from 'p-map';
import type { PcaPlan, PcaPlanItem } from '../../statemachine/contracts.ts';
import { listParts, openPart, partKeyValues, partMetadataKeys, partVersion } from '../shared/dataset/feature-parts.ts';
import { PcaError } from '../shared/errors.ts';
import { encodePcaModel, keptVarianceShare, type PcaModel, type PcaSelection, type PcaSource } from '../shared/pca/pca-model.ts';
import { ScatterAccumulator } from '../shared/pca/scatter-accumulator.ts';
import {
  featuresPrefix,
  intermediateTags,
  partMomentsIndex,
  partMomentsPrefix,
  partRunId,
  pcaModelKey,
  pcaPartitionPrefix,
  pcaPlanKey,
} from '../shared/run-layout.ts';
import { normalizePrefix, type Storage, type StoredObject } from '../shared/storage/storage.ts';
import { fitPca } from './fit-pca.ts';

export interface PcaPlanRequest {
  runId: string;
  /** The run's output location: features/ and the moments are read, pca/ and the plan written. */
  output: Storage;
  /** The output location as the state machine names it: the plan's full key for the map's ItemReader. */
  outputLocation: { bucket: string; prefix?: string };
  /** Fit a model on this run's vectors, or apply a saved one (with the location it was read from). */
  mode: { fit: PcaSelection } | { apply: PcaModel; from: string };
}

export async function planPca(request: PcaPlanRequest): Promise<PcaPlan> {
  const startedMs = Date.now();
  const started = performance.now();
  const { runId, output, mode } = request;
  const featureParts = await listParts(output);
  const parts = featureParts.filter((object) => partRunId(object.key) === runId);
  // Nothing to fit on is an error; nothing to apply a saved model to (every image of the run failed) is not.
  if (parts.length === 0 && 'fit' in mode) {
    throw new PcaError(`run ${runId} has no feature parts under ${output.locationOf(featuresPrefix)}`);
  }
  const first = parts[0];
  const source = first ? sourceOf(runId, partKeyValues(await openPart(output, first))) : undefined;

  let model: PcaModel;
  const millis = { covariance: 0, eigen: 0, plan: 0 };
  if ('fit' in mode) {
    const moments = await mergedMoments(output, runId);
    await checkMomentsCount(output, runId, moments.count, parts);
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
    // The output keeps a copy of every model its partitions were reduced with (PcaPart reads it there).
    if (mode.from !== output.locationOf(pcaModelKey(model.id))) await output.write(pcaModelKey(model.id), encodePcaModel(model));
  }

  const planStarted = performance.now();
  const rewritten = await rewrittenSources(output, pcaPartitionPrefix(model.id), featureParts, runId);
  const items: PcaPlanItem[] = [...parts, ...rewritten].map(partVersion);
  await output.write(pcaPlanKey(runId), JSON.stringify(items), { tags: intermediateTags });
  millis.plan = performance.now() - planStarted;

  return {
    runId,
    modelId: model.id,
    model: pcaModelKey(model.id),
    fitted: 'fit' in mode,
    components: model.components.length,
    varianceShare: keptVarianceShare(model),
    plan: { bucket: request.outputLocation.bucket, key: normalizePrefix(request.outputLocation.prefix) + pcaPlanKey(runId) },
    parts: parts.length,
    rewrittenParts: rewritten.length,
    startedMs,
    millis: { covariance: Math.round(millis.covariance), eigen: Math.round(millis.eigen), plan: Math.round(millis.plan) },
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

/**
 * The moments of every part of the run, merged one object at a time. FinishReduce leaves exactly one object per
 * part (those of groups without a part, or beyond the plan, an earlier attempt's, are removed).
 */
async function mergedMoments(output: Storage, runId: string): Promise<ScatterAccumulator> {
  let merged: ScatterAccumulator | undefined;
  for await (const object of output.list(partMomentsPrefix(runId))) {
    if (partMomentsIndex(runId, object.key) === undefined) continue;
    const moments = ScatterAccumulator.fromBytes(await output.read(object.key), output.locationOf(object.key));
    merged ??= new ScatterAccumulator(moments.width);
    merged.merge(moments);
  }
  if (!merged) {
    throw new PcaError(
      `run ${runId} has no part moments under ${output.locationOf(partMomentsPrefix(runId))}: its reduce did not fit PCA (was pca set when it started?)`,
    );
  }
  return merged;
}

/**
 * The merged moments must count exactly the rows of the run's parts: a moments object missing, left over or
 * written twice would fit the model on other vectors than the dataset's, silently.
 */
async function checkMomentsCount(output: Storage, runId: string, momentsRows: number, parts: readonly StoredObject[]): Promise<void> {
  const footers = await pMap(parts, (object) => openPart(output, object), { concurrency: 16 });
  const partRows = footers.reduce((sum, part) => sum + Number(part.metadata.num_rows), 0);
  if (momentsRows !== partRows) {
    throw new PcaError(
      `run ${runId}: the part moments under ${output.locationOf(partMomentsPrefix(runId))} count ${momentsRows} rows, its ${parts.length} parts hold ${partRows}: not fitting a model on other vectors than the dataset's`,
    );
  }
}

/**
 * Older parts whose reduced twin in the model's partition is stale: publishing rewrote the source since (an
 * incremental run took out images it re-processed), as the source's rewritten_at shows against the copy of it
 * the twin carries. Twins whose source is gone are PublishPca's to remove, under the lease it holds then.
 */
async function rewrittenSources(
  output: Storage,
  partition: string,
  featureParts: readonly StoredObject[],
  runId: string,
): Promise<StoredObject[]> {
  const sources = new Map(featureParts.map((object) => [object.key.slice(featuresPrefix.length), object]));
  const rewritten: StoredObject[] = [];
  for (const reduced of await listParts(output, partition)) {
    const source = sources.get(reduced.key.slice(partition.length));
    if (!source || partRunId(source.key) === runId) continue;
    const [now, then] = await Promise.all([openPart(output, source), openPart(output, reduced)]);
    if (partKeyValues(now)[partMetadataKeys.rewrittenAt] !== partKeyValues(then)[partMetadataKeys.rewrittenAt]) rewritten.push(source);
  }
  return rewritten;
}
