/**
 * A fitted PCA: what is needed to reduce new vectors without refitting, and where it came from.
 *
 * Stored as one JSON file (`pca/<modelId>/model.json`, format `featurize-pca/1`) so that any language loads it
 * without a library: numbers are float64 printed in their shortest round-trip form, so a model read back
 * (here or with Python's json) reduces vectors bit for bit as the run did. The field names follow
 * scikit-learn's PCA attributes (mean_, components_, explained_variance_, explained_variance_ratio_), in
 * camelCase; `reduce(x) = (x − mean) · componentsᵀ`, no whitening, as sklearn's `transform`.
 */
import { z } from 'zod';
import { PcaError } from '../errors.ts';
import { parseJsonDocument } from '../json-document.ts';

export const pcaModelFormat = 'featurize-pca/1';

/** How many components are kept: the fewest explaining a share of the variance, or a fixed number. */
export type PcaSelection = { varianceShare: number } | { components: number };

/** The vectors a model was fitted on: the run, and the feature extractor that produced them. */
export interface PcaSource {
  runId: string;
  /** Feature extractor id (`name@sha256-prefix` of its model.json); a model only applies to its vectors. */
  modelId: string;
  engine: string;
  preprocessing: string;
}

export interface PcaModel {
  /** The fitting run's id: the model's folder under `pca/` and its partition of `features-pca/`. */
  id: string;
  createdAt: string;
  source: PcaSource;
  selection: PcaSelection;
  /** Vectors the model was fitted on. */
  samples: number;
  mean: Float64Array;
  /** The kept principal axes, unit length, by decreasing variance; each one `mean.length` long. */
  components: Float64Array[];
  /** Every eigenvalue of the covariance (the variance along each axis), decreasing: the full spectrum. */
  eigenvalues: Float64Array;
}

export function totalVariance(model: Pick<PcaModel, 'eigenvalues'>): number {
  return model.eigenvalues.reduce((sum, value) => sum + value, 0);
}

/** The share of the total variance along each axis of the full spectrum. */
export function explainedVarianceRatio(model: Pick<PcaModel, 'eigenvalues'>): Float64Array {
  const total = totalVariance(model);
  return model.eigenvalues.map((value) => value / total);
}

/** The share of the total variance the kept components explain. */
export function keptVarianceShare(model: Pick<PcaModel, 'eigenvalues' | 'components'>): number {
  return explainedVarianceRatio(model)
    .slice(0, model.components.length)
    .reduce((sum, value) => sum + value, 0);
}

/**
 * Reduces vectors with a fitted model: row r of the result (k = components values, flat, row after row) is
 * (vectors[r] − mean) · componentsᵀ, computed in float64 and stored as float32 like the features.
 */
export function applyPca(model: Pick<PcaModel, 'mean' | 'components'>, vectors: readonly ArrayLike<number>[]): Float32Array {
  const width = model.mean.length;
  const k = model.components.length;
  const reduced = new Float32Array(vectors.length * k);
  const centred = new Float64Array(width);
  vectors.forEach((vector, r) => {
    if (vector.length !== width) throw new PcaError(`a vector of ${vector.length} values, the model expects ${width}`);
    for (let i = 0; i < width; i++) centred[i] = vector[i]! - model.mean[i]!;
    for (let c = 0; c < k; c++) {
      const axis = model.components[c]!;
      let sum = 0;
      for (let i = 0; i < width; i++) sum += centred[i]! * axis[i]!;
      reduced[r * k + c] = sum;
    }
  });
  return reduced;
}

/** The model as the JSON document described in the README ("Dimension reduction (PCA)"). */
export function encodePcaModel(model: PcaModel): string {
  const ratio = explainedVarianceRatio(model);
  const k = model.components.length;
  return JSON.stringify({
    format: pcaModelFormat,
    id: model.id,
    createdAt: model.createdAt,
    source: model.source,
    selection: model.selection,
    nSamples: model.samples,
    nFeatures: model.mean.length,
    nComponents: k,
    totalVariance: totalVariance(model),
    explainedVariance: Array.from(model.eigenvalues.subarray(0, k)),
    explainedVarianceRatio: Array.from(ratio.subarray(0, k)),
    eigenvalues: Array.from(model.eigenvalues),
    mean: Array.from(model.mean),
    components: model.components.map((axis) => Array.from(axis)),
  });
}

const finite = z.number().refine(Number.isFinite, 'a finite number');

const modelDocumentSchema = z.object({
  format: z.literal(pcaModelFormat),
  id: z.string().min(1),
  createdAt: z.string(),
  source: z.object({ runId: z.string(), modelId: z.string(), engine: z.string(), preprocessing: z.string() }),
  selection: z.union([z.object({ varianceShare: z.number() }), z.object({ components: z.number().int() })]),
  nSamples: z.number().int().nonnegative(),
  eigenvalues: z.array(finite),
  mean: z.array(finite).min(1),
  components: z.array(z.array(finite)).min(1),
});

/** Parses and checks a model document; anything inconsistent is a PcaError naming the problem. */
export function decodePcaModel(text: string, location = 'the PCA model'): PcaModel {
  const m = parseJsonDocument(modelDocumentSchema, text, location, { expected: `a ${pcaModelFormat} model`, error: PcaError });
  const width = m.mean.length;
  if (m.components.some((axis) => axis.length !== width) || m.eigenvalues.length < m.components.length) {
    throw new PcaError(`${location} is inconsistent: components must be ${width} long and no more than the eigenvalues`);
  }
  return {
    id: m.id,
    createdAt: m.createdAt,
    source: m.source,
    selection: m.selection,
    samples: m.nSamples,
    mean: Float64Array.from(m.mean),
    components: m.components.map((axis) => Float64Array.from(axis)),
    eigenvalues: Float64Array.from(m.eigenvalues),
  };
}
