import { describe, expect, it } from 'vitest';
import { fitPca } from '../../functions/pca/fit-pca.ts';
import { seededRandom } from '../../functions/report/reservoir-sample.ts';
import {
  applyPca,
  decodePcaModel,
  encodePcaModel,
  explainedVarianceRatio,
  keptVarianceShare,
  type PcaModel,
  type PcaSelection,
} from '../../functions/shared/pca/pca-model.ts';
import { parsePcaText, pcaDefaultSubstitution, pcaSettingSchema } from '../../functions/shared/pca/pca-setting.ts';
import { ScatterAccumulator } from '../../functions/shared/pca/scatter-accumulator.ts';

const width = 64;

/** Row `row` of the 16×16 Sylvester Hadamard matrix over coordinates offset…offset+15, scaled to unit length. */
function hadamardAxis(row: number, offset: number): Float64Array {
  const axis = new Float64Array(width);
  for (let j = 0; j < 16; j++) {
    let bits = row & j;
    let parity = 0;
    while (bits) {
      parity ^= bits & 1;
      bits >>= 1;
    }
    axis[offset + j] = parity ? -0.25 : 0.25;
  }
  return axis;
}

/**
 * Three orthonormal axes with spreads 8, 4, 2 around a mean, as pairs mean ± spread·axis repeated: the sample
 * mean is exactly the mean and the covariance exactly Σ 2·spread²·axis·axisᵀ·repeats/(n − 1). Every value is
 * a short binary fraction, exact in float32 as in float64.
 */
const planted = (() => {
  const mean = Float64Array.from({ length: width }, (_, i) => (i % 7) + 0.5);
  const axes = [hadamardAxis(3, 0), hadamardAxis(10, 0), hadamardAxis(5, 16)];
  const spreads = [8, 4, 2];
  const repeats = 50;
  const rows: Float64Array[] = [];
  for (let r = 0; r < repeats; r++) {
    axes.forEach((axis, j) => {
      for (const sign of [1, -1]) rows.push(mean.map((m, i) => m + sign * spreads[j]! * axis[i]!));
    });
  }
  const variances = spreads.map((s) => (2 * s * s * repeats) / (rows.length - 1));
  return { mean, axes, variances, rows };
})();

function accumulate(rows: readonly ArrayLike<number>[], chunkSizes: readonly number[] = [rows.length]): ScatterAccumulator {
  const moments = new ScatterAccumulator(rows[0]!.length);
  let start = 0;
  for (let c = 0; start < rows.length; c++) {
    const size = chunkSizes[c % chunkSizes.length]!;
    moments.add(rows.slice(start, start + size));
    start += size;
  }
  return moments;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function modelOf(fit: ReturnType<typeof fitPca>, selection: PcaSelection): PcaModel {
  const source = { runId: 'r', modelId: 'm@1', engine: 'tfjs/wasm', preprocessing: '{}' };
  return { id: 'r', createdAt: '2026-01-01T00:00:00.000Z', source, selection, ...fit };
}

describe('PCA fit', () => {
  it('recovers planted principal axes (up to sign) and their variances, and nothing else', () => {
    const fit = fitPca(accumulate(planted.rows), { components: 3 });
    fit.components.forEach((axis, j) => {
      expect(Math.abs(dot(axis, planted.axes[j]!))).toBeCloseTo(1, 12);
    });
    fit.components.forEach((axis) => {
      expect(dot(axis, axis)).toBeCloseTo(1, 12);
    });
    expect(Array.from(fit.eigenvalues.subarray(0, 3))).toEqual(planted.variances.map((v) => expect.closeTo(v, 10)));
    expect(Math.max(...fit.eigenvalues.subarray(3))).toBeLessThan(1e-12);
    expect(Array.from(fit.mean)).toEqual(Array.from(planted.mean));
  });

  it('keeps the fewest components that reach the variance share, or exactly the number asked for', () => {
    const moments = accumulate(planted.rows);
    const [a, b] = planted.variances as [number, number, number];
    const total = planted.variances.reduce((s, v) => s + v, 0);
    expect((a + b) / total).toBeCloseTo(0.9524, 4);
    expect(fitPca(moments, { varianceShare: 0.95 }).components).toHaveLength(2);
    expect(fitPca(moments, { varianceShare: 0.96 }).components).toHaveLength(3);
    expect(fitPca(moments, { varianceShare: 0.5 }).components).toHaveLength(1);
    expect(fitPca(moments, { varianceShare: 1 }).components).toHaveLength(3);
    expect(fitPca(moments, { components: 5 }).components).toHaveLength(5);
  });

  it('gives a non-decreasing cumulative share that ends at 1', () => {
    const random = seededRandom(7);
    const rows = Array.from({ length: 200 }, () => Float64Array.from({ length: width }, (_, i) => random() * (1 + (i % 5))));
    const fit = fitPca(accumulate(rows), { varianceShare: 0.95 });
    const ratio = explainedVarianceRatio(fit);
    let cumulative = 0;
    for (const share of ratio) {
      expect(share).toBeGreaterThanOrEqual(0);
      cumulative += share;
    }
    expect(cumulative).toBeCloseTo(1, 12);
    expect([...fit.eigenvalues]).toEqual([...fit.eigenvalues].sort((x, y) => y - x));
  });

  it('turns each axis so that its largest loading is positive', () => {
    const random = seededRandom(3);
    const rows = Array.from({ length: 100 }, () => Float64Array.from({ length: width }, () => random()));
    for (const axis of fitPca(accumulate(rows), { components: 10 }).components) {
      const largest = axis.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
      expect(largest).toBeGreaterThan(0);
    }
  });

  it('refuses fewer than two vectors, more components than the data supports, and vectors without variance', () => {
    expect(() => fitPca(accumulate(planted.rows.slice(0, 1)), { components: 1 })).toThrow(/at least 2 vectors/);
    expect(() => fitPca(accumulate(planted.rows.slice(0, 10)), { components: 11 })).toThrow(/at most 10/);
    const same = Array.from({ length: 5 }, () => planted.mean);
    expect(() => fitPca(accumulate(same), { varianceShare: 0.95 })).toThrow(expect.objectContaining({ name: 'PcaError' }));
    expect(() => accumulate([planted.mean, planted.mean.map(() => Number.NaN)])).toThrow(/non-finite/);
  });
});

describe('streaming covariance', () => {
  it('merges chunks of any sizes into the covariance of all rows in one piece', () => {
    const random = seededRandom(11);
    // A large mean and a small spread: where Σxxᵀ/n − x̄x̄ᵀ would lose most of its digits.
    const rows = Array.from({ length: 500 }, () => Float64Array.from({ length: 33 }, (_, i) => 1000 + i + random()));
    const whole = accumulate(rows).covariance();
    const reference = twoPassCovariance(rows);
    for (const sizes of [[1], [7, 64, 3], [250], [499, 1]]) {
      const streamed = accumulate(rows, sizes).covariance();
      streamed.forEach((value, i) => {
        expect(value).toBeCloseTo(whole[i]!, 12);
      });
    }
    whole.forEach((value, i) => {
      expect(value).toBeCloseTo(reference[i]!, 12);
    });
  });

  it("merges the moments of k parts, one of a single row and one empty, into one accumulator's over all rows", () => {
    const random = seededRandom(12);
    const rows = Array.from({ length: 400 }, () => Float64Array.from({ length: 17 }, (_, i) => 50 + i * 3 + random() * (1 + (i % 4))));
    const whole = accumulate(rows);
    const relativeClose = (actual: ArrayLike<number>, expected: ArrayLike<number>) => {
      for (let i = 0; i < expected.length; i++) {
        expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected[i]!)));
      }
    };
    // Part sizes in the order merged: a single row first and in the middle, an empty part, uneven others.
    for (const sizes of [
      [1, 0, 150, 1, 248],
      [399, 1],
      [0, 400],
      [100, 100, 100, 100],
    ]) {
      const merged = new ScatterAccumulator(17);
      let start = 0;
      for (const size of sizes) {
        // Each part's moments go through their bytes, as PcaPart's reader gets them from ReducePart.
        const part = size === 0 ? new ScatterAccumulator(17) : accumulate(rows.slice(start, start + size), [64]);
        merged.merge(ScatterAccumulator.fromBytes(part.toBytes(), 'part'));
        start += size;
      }
      expect(merged.count).toBe(400);
      relativeClose(merged.mean, whole.mean);
      relativeClose(merged.covariance(), whole.covariance());
    }
  });

  it('refuses moments of another width and bytes that are not moments', () => {
    const moments = accumulate([Float64Array.of(1, 2), Float64Array.of(3, 5)]);
    expect(() => new ScatterAccumulator(3).merge(moments)).toThrow(/moments of vectors of 2 values, expected 3/);
    expect(() => ScatterAccumulator.fromBytes(moments.toBytes().subarray(8), 'runs/r/reduce/moments/00000.bin')).toThrow(
      /runs\/r\/reduce\/moments\/00000.bin is not the scatter moments of a part/,
    );
    expect(ScatterAccumulator.fromBytes(moments.toBytes(), 'x').covariance()).toEqual(moments.covariance());
  });
});

/** The textbook two-pass covariance over every row at once: the reference the streaming result must match. */
function twoPassCovariance(rows: readonly Float64Array[]): Float64Array {
  const d = rows[0]!.length;
  const mean = new Float64Array(d);
  for (const row of rows)
    row.forEach((v, i) => {
      mean[i]! += v / rows.length;
    });
  const covariance = new Float64Array(d * d);
  for (const row of rows) {
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) covariance[i * d + j]! += ((row[i]! - mean[i]!) * (row[j]! - mean[j]!)) / (rows.length - 1);
  }
  return covariance;
}

describe('PCA model', () => {
  it('reduces vectors to (x − mean)·componentsᵀ: the planted pairs land on ±spread along one axis', () => {
    const model = modelOf(fitPca(accumulate(planted.rows), { components: 3 }), { components: 3 });
    const reduced = applyPca(model, planted.rows.slice(0, 6));
    expect(reduced).toHaveLength(18);
    const magnitudes = Array.from(reduced, (v) => Math.round(Math.abs(v) * 1e6) / 1e6);
    expect(magnitudes).toEqual([8, 0, 0, 8, 0, 0, 0, 4, 0, 0, 4, 0, 0, 0, 2, 0, 0, 2]);
    expect(() => applyPca(model, [new Float64Array(3)])).toThrow(/3 values, the model expects 64/);
  });

  it('round-trips through its JSON file exactly, so a saved model reduces vectors bit for bit', () => {
    const random = seededRandom(5);
    const rows = Array.from({ length: 120 }, () => Float64Array.from({ length: width }, () => random() * 6));
    const model = modelOf(fitPca(accumulate(rows), { varianceShare: 0.9 }), { varianceShare: 0.9 });
    const text = encodePcaModel(model);
    const loaded = decodePcaModel(text);
    expect(loaded).toEqual(model);
    expect(Buffer.from(applyPca(loaded, rows).buffer).equals(Buffer.from(applyPca(model, rows).buffer))).toBe(true);

    const document = JSON.parse(text);
    expect(document).toMatchObject({ format: 'featurize-pca/1', nFeatures: width, nComponents: model.components.length, nSamples: 120 });
    expect(document.explainedVarianceRatio.reduce((s: number, v: number) => s + v, 0)).toBeCloseTo(keptVarianceShare(model), 12);
    expect(keptVarianceShare(model)).toBeGreaterThanOrEqual(0.9);
  });

  it('refuses a file that is not a consistent model, naming the problem', () => {
    const model = modelOf(fitPca(accumulate(planted.rows), { components: 2 }), { components: 2 });
    const document = JSON.parse(encodePcaModel(model));
    expect(() => decodePcaModel('{', 's3://b/pca/x/model.json')).toThrow(/s3:\/\/b\/pca\/x\/model.json is not JSON/);
    expect(() => decodePcaModel(JSON.stringify({ ...document, format: 'other' }))).toThrow(/format/);
    expect(() => decodePcaModel(JSON.stringify({ ...document, mean: document.mean.slice(1) }))).toThrow(/inconsistent/);
  });
});

describe('PCA setting', () => {
  it.each([
    [null, null],
    [0.95, { fit: { varianceShare: 0.95 } }],
    [64, { fit: { components: 64 } }],
    [{}, { fit: { varianceShare: 0.95 } }],
    [{ varianceShare: 1 }, { fit: { varianceShare: 1 } }],
    [{ components: 8 }, { fit: { components: 8 } }],
    [{ model: 's3://b/out/pca/r1/model.json' }, { apply: 's3://b/out/pca/r1/model.json' }],
  ])('reads %j as %j', (setting, request) => {
    expect(pcaSettingSchema.parse(setting)).toEqual(request);
  });

  it.each([[0], [1.5], [-3], ['0.95'], [{ varianceShare: 0 }], [{ components: 2.5 }], [{ components: 2, model: 'x' }]])(
    'refuses %j with a message listing the accepted forms',
    (setting) => {
      const result = pcaSettingSchema.safeParse(setting);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/a variance share in \(0, 1\)/);
    },
  );

  it('reads the text of --pca and of the CDK context, and substitutes ${PcaDefault} with JSON', () => {
    expect(parsePcaText('0.9')).toBe(0.9);
    expect(parsePcaText(' 32 ')).toBe(32);
    expect(parsePcaText('off')).toBeNull();
    expect(() => parsePcaText('95%')).toThrow(expect.objectContaining({ name: 'ConfigError' }));
    expect(() => parsePcaText('')).toThrow(/invalid PCA setting/);
    expect(pcaDefaultSubstitution(undefined)).toBe('null');
    expect(pcaDefaultSubstitution('0.95')).toBe('0.95');
    expect(JSON.parse(pcaDefaultSubstitution('64'))).toBe(64);
  });
});
