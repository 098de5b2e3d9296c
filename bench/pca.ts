/**
 * `npm run bench:pca`: time and peak memory of the PCA step on synthetic MobileNetV2-shaped vectors
 * (1280 float32 ≥ 0 from a 64-dimensional latent through a ReLU, plus noise), written as the reducer's parts.
 *
 *   node bench/pca.ts [--rows 10000] [--parts 2] [--share 0.95]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { runPca } from '../functions/pca/run-pca.ts';
import { seededRandom } from '../functions/report/reservoir-sample.ts';
import { FsStorage } from '../functions/shared/storage/fs-storage.ts';
import { type FeatureRow, writeFeatureParts } from '../test/support/feature-parts.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000' },
    parts: { type: 'string', default: '2' },
    share: { type: 'string', default: '0.95' },
  },
});
const rows = Number(args.rows);
const width = 1280;
const latent = 64;

const random = seededRandom(42);
const weights = Float64Array.from({ length: width * latent }, () => random() - 0.5);
const vectors: FeatureRow[] = Array.from({ length: rows }, (_, r) => {
  const z = Float64Array.from({ length: latent }, () => random() * 2 - 1);
  const features = new Float32Array(width);
  for (let i = 0; i < width; i++) {
    let sum = 0.3 + (random() - 0.5) * 0.05;
    for (let j = 0; j < latent; j++) sum += weights[i * latent + j]! * z[j]!;
    features[i] = Math.min(6, Math.max(0, sum));
  }
  return { path: `/bench/L${r % 10}/${r}.jpg`, label: `L${r % 10}`, features };
});

const dir = await mkdtemp(`${tmpdir()}/bench-pca-`);
try {
  const output = new FsStorage(dir);
  await writeFeatureParts(output, 'bench', vectors, { rowsPerPart: Math.ceil(rows / Number(args.parts)), rowGroupRows: 5000 });
  vectors.length = 0;
  const rssBefore = process.memoryUsage().rss;
  // CPU time as well as wall time: on a shared machine the wall clock also counts other processes' turns.
  const cpuBefore = process.cpuUsage();
  const fit = await runPca({ runId: 'bench', output, mode: { fit: { varianceShare: Number(args.share) } }, rowGroupRows: 5000 });
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(JSON.stringify({ rows, width, ...fit.millis, cpuSeconds, components: fit.components, varianceShare: fit.varianceShare }));
  console.log(
    `fit + reduce ${rows} x ${width}: ${(fit.millis.total / 1000).toFixed(1)} s ` +
      `(covariance ${(fit.millis.covariance / 1000).toFixed(1)} s, eigendecomposition ${(fit.millis.eigen / 1000).toFixed(1)} s, ` +
      `reduce and write ${(fit.millis.project / 1000).toFixed(1)} s), ${cpuSeconds.toFixed(1)} s of CPU, k = ${fit.components}; ` +
      `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (${Math.round(rssBefore / 2 ** 20)} MiB before the step)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
