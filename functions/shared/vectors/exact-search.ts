/**
 * Exact cosine search over unit vectors held in one Float32Array: the reference every faster search (the LanceDB
 * index) is measured against, and the search `evaluate` uses, whose figures must be exact.
 *
 * Cosine similarity of unit vectors is their dot product. The scan is blocked: a tile of base rows (small enough
 * to stay in cache) is read once for a group of queries, and each base row's values are loaded once for four
 * queries' dot products at a time.
 */

/** `count` vectors of `dimension` floats, row after row, each scaled to unit length (or left all zero). */
export interface VectorMatrix {
  dimension: number;
  count: number;
  data: Float32Array;
}

export interface Neighbour {
  /** Row of the base matrix. */
  index: number;
  /** Cosine similarity, in [-1, 1]. */
  similarity: number;
}

/** Scales each row of `data` to unit length, in place; an all-zero row stays zero (similarity 0 to everything). */
export function normalizeRows(data: Float32Array, dimension: number): VectorMatrix {
  const count = data.length / dimension;
  for (let row = 0; row < count; row++) {
    const start = row * dimension;
    let sum = 0;
    for (let i = start; i < start + dimension; i++) sum += data[i]! * data[i]!;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let i = start; i < start + dimension; i++) data[i]! *= scale;
  }
  return { dimension, count, data };
}

/** The rows of `matrix` at `indices`, as a matrix of their own (already unit length). */
export function selectRows(matrix: VectorMatrix, indices: readonly number[]): VectorMatrix {
  const { dimension } = matrix;
  const data = new Float32Array(indices.length * dimension);
  indices.forEach((row, i) => {
    data.set(matrix.data.subarray(row * dimension, (row + 1) * dimension), i * dimension);
  });
  return { dimension, count: indices.length, data };
}

export interface SearchOptions {
  /** Rows of the base to search (all when absent). */
  candidates?: readonly number[];
  /** Leaves out a base row for one query (the query itself, a copy of its image). */
  skip?: (query: number, base: number) => boolean;
}

const queryGroup = 4;
/** 64 rows of 1280 floats: 320 KB, within a core's L2 cache while a group of queries runs over them. */
const tileBytes = 320 * 1024;

/** The `k` most similar base rows to each query row, most similar first (ties: the lower row first). */
export function exactNeighbours(base: VectorMatrix, queries: VectorMatrix, k: number, options: SearchOptions = {}): Neighbour[][] {
  if (base.dimension !== queries.dimension) {
    throw new RangeError(`queries have ${queries.dimension} values, the base ${base.dimension}`);
  }
  const { dimension } = base;
  const candidates = options.candidates ?? Array.from({ length: base.count }, (_, i) => i);
  const tops = Array.from({ length: queries.count }, () => new TopK(k));
  const tileRows = Math.max(1, Math.floor(tileBytes / (dimension * 4)));
  const b = base.data;
  const q = queries.data;
  const scores = new Float64Array(queryGroup);
  for (let tileStart = 0; tileStart < candidates.length; tileStart += tileRows) {
    const tileEnd = Math.min(candidates.length, tileStart + tileRows);
    for (let q0 = 0; q0 < queries.count; q0 += queryGroup) {
      const inGroup = Math.min(queryGroup, queries.count - q0);
      // Rows past the end of a short group repeat its first query: computed, never recorded.
      const o0 = q0 * dimension;
      const o1 = (q0 + (inGroup > 1 ? 1 : 0)) * dimension;
      const o2 = (q0 + (inGroup > 2 ? 2 : 0)) * dimension;
      const o3 = (q0 + (inGroup > 3 ? 3 : 0)) * dimension;
      for (let c = tileStart; c < tileEnd; c++) {
        const row = candidates[c]!;
        const ob = row * dimension;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let i = 0; i < dimension; i++) {
          const v = b[ob + i]!;
          s0 += v * q[o0 + i]!;
          s1 += v * q[o1 + i]!;
          s2 += v * q[o2 + i]!;
          s3 += v * q[o3 + i]!;
        }
        scores[0] = s0;
        scores[1] = s1;
        scores[2] = s2;
        scores[3] = s3;
        for (let g = 0; g < inGroup; g++) {
          if (options.skip?.(q0 + g, row)) continue;
          tops[q0 + g]!.offer(row, scores[g]!);
        }
      }
    }
  }
  return tops.map((top) => top.sorted());
}

/** The k best (index, similarity) pairs seen, kept sorted in small arrays: k is a handful, not thousands. */
class TopK {
  private readonly indices: number[] = [];
  private readonly similarities: number[] = [];
  private readonly k: number;

  constructor(k: number) {
    this.k = k;
  }

  offer(index: number, similarity: number): void {
    const n = this.similarities.length;
    if (n === this.k && !this.ranksAbove(index, similarity, n - 1)) return;
    let at = n === this.k ? n - 1 : n;
    while (at > 0 && this.ranksAbove(index, similarity, at - 1)) {
      if (at < this.k) {
        this.indices[at] = this.indices[at - 1]!;
        this.similarities[at] = this.similarities[at - 1]!;
      }
      at--;
    }
    this.indices[at] = index;
    this.similarities[at] = similarity;
  }

  sorted(): Neighbour[] {
    return this.indices.map((index, i) => ({ index, similarity: this.similarities[i]! }));
  }

  private ranksAbove(index: number, similarity: number, at: number): boolean {
    const other = this.similarities[at]!;
    return similarity > other || (similarity === other && index < this.indices[at]!);
  }
}
