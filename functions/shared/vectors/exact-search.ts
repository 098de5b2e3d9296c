/**
 * Exact cosine search over unit vectors held in one Float32Array: the reference every faster search (the LanceDB
 * index) is measured against, and the search `evaluate` uses, whose figures must be exact.
 *
 * Cosine similarity of unit vectors is their dot product: every query's with every base row, computed a block at
 * a time by a matrix product (dot-products.ts), then scanned for each query's k best.
 */
import { dotProducts } from './dot-products.ts';

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

/** Blocks of queries and of base rows: their products, 1,024 × 4,096 floats (16 MB), are scanned for the top k. */
const queryBlockRows = 1024;
const baseBlockRows = 4096;

/** The `k` most similar base rows to each query row, most similar first (ties: the lower row first). */
export async function exactNeighbours(
  base: VectorMatrix,
  queries: VectorMatrix,
  k: number,
  options: SearchOptions = {},
): Promise<Neighbour[][]> {
  if (base.dimension !== queries.dimension) {
    throw new RangeError(`queries have ${queries.dimension} values, the base ${base.dimension}`);
  }
  const { dimension } = base;
  const { candidates, skip } = options;
  const candidateCount = candidates?.length ?? base.count;
  const tops = Array.from({ length: queries.count }, () => new TopK(k));
  for (let c0 = 0; c0 < candidateCount; c0 += baseBlockRows) {
    const c1 = Math.min(candidateCount, c0 + baseBlockRows);
    const block = candidates ? selectRows(base, candidates.slice(c0, c1)).data : base.data.subarray(c0 * dimension, c1 * dimension);
    for (let q0 = 0; q0 < queries.count; q0 += queryBlockRows) {
      const q1 = Math.min(queries.count, q0 + queryBlockRows);
      const products = await dotProducts(queries.data.subarray(q0 * dimension, q1 * dimension), q1 - q0, block, c1 - c0, dimension);
      for (let q = q0; q < q1; q++) {
        const top = tops[q]!;
        const offset = (q - q0) * (c1 - c0) - c0;
        for (let c = c0; c < c1; c++) {
          const row = candidates ? candidates[c]! : c;
          if (skip?.(q, row)) continue;
          top.offer(row, products[offset + c]!);
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
