/**
 * The PCA models of a dataset location and the reduced vectors each one has produced, for `featurize inspect`
 * and anyone asking "which reductions exist here?". Reads the models and the parts' footers only.
 */
import { listParts, openPart } from '../dataset/feature-parts.ts';
import { partRunId, pcaModelKey, pcaModelsPrefix, pcaPartitionPrefix } from '../run-layout.ts';
import type { Storage } from '../storage/storage.ts';
import { decodePcaModel, keptVarianceShare, type PcaSelection } from './pca-model.ts';

export interface PcaSummary {
  modelId: string;
  /** Full location of model.json. */
  model: string;
  createdAt: string;
  /** The run the model was fitted on, and on how many of its vectors. */
  fittedOn: { runId: string; samples: number };
  /** The feature extractor whose vectors it reduces. */
  sourceModelId: string;
  selection: PcaSelection;
  features: number;
  components: number;
  varianceShare: number;
  /** The model's partition of features-pca/: its parts, rows, and the runs they come from. */
  reduced: { location: string; parts: number; rows: number; runs: string[] };
}

/** Every model under `pca/`, newest first; an empty list when PCA never ran here. */
export async function pcaSummaries(output: Storage): Promise<PcaSummary[]> {
  const summaries: PcaSummary[] = [];
  for await (const object of output.list(pcaModelsPrefix)) {
    const folder = object.key.slice(pcaModelsPrefix.length).split('/')[0];
    if (!folder || object.key !== pcaModelKey(folder)) continue;
    const model = decodePcaModel(Buffer.from(await output.read(object.key)).toString('utf8'), output.locationOf(object.key));
    const prefix = pcaPartitionPrefix(model.id);
    const parts = await listParts(output, prefix);
    let rows = 0;
    for (const part of parts) rows += Number((await openPart(output, part)).metadata.num_rows);
    const runs = new Set(parts.map((part) => partRunId(part.key, prefix) ?? part.key));
    summaries.push({
      modelId: model.id,
      model: output.locationOf(object.key),
      createdAt: model.createdAt,
      fittedOn: { runId: model.source.runId, samples: model.samples },
      sourceModelId: model.source.modelId,
      selection: model.selection,
      features: model.mean.length,
      components: model.components.length,
      varianceShare: keptVarianceShare(model),
      reduced: { location: output.locationOf(prefix), parts: parts.length, rows, runs: [...runs].sort() },
    });
  }
  return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** The summaries as `featurize inspect` prints them: one block per model, aligned like its other lines. */
export function pcaSummaryLines(summaries: readonly PcaSummary[]): string[] {
  if (summaries.length === 0) return ['pca       none (run with --pca to fit one)'];
  return summaries.flatMap((s, i) => [
    `${i === 0 ? 'pca' : '   '}       ${s.modelId}: ${s.components} of ${s.features} components, ${(s.varianceShare * 100).toFixed(1)}% of the variance`,
    `            fitted on ${s.fittedOn.samples} vectors of run ${s.fittedOn.runId} (${s.sourceModelId}), ${s.createdAt}`,
    `            model   ${s.model}`,
    `            reduced ${s.reduced.location} (${s.reduced.parts} parts, ${s.reduced.rows} rows, runs ${s.reduced.runs.join(', ') || 'none'})`,
  ]);
}
