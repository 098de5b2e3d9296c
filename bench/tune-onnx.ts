#!/usr/bin/env node
/**
 * Tunes the ONNX engine on this machine and sets it against TF.js on the same inputs (inference alone):
 *   npm run tune:onnx -- [--images 256] [--rounds 5]
 * Four stages; the winner of each (see `stage`: images/s for thread layouts, CPU per image for the rest)
 * carries into the next:
 *   1. workers x intra-op threads, at batch 16 and optimisation `all`
 *   2. inference batch size: 1, 8, 16, 32, 64
 *   3. graph optimisation level, memory arena off, parallel execution mode
 *   4. the tuned ONNX configuration against TF.js (wasm here) with one and two workers, and one engine on
 *      every core (as in Lambda) with its threads sleeping or spinning between operators
 * Within a stage, every configuration runs once per round and rounds repeat, so that a disturbance on a shared
 * machine hits them alike; each run is a process of its own (bench/measure-inference.ts) for its peak memory.
 */
import { fileURLToPath } from 'node:url';
import { type EngineName, graphOptimizationLevels } from '../functions/shared/config.ts';
import { benchArgs, scriptFailed, wholeNumberArg } from './bench-args.ts';
import { runScript } from './child-script.ts';
import type { Measurement, MeasurementResult } from './measure-inference.ts';

interface Candidate {
  label: string;
  measurement: Measurement;
}

interface Outcome extends Candidate {
  rate: number;
  ratio: number;
  cpuMs: number;
  peakRssMb: number;
}

const values = benchArgs(import.meta.filename, { images: { type: 'string', default: '256' }, rounds: { type: 'string', default: '5' } });
const images = wholeNumberArg(import.meta.filename, 'images', values.images);
const rounds = wholeNumberArg(import.meta.filename, 'rounds', values.rounds);
const measureScript = fileURLToPath(new URL('./measure-inference.ts', import.meta.url));

const onnx = (workers: number, threads: number, batch: number, env: Record<string, string> = {}): Measurement => ({
  engine: 'onnx',
  workers,
  batch,
  images,
  env: { FEATURIZE_ORT_INTRA_OP_THREADS: String(threads), FEATURIZE_ORT_GRAPH_OPTIMIZATION: 'all', ...env },
});
const describeOnnx = ({ workers, batch, env }: Measurement) =>
  `onnx ${workers}w x ${env.FEATURIZE_ORT_INTRA_OP_THREADS}t, batch ${batch}, ${env.FEATURIZE_ORT_GRAPH_OPTIMIZATION}` +
  (env.FEATURIZE_ORT_MEMORY_ARENA === 'false' ? ', no arena' : '') +
  (env.FEATURIZE_ORT_SPINNING === 'true' ? ', spinning' : '') +
  (env.FEATURIZE_ORT_EXECUTION_MODE === 'parallel' ? ', parallel' : '');
const candidate = (measurement: Measurement): Candidate => ({ label: describeOnnx(measurement), measurement });

process.stdout.write(`${images} images per run, ${rounds} rounds, ${new Date().toISOString()}\n`);

// Candidates are listed in order of preference: on a tie (within 5%) the earlier one carries on.
const layouts = await stage('1. workers x intra-op threads (0: ONNX Runtime picks, one per physical core it detects)', [
  candidate(onnx(1, 1, 16)),
  candidate(onnx(1, 0, 16)),
  candidate(onnx(1, 2, 16)),
  candidate(onnx(2, 1, 16)),
  candidate(onnx(2, 2, 16)),
]);
const { workers, env } = layouts.measurement;
const threads = Number(env.FEATURIZE_ORT_INTRA_OP_THREADS);
const batches = await stage(
  '2. inference batch size',
  [1, 8, 16, 32, 64].map((batch) => candidate(onnx(workers, threads, batch))),
  'cpu',
);
const { batch } = batches.measurement;
const tuned = await stage(
  '3. graph optimisation, memory arena, execution mode',
  [
    ...graphOptimizationLevels
      .toReversed()
      .map((level) => candidate(onnx(workers, threads, batch, { FEATURIZE_ORT_GRAPH_OPTIMIZATION: level }))),
    candidate(onnx(workers, threads, batch, { FEATURIZE_ORT_MEMORY_ARENA: 'false' })),
    candidate(onnx(workers, threads, batch, { FEATURIZE_ORT_EXECUTION_MODE: 'parallel' })),
  ],
  'cpu',
);
const tfjs = (count: number, size: number): Candidate => ({
  label: `tfjs ${count}w (wasm: one thread each), batch ${size}`,
  measurement: { engine: 'tfjs' satisfies EngineName, workers: count, batch: size, images, env: {} },
});
const tfjsBatches = [...new Set([16, batch])];
// One process, one engine, every core: how the Lambda function runs (TF.js there is tfjs-node, not measurable
// here); with its pool threads sleeping between operators (the default) or spinning.
const singleProcess = (spinning: boolean) =>
  candidate({
    ...tuned.measurement,
    workers: 1,
    env: { ...tuned.measurement.env, FEATURIZE_ORT_INTRA_OP_THREADS: '0', FEATURIZE_ORT_SPINNING: String(spinning) },
  });
await stage('4. ONNX Runtime against TF.js, same inputs', [
  tuned,
  ...tfjsBatches.map((size) => tfjs(2, size)),
  singleProcess(false),
  singleProcess(true),
  ...tfjsBatches.map((size) => tfjs(1, size)),
]);

/**
 * Runs the candidates interleaved and prints the stage's table. Ratios to the first row are taken round by
 * round (both ran within seconds of each other) and their median reported, which a busy neighbour disturbs
 * less than the raw rates; CPU time per image is disturbed least. Returns the first candidate within 5% of
 * the best by `by` (candidates are listed in order of preference; a smaller difference is noise here):
 * `throughput` where the question is how to spread over the cores, `cpu` where it is the work per image.
 */
async function stage(title: string, candidates: Candidate[], by: 'throughput' | 'cpu' = 'throughput'): Promise<Outcome> {
  const runs = candidates.map(() => [] as MeasurementResult[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of candidates.entries()) runs[i]!.push(await run(c.measurement));
  }
  const outcomes = candidates.map(
    (c, i): Outcome => ({
      ...c,
      rate: median(runs[i]!.map((r) => r.imagesPerSecond)),
      ratio: median(runs[i]!.map((r, round) => r.imagesPerSecond / runs[0]![round]!.imagesPerSecond)),
      cpuMs: median(runs[i]!.map((r) => r.cpuMsPerImage)),
      peakRssMb: Math.max(...runs[i]!.map((r) => r.peakRssMb)),
    }),
  );
  const rows = outcomes.map(
    (o) => `| ${o.label} | ${o.rate.toFixed(1)} | ${o.ratio.toFixed(2)} | ${o.cpuMs.toFixed(1)} | ${o.peakRssMb} |`,
  );
  process.stdout.write(
    `\n${title}\n\n| configuration | images/s (median) | x first row (median of rounds) | CPU ms/image (median) | peak RSS MB |\n` +
      `|---|---:|---:|---:|---:|\n${rows.join('\n')}\n`,
  );
  if (by === 'cpu') {
    const least = Math.min(...outcomes.map((o) => o.cpuMs));
    return outcomes.find((o) => o.cpuMs <= 1.05 * least)!;
  }
  const best = Math.max(...outcomes.map((o) => o.ratio));
  return outcomes.find((o) => o.ratio >= 0.95 * best)!;
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One measurement in a process of its own; its failure ends the tuning with the measurement's own error line. */
async function run(measurement: Measurement): Promise<MeasurementResult> {
  const stdout = await runScript([measureScript, JSON.stringify(measurement)], {
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' },
  }).catch((error: Error) => scriptFailed(import.meta.filename, `a measurement failed: ${error.message}`));
  return JSON.parse(stdout) as MeasurementResult;
}
