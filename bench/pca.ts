/**
 * `npm run bench:pca`: time and peak memory of the PCA steps on synthetic MobileNetV2-shaped vectors
 * (1280 float32 ≥ 0 from a 64-dimensional latent through a ReLU, plus noise), written as the reducer's parts.
 * First the part moments as ReducePart adds them (a shard of --batch vectors at a time): the time PCA adds to
 * each ReduceParts child; then Pca (merge, eigendecomposition, plan), the PcaPart children one after the other,
 * and PublishPca.
 *
 *   node bench/pca.ts [--rows 10000] [--parts 2] [--share 0.95] [--batch 250]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { seededRandom } from '../functions/report/reservoir-sample.ts';
import { ScatterAccumulator } from '../functions/shared/pca/scatter-accumulator.ts';
import { FsStorage } from '../functions/shared/storage/fs-storage.ts';
import { type FeatureRow, writeFeatureParts } from '../test/support/feature-parts.ts';
import { runPcaSteps } from '../test/support/pca-steps.ts';
import { benchArgs, numberArg, wholeNumberArg } from './bench-args.ts';

const args = benchArgs(import.meta.filename, {
  rows: { type: 'string', default: '10000' },
  parts: { type: 'string', default: '2' },
  share: { type: 'string', default: '0.95' },
  batch: { type: 'string', default: '250' },
});
const rows = wholeNumberArg(import.meta.filename, 'rows', args.rows);
const parts = wholeNumberArg(import.meta.filename, 'parts', args.parts);
const batch = wholeNumberArg(import.meta.filename, 'batch', args.batch);
const varianceShare = numberArg(import.meta.filename, 'share', args.share, 0, 1);
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

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

const dir = await mkdtemp(`${tmpdir()}/bench-pca-`);
try {
  const output = new FsStorage(dir);
  const rowsPerPart = Math.ceil(rows / parts);
  // CPU time as well as wall time: on a shared machine the wall clock also counts other processes' turns.
  const momentsCpu = process.cpuUsage();
  const momentsStarted = performance.now();
  for (let start = 0; start < rows; start += rowsPerPart) {
    const moments = new ScatterAccumulator(width);
    const part = vectors.slice(start, start + rowsPerPart);
    for (let b = 0; b < part.length; b += batch) moments.add(part.slice(b, b + batch).map((row) => row.features));
  }
  const momentsSeconds = (performance.now() - momentsStarted) / 1000;
  const momentsCpuSeconds = cpuSeconds(process.cpuUsage(momentsCpu));
  await writeFeatureParts(output, 'bench', vectors, { rowsPerPart, rowGroupRows: 5000 });
  vectors.length = 0;
  const rssBefore = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const fit = await runPcaSteps({ runId: 'bench', output: { bucket: dir }, pca: { varianceShare } });
  const cpu = cpuSeconds(process.cpuUsage(cpuBefore));
  const perPart = (momentsSeconds * rowsPerPart) / rows;
  console.log(
    JSON.stringify({
      rows,
      width,
      momentsSeconds,
      momentsCpuSeconds,
      ...fit.millis,
      cpuSeconds: cpu,
      components: fit.components,
      varianceShare: fit.varianceShare,
    }),
  );
  console.log(
    `part moments (ReducePart's share): ${momentsSeconds.toFixed(1)} s for ${rows} x ${width} (${momentsCpuSeconds.toFixed(1)} s of CPU), ` +
      `${perPart.toFixed(1)} s per part of ${rowsPerPart} rows\n` +
      `merge + fit + reduce: ${(fit.millis.total / 1000).toFixed(1)} s ` +
      `(merge ${(fit.millis.covariance / 1000).toFixed(1)} s, eigendecomposition ${(fit.millis.eigen / 1000).toFixed(1)} s, ` +
      `plan, reduce and publish ${(fit.millis.project / 1000).toFixed(1)} s), ${cpu.toFixed(1)} s of CPU, k = ${fit.components}; ` +
      `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (${Math.round(rssBefore / 2 ** 20)} MiB before the steps)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
