/**
 * Principal axes from an accumulated covariance.
 *
 * The covariance is symmetric positive semi-definite, so its eigendecomposition is its SVD; ml-matrix's
 * symmetric solver (Householder tridiagonalisation + implicit QL, JAMA's tred2/tql2) is the cheaper of the
 * two (measured on 640×640: 1.6 s against 4.0 s for its SVD) and yields real eigenvalues and orthonormal
 * eigenvectors by construction. An SVD of the data itself would square-root the condition number, but needs
 * every vector in memory; the eigenvalues lost to rounding here are the smallest, far below any kept share.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { PcaError } from '../shared/errors.ts';
import type { PcaSelection } from '../shared/pca/pca-model.ts';
import type { ScatterAccumulator } from '../shared/pca/scatter-accumulator.ts';

export interface PcaFit {
  samples: number;
  mean: Float64Array;
  components: Float64Array[];
  eigenvalues: Float64Array;
}

export function fitPca(moments: ScatterAccumulator, selection: PcaSelection): PcaFit {
  const d = moments.width;
  const decomposition = new EigenvalueDecomposition(Matrix.from1DArray(d, d, moments.covariance()), { assumeSymmetric: true });
  const values = decomposition.realEigenvalues;
  const vectors = decomposition.eigenvectorMatrix;
  const order = values.map((_, i) => i).sort((a, b) => values[b]! - values[a]!);
  // Rounding leaves the null space's eigenvalues a hair below zero; a variance is never negative.
  const eigenvalues = Float64Array.from(order, (i) => Math.max(0, values[i]!));
  const total = eigenvalues.reduce((sum, value) => sum + value, 0);
  if (!(total > 0)) throw new PcaError(`the ${moments.count} vectors are all identical: there is no variance to explain`);

  const k = componentCount(eigenvalues, total, selection, moments.count);
  const components = order.slice(0, k).map((column) => {
    const axis = Float64Array.from({ length: d }, (_, row) => vectors.get(row, column));
    // An eigenvector's sign is arbitrary; fixing it (largest loading positive) makes refits comparable.
    let largest = 0;
    for (let i = 1; i < d; i++) if (Math.abs(axis[i]!) > Math.abs(axis[largest]!)) largest = i;
    return axis[largest]! < 0 ? axis.map((v) => -v) : axis;
  });
  return { samples: moments.count, mean: Float64Array.from(moments.mean), components, eigenvalues };
}

function componentCount(eigenvalues: Float64Array, total: number, selection: PcaSelection, samples: number): number {
  if ('components' in selection) {
    const limit = Math.min(samples, eigenvalues.length);
    if (selection.components > limit) {
      throw new PcaError(
        `${selection.components} components requested, but ${samples} vectors of ${eigenvalues.length} values support at most ${limit}`,
      );
    }
    return selection.components;
  }
  // The tolerance keeps a share of 1 reachable despite the rounding of the running sum.
  const target = selection.varianceShare * total * (1 - 1e-12);
  let cumulative = 0;
  for (let k = 0; k < eigenvalues.length; k++) {
    cumulative += eigenvalues[k]!;
    if (cumulative >= target) return k + 1;
  }
  return eigenvalues.length;
}
