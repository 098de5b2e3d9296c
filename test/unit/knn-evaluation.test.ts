import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../functions/report/reservoir-sample.ts';
import type { DatasetVectors, ImageRow } from '../../functions/shared/vectors/dataset-vectors.ts';
import { exactNeighbours, normalizeRows, selectRows } from '../../functions/shared/vectors/exact-search.ts';
import { evaluateKnn, majorityLabel } from '../../functions/shared/vectors/knn-evaluation.ts';

function dataset(rows: (ImageRow & { vector: number[] })[]): DatasetVectors {
  const dimension = rows[0]!.vector.length;
  return {
    source: { modelId: 'm', engine: 'e', preprocessing: 'p' },
    rows: rows.map(({ path, label, sha256 }) => ({ path, label, sha256 })),
    matrix: normalizeRows(Float32Array.from(rows.flatMap((row) => row.vector)), dimension),
  };
}

describe('exact cosine search', () => {
  it('finds what a float64 scan of every pair finds, with skips and candidates', async () => {
    const random = seededRandom(7);
    const dimension = 37;
    const raw = Array.from({ length: 301 }, () => Array.from({ length: dimension }, () => random() - 0.3));
    const matrix = normalizeRows(Float32Array.from(raw.flat()), dimension);
    const candidates = raw.map((_, i) => i).filter((i) => i % 3 !== 0);
    const skip = (query: number, base: number) => (query + base) % 11 === 0;
    const found = await exactNeighbours(matrix, matrix, 7, { candidates, skip });

    const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    raw.forEach((q, qi) => {
      const expected = candidates
        .filter((c) => !skip(qi, c))
        .map((c) => ({ index: c, similarity: q.reduce((s, x, i) => s + x * raw[c]![i]!, 0) / norm(q) / norm(raw[c]!) }))
        .sort((a, b) => b.similarity - a.similarity)
        .slice(0, 7);
      expect(found[qi]!.map((n) => n.index)).toEqual(expected.map((n) => n.index));
      found[qi]!.forEach((n, i) => {
        expect(n.similarity).toBeCloseTo(expected[i]!.similarity, 5);
      });
    });
  });

  it('searches across blocks of queries and of base rows as one scan', async () => {
    const random = seededRandom(11);
    const dimension = 8;
    const raw = Array.from({ length: 4500 }, () => Array.from({ length: dimension }, () => random() - 0.5));
    const matrix = normalizeRows(Float32Array.from(raw.flat()), dimension);
    const queries = selectRows(
      matrix,
      Array.from({ length: 1100 }, (_, i) => i * 4),
    );
    const found = await exactNeighbours(matrix, queries, 3);
    for (let q = 0; q < queries.count; q++) {
      const query = queries.data.subarray(q * dimension, (q + 1) * dimension);
      const best = Array.from({ length: matrix.count }, (_, row) => ({
        index: row,
        similarity: query.reduce((sum, x, i) => sum + x * matrix.data[row * dimension + i]!, 0),
      }))
        .sort((a, b) => b.similarity - a.similarity)
        .slice(0, 3);
      expect(found[q]!.map((n) => n.index)).toEqual(best.map((n) => n.index));
    }
  });

  it('gives an all-zero vector similarity 0 to everything', async () => {
    const matrix = normalizeRows(Float32Array.from([0, 0, 3, 4]), 2);
    expect((await exactNeighbours(matrix, matrix, 2))[0]).toEqual([
      { index: 0, similarity: 0 },
      { index: 1, similarity: 0 },
    ]);
  });
});

describe('kNN evaluation', () => {
  it('leaves one out, and its copies, as computed by hand', async () => {
    // Cosines: A1·A2 0.8, A1·B2 0.6, A1·B1 0, A2·B2 0.96, A2·B1 0.6, B1·B2 0.8; A3 is a copy of A1 (same hash).
    const result = await evaluateKnn(
      dataset([
        { path: '/d/A/1.jpg', label: 'A', sha256: 'a1', vector: [1, 0] },
        { path: '/d/A/2.jpg', label: 'A', sha256: 'a2', vector: [0.8, 0.6] },
        { path: '/d/B/1.jpg', label: 'B', sha256: 'b1', vector: [0, 2] },
        { path: '/d/B/2.jpg', label: 'B', sha256: 'b2', vector: [0.6, 0.8] },
        { path: '/d/A/3.jpg', label: 'A', sha256: 'a1', vector: [3, 0] },
      ]),
    );
    // Nearest: A1→A2, A2→B2 (wrong), B1→B2, B2→A2 (wrong), A3→A2. Votes: A1 and A3 see A2, B2, B1 (B wins);
    // A2 sees B2, A1, A3, B1 (2–2, B2 nearer: B); B1 sees B2, A2, A1, A3 (A); B2 sees A2, B1, A1, A3 (A).
    expect(result).toEqual({
      mode: 'leave-one-out',
      images: 5,
      top1: 3 / 5,
      vote5: 0,
      perLabel: { A: { images: 3, top1: 2 / 3 }, B: { images: 2, top1: 1 / 2 } },
      confusions: [
        { label: 'A', predicted: 'B', images: 1 },
        { label: 'B', predicted: 'A', images: 1 },
      ],
    });
  });

  it("tests Test images against Training ones when the paths carry Fruits-360's split", async () => {
    const result = await evaluateKnn(
      dataset([
        { path: 's3://b/fruits/Training/A/1.jpg', label: 'A', sha256: '1', vector: [1, 0] },
        { path: 's3://b/fruits/Training/B/1.jpg', label: 'B', sha256: '2', vector: [0, 1] },
        { path: 's3://b/fruits/Test/A/2.jpg', label: 'A', sha256: '3', vector: [0.8, 0.6] },
        { path: 's3://b/fruits/Test/B/2.jpg', label: 'B', sha256: '4', vector: [0.6, 0.8] },
        { path: 's3://b/fruits/Test/A/3.jpg', label: 'A', sha256: '5', vector: [0.5, 0.866] },
        { path: 's3://b/fruits/other/A/4.jpg', label: 'A', sha256: '6', vector: [1, 0] },
      ]),
    );
    // Test A/2: A 0.8, B 0.6 (right; the 1–1 vote goes to the nearer A); B/2: right; A/3: B 0.866 (wrong).
    expect(result).toMatchObject({ mode: 'split', images: 3, top1: 2 / 3, vote5: 2 / 3 });
    expect(result?.perLabel).toEqual({ A: { images: 2, top1: 0.5 }, B: { images: 1, top1: 1 } });
    expect(result?.confusions).toEqual([{ label: 'A', predicted: 'B', images: 1 }]);
  });

  it('has nothing to evaluate when every image is a copy of the others', async () => {
    const rows = [0, 1].map((i) => ({ path: `/d/A/${i}.jpg`, label: 'A', sha256: 'same', vector: [1, 0] }));
    expect(await evaluateKnn(dataset(rows))).toBeUndefined();
  });

  it('breaks a tie of votes for the nearer label', () => {
    expect(majorityLabel(['B', 'A', 'A', 'B', 'C'])).toBe('B');
    expect(majorityLabel(['B', 'A', 'A', 'C', 'D'])).toBe('A');
  });
});
