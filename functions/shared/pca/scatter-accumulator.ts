/**
 * The mean and covariance of a stream of vectors, in float64, one chunk (a slice of a row group) at a time:
 * memory is the width² matrix plus one chunk, whatever the number of rows.
 *
 * Chunks are merged with the pairwise update of Chan, Golub and LeVeque (1979): a chunk is centred on its
 * own mean (exact two-pass within the chunk, which is in memory), its scatter Σ(x − x̄)(x − x̄)ᵀ is added,
 * and the shift between the running mean and the chunk's mean is corrected by δδᵀ·n_a·n_b/(n_a + n_b).
 * The one-pass textbook form Σxxᵀ/n − x̄x̄ᵀ subtracts two large, nearly equal numbers; MobileNetV2 features
 * are all ≥ 0 with means comparable to their spread, so it would lose digits that this form keeps.
 * The matrix is symmetric: only its upper triangle is computed, and mirrored once at the end.
 */
import { PcaError } from '../errors.ts';

export class ScatterAccumulator {
  readonly width: number;
  count = 0;
  readonly mean: Float64Array;
  /** Σ(x − mean)(x − mean)ᵀ, row-major width × width; only the upper triangle (column ≥ row) is maintained. */
  readonly scatter: Float64Array;

  constructor(width: number) {
    this.width = width;
    this.mean = new Float64Array(width);
    this.scatter = new Float64Array(width * width);
  }

  /** Adds a chunk of vectors, each `width` long. */
  add(rows: readonly ArrayLike<number>[]): void {
    const m = rows.length;
    if (m === 0) return;
    const d = this.width;
    const chunkMean = new Float64Array(d);
    for (const row of rows) {
      if (row.length !== d) throw new PcaError(`a vector of ${row.length} values, expected ${d}`);
      for (let i = 0; i < d; i++) chunkMean[i]! += row[i]!;
    }
    for (let i = 0; i < d; i++) chunkMean[i]! /= m;
    // A NaN or an infinity anywhere in the chunk shows in its sum; the eigensolver must never see one.
    if (!chunkMean.every(Number.isFinite)) throw new PcaError('non-finite values (NaN or infinity) among the vectors');

    // Centred chunk, feature-major (feature i's m values contiguous) so that each entry of the scatter is a
    // dot product of two contiguous runs. An odd width gets one zero column so the 2×2 blocks tile it.
    const padded = d + (d & 1);
    const centred = new Float64Array(padded * m);
    rows.forEach((row, r) => {
      for (let i = 0; i < d; i++) centred[i * m + r] = row[i]! - chunkMean[i]!;
    });
    addUpperScatter(centred, padded, m, this.scatter, d);
    this.shiftTo(m, chunkMean);
  }

  /**
   * Adds the moments of other vectors (another part's accumulator): their scatter, then the same pairwise
   * correction `add` applies to a chunk. Merging the parts' moments in any grouping gives the moments of all
   * their rows, up to rounding.
   */
  merge(other: ScatterAccumulator): void {
    if (other.width !== this.width) throw new PcaError(`moments of vectors of ${other.width} values, expected ${this.width}`);
    if (other.count === 0) return;
    const d = this.width;
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) this.scatter[i * d + j]! += other.scatter[i * d + j]!;
    }
    this.shiftTo(other.count, other.mean);
  }

  /**
   * Counts m more vectors of mean `addedMean` whose scatter (about their own mean) is already added: the running
   * mean moves, and the scatter gains δδᵀ·n_a·m/(n_a + m), δ the difference of the two means.
   */
  private shiftTo(m: number, addedMean: ArrayLike<number>): void {
    const d = this.width;
    const before = this.count;
    this.count += m;
    const weight = (before * m) / this.count;
    const delta = Float64Array.from({ length: d }, (_, i) => addedMean[i]! - this.mean[i]!);
    if (weight > 0) {
      for (let i = 0; i < d; i++) {
        const scaled = delta[i]! * weight;
        const offset = i * d;
        for (let j = i; j < d; j++) this.scatter[offset + j]! += scaled * delta[j]!;
      }
    }
    for (let i = 0; i < d; i++) this.mean[i]! += (delta[i]! * m) / this.count;
  }

  /**
   * The moments as bytes (`runs/<runId>/reduce/moments/NNNNN.bin`): float64 in the platform's order (little-endian
   * on every platform Node.js and Lambda run), `[width, count, mean (width), scatter's upper triangle row by row
   * (width·(width + 1)/2)]`: exact, 6.6 MB at width 1280.
   */
  toBytes(): Uint8Array {
    const d = this.width;
    const values = new Float64Array(2 + d + (d * (d + 1)) / 2);
    values[0] = d;
    values[1] = this.count;
    values.set(this.mean, 2);
    let offset = 2 + d;
    for (let i = 0; i < d; i++) {
      values.set(this.scatter.subarray(i * d + i, (i + 1) * d), offset);
      offset += d - i;
    }
    return new Uint8Array(values.buffer);
  }

  /** Moments written by toBytes; `where` names them in the error a malformed object gets. */
  static fromBytes(bytes: Uint8Array, where: string): ScatterAccumulator {
    // A copy: the bytes read need not start on an 8-byte boundary.
    const values = bytes.byteLength % 8 === 0 ? new Float64Array(bytes.slice().buffer) : new Float64Array(0);
    const d = values[0] ?? 0;
    const count = values[1] ?? -1;
    if (!(Number.isInteger(d) && d > 0 && values.length === 2 + d + (d * (d + 1)) / 2 && Number.isInteger(count) && count >= 0)) {
      throw new PcaError(`${where} is not the scatter moments of a part (${bytes.byteLength} bytes)`);
    }
    const moments = new ScatterAccumulator(d);
    moments.count = count;
    moments.mean.set(values.subarray(2, 2 + d));
    let offset = 2 + d;
    for (let i = 0; i < d; i++) {
      moments.scatter.set(values.subarray(offset, offset + d - i), i * d + i);
      offset += d - i;
    }
    return moments;
  }

  /** The sample covariance (denominator n − 1, as numpy.cov and scikit-learn), full and symmetric. */
  covariance(): Float64Array {
    if (this.count < 2) throw new PcaError(`PCA needs at least 2 vectors, the run has ${this.count}`);
    const d = this.width;
    const covariance = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const value = this.scatter[i * d + j]! / (this.count - 1);
        covariance[i * d + j] = value;
        covariance[j * d + i] = value;
      }
    }
    return covariance;
  }
}

/**
 * scatter[i][j] += Σ_r centred[i][r]·centred[j][r] for j ≥ i (i, j < width), in 2×2 blocks: four running
 * sums share each pair of loads, about twice as fast as one dot product at a time.
 */
function addUpperScatter(centred: Float64Array, padded: number, m: number, scatter: Float64Array, width: number): void {
  const add = (i: number, j: number, value: number) => {
    if (i < width && j < width && j >= i) scatter[i * width + j]! += value;
  };
  for (let i = 0; i < padded; i += 2) {
    const a0 = i * m;
    const a1 = a0 + m;
    for (let j = i; j < padded; j += 2) {
      const b0 = j * m;
      const b1 = b0 + m;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let r = 0; r < m; r++) {
        const x0 = centred[a0 + r]!;
        const x1 = centred[a1 + r]!;
        const y0 = centred[b0 + r]!;
        const y1 = centred[b1 + r]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      add(i, j, s00);
      add(i, j + 1, s01);
      add(i + 1, j, s10);
      add(i + 1, j + 1, s11);
    }
  }
}
