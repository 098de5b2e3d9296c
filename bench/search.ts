/**
 * `npm run bench:search`: the nearest-neighbour index at scale: its build time and size, query latency (p50, p95)
 * and recall@10 against exact search, on SYNTHETIC vectors (MobileNetV2-shaped: 1280 float32 ≥ 0 from a
 * 64-dimensional latent through a ReLU, plus noise; 50 clusters of latents), not real image features.
 *
 *   node bench/search.ts [--n 20000] [--queries 200] [--part-rows 25000] [--ef 100[,200...]] [--refine 2]
 *                        [--update-rows 25000] [--dir <folder>] [--json <file>]
 *
 * Several `--ef` values are measured on the same build, one after the other (a build at a million vectors takes
 * most of an hour; the search effort is a query's setting): the result's first-level figures are the first's,
 * `efforts` lists them all.
 *
 * The dataset is written as the reducer's Parquet parts and indexed by the product's own code: the index function's
 * (functions/update-index: an exact scan below 10,000 rows, IVF-HNSW-SQ above), run in a process of its own
 * (bench/tail-step.ts) as one Lambda invocation runs it, so that its peak memory is the function's alone. Exact neighbours of the queries (held-out vectors from the
 * same distribution) are computed part by part as the parts are written, so no more than a part is ever in memory
 * here (25,000 vectors: about 0.5 GB with their copies), and the index update reads a row group at a time; what
 * LanceDB holds while it builds the ANN index is its own (its scalar-quantized vectors: 1.3 GB at a million).
 *
 * Disk, in --dir (default: the system's temporary folder), about 5 KB a vector for each of: the Parquet parts, the
 * LanceDB table, and the table's compaction (optimize() rewrites the small fragments each row group added before
 * it drops them): some 15 to 20 GB at a million vectors, removed at the end.
 *
 * Then, as an incremental run's publish does, one more part of `--update-rows` vectors (default one part's; 0: none) is
 * added to the dataset and the index updated again in a process of its own: the update's time, CPU and peak memory
 * (what the index function needs on every later run), and the first effort's recall and latency over the larger index.
 *
 * --json writes { n, buildSeconds, indexBytes, p50Ms, p95Ms, recallAt10, ..., buildPeakMiB, buildLoad, queryLoad, efforts } (the line printed
 * first); the loads say how busy the machine was meanwhile, and a figure taken while it was busy is NOT A RESULT.
 */
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../functions/report/reservoir-sample.ts';
import { indexPrefix } from '../functions/shared/run-layout.ts';
import { FsStorage } from '../functions/shared/storage/fs-storage.ts';
import { exactNeighbours, type Neighbour, normalizeRows } from '../functions/shared/vectors/exact-search.ts';
import { defaultSearchEffort, openIndex } from '../functions/shared/vectors/vector-index.ts';
import type { UpdateIndexResult } from '../statemachine/contracts.ts';
import { type FeatureRow, writeFeatureParts } from '../test/support/feature-parts.ts';
import { benchArgs, folderArg, wholeNumberArg, wholeNumbersArg } from './bench-args.ts';
import { cpuTimes, describeLoad, type LoadDuring, loadDuring } from './machine-load.ts';
import { runStepProcess } from './step-process.ts';

const args = benchArgs(import.meta.filename, {
  n: { type: 'string', default: '20000' },
  queries: { type: 'string', default: '200' },
  'part-rows': { type: 'string', default: '25000' },
  ef: { type: 'string', default: String(defaultSearchEffort.ef) },
  refine: { type: 'string', default: String(defaultSearchEffort.refineFactor) },
  'update-rows': { type: 'string' },
  dir: { type: 'string', default: tmpdir() },
  json: { type: 'string' },
});
const script = import.meta.filename;
const n = wholeNumberArg(script, 'n', args.n);
const queryCount = wholeNumberArg(script, 'queries', args.queries);
const partRows = wholeNumberArg(script, 'part-rows', args['part-rows']);
const updateRows = args['update-rows'] === undefined ? partRows : wholeNumberArg(script, 'update-rows', args['update-rows'], 0);
const efs = wholeNumbersArg(script, 'ef', args.ef);
const refineFactor = wholeNumberArg(script, 'refine', args.refine);
const workDir = folderArg(script, 'dir', args.dir);
const width = 1280;
const latent = 64;
const clusters = 50;
const k = 10;

const random = seededRandom(42);
const weights = Float64Array.from({ length: width * latent }, () => random() - 0.5);
const centres = Array.from({ length: clusters }, () => Float64Array.from({ length: latent }, () => random() * 2 - 1));

function syntheticVector(): { cluster: number; features: Float32Array } {
  const cluster = Math.floor(random() * clusters);
  const z = Float64Array.from(centres[cluster]!, (c) => c + (random() - 0.5) * 0.8);
  const features = new Float32Array(width);
  for (let i = 0; i < width; i++) {
    let sum = 0.3 + (random() - 0.5) * 0.05;
    for (let j = 0; j < latent; j++) sum += weights[i * latent + j]! * z[j]!;
    features[i] = Math.min(6, Math.max(0, sum));
  }
  return { cluster, features };
}

const queryData = new Float32Array(queryCount * width);
for (let q = 0; q < queryCount; q++) queryData.set(syntheticVector().features, q * width);
const queries = normalizeRows(queryData, width);

const dir = await mkdtemp(join(workDir, 'bench-search-'));
try {
  const storage = new FsStorage(dir);
  // Exact top-k per query, merged over the parts as they are written.
  let exact: Neighbour[][] = Array.from({ length: queryCount }, () => []);
  let parts = 0;
  const writePart = async (start: number, end: number) => {
    const rows: FeatureRow[] = [];
    for (let r = start; r < end; r++) {
      const { cluster, features } = syntheticVector();
      rows.push({ path: `/bench/C${cluster}/${r}.jpg`, label: `C${cluster}`, features });
    }
    const runId = `20260101T000000Z-${(parts++).toString(16).padStart(6, '0')}`;
    await writeFeatureParts(storage, runId, rows, { rowGroupRows: 5000 });
    const flat = new Float32Array(rows.length * width);
    for (const [i, row] of rows.entries()) flat.set(row.features, i * width);
    const matrix = normalizeRows(flat, width);
    const found = await exactNeighbours(matrix, queries, k);
    exact = exact.map((best, q) =>
      [...best, ...found[q]!.map((nb) => ({ index: nb.index + start, similarity: nb.similarity }))]
        .sort((a, b) => b.similarity - a.similarity)
        .slice(0, k),
    );
  };
  const writeStart = performance.now();
  for (let start = 0; start < n; start += partRows) await writePart(start, Math.min(n, start + partRows));
  const writeSeconds = (performance.now() - writeStart) / 1000;

  // How busy the machine was during the build and during the queries (this process's own CPU, and the build's,
  // left out): the figures are results only when others used under 5 % of it.
  const measuring = () => ({ times: cpuTimes(), own: process.cpuUsage() });
  const loadSince = (start: ReturnType<typeof measuring>, childCpuSeconds = 0) => {
    const own = process.cpuUsage(start.own);
    return loadDuring(start.times, cpuTimes(), (own.user + own.system) / 1e6 + childCpuSeconds);
  };
  const updateStep = async () => {
    const measure = measuring();
    const step = await runStepProcess({
      step: 'updateIndex',
      event: { runId: '20260101T000000Z-index', output: { bucket: dir, prefix: '' } },
    });
    return { ...step, update: step.result as UpdateIndexResult, load: loadSince(measure, step.cpuSeconds) };
  };
  const build = await updateStep();
  const { update, seconds: buildSeconds, load: buildLoad } = build;
  const indexBytes = await folderBytes(join(dir, indexPrefix));

  const openStart = performance.now();
  await openIndex(storage);
  const openMillis = performance.now() - openStart;
  const measureQueries = async (effort: { ef: number; refineFactor: number }): Promise<QueryFigures> => {
    const index = await openIndex(storage, effort);
    const latencies: number[] = [];
    let hits = 0;
    const queryMeasure = measuring();
    for (let q = 0; q < queryCount; q++) {
      const query = queries.data.subarray(q * width, (q + 1) * width);
      const t0 = performance.now();
      const found = await index.search(query, k);
      latencies.push(performance.now() - t0);
      const wanted = new Set(exact[q]!.map((nb) => nb.index));
      hits += found.filter((match) => wanted.has(Number(/\/(\d+)\.jpg$/.exec(match.path)?.[1]))).length;
    }
    const queryLoad = loadSince(queryMeasure);
    latencies.sort((a, b) => a - b);
    const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    return {
      ...(update.ann ? effort : {}),
      p50Ms: round(percentile(0.5)),
      p95Ms: round(percentile(0.95)),
      recallAt10: round(hits / (queryCount * k), 3),
      queryLoad,
    };
  };
  const efforts: QueryFigures[] = [];
  for (const ef of efs) efforts.push(await measureQueries({ ef, refineFactor }));

  // An incremental run's part: the index function's work on every later run.
  let incremental: IncrementalUpdate | undefined;
  if (updateRows > 0) {
    await writePart(n, n + updateRows);
    const step = await updateStep();
    const queried = await measureQueries({ ef: efforts[0]!.ef ?? defaultSearchEffort.ef, refineFactor });
    incremental = {
      rows: updateRows,
      action: step.update.action,
      seconds: round(step.seconds),
      cpuSeconds: round(step.cpuSeconds),
      peakMiB: Math.round(step.peakMiB),
      load: step.load,
      ...queried,
    };
  }
  const [first] = efforts as [QueryFigures];
  const result = {
    n,
    buildSeconds: round(buildSeconds),
    indexBytes,
    p50Ms: first.p50Ms,
    p95Ms: first.p95Ms,
    recallAt10: first.recallAt10,
    vectors: 'synthetic',
    width,
    queries: queryCount,
    search: update.ann ?? 'exact scan',
    ...(update.ann ? { ef: first.ef, refineFactor: first.refineFactor } : {}),
    openMs: round(openMillis),
    writePartsSeconds: round(writeSeconds),
    // The index function's own peak while it built the index (what its memory setting must hold), and its CPU.
    buildPeakMiB: Math.round(build.peakMiB),
    buildCpuSeconds: round(build.cpuSeconds),
    // This process's peak: the parts' writing, the exact search, and the queries.
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024),
    buildLoad,
    queryLoad: first.queryLoad,
    efforts,
    ...(incremental ? { incremental } : {}),
  };
  console.log(JSON.stringify(result));
  if (args.json) await writeFile(args.json, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `${n} synthetic vectors, ${result.search}: build ${result.buildSeconds} s (${result.buildCpuSeconds} s of CPU, peak ${result.buildPeakMiB} MiB), index ${round(indexBytes / 2 ** 20)} MiB\n` +
      `  build: ${describeLoad(buildLoad)}`,
  );
  for (const figures of efforts) {
    console.log(
      `  ${figures.ef === undefined ? 'exact scan' : `ef ${figures.ef}, refine ${figures.refineFactor}`}: query p50 ${figures.p50Ms} ms, p95 ${figures.p95Ms} ms; ` +
        `recall@10 ${figures.recallAt10} vs exact (${queryCount} queries); ${describeLoad(figures.queryLoad)}`,
    );
  }
  if (incremental) {
    console.log(
      `then ${incremental.rows} more vectors (an incremental run's part): update ${incremental.seconds} s (${incremental.cpuSeconds} s of CPU, ` +
        `peak ${incremental.peakMiB} MiB), ${describeLoad(incremental.load)}\n` +
        `  over ${n + incremental.rows}: query p50 ${incremental.p50Ms} ms, p95 ${incremental.p95Ms} ms; recall@10 ${incremental.recallAt10}; ` +
        describeLoad(incremental.queryLoad),
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** The update an incremental run's part causes, and the queries over the larger index after it. */
interface IncrementalUpdate extends QueryFigures {
  rows: number;
  action: UpdateIndexResult['action'];
  seconds: number;
  cpuSeconds: number;
  peakMiB: number;
  load: LoadDuring;
}

interface QueryFigures {
  ef?: number;
  refineFactor?: number;
  p50Ms: number;
  p95Ms: number;
  recallAt10: number;
  queryLoad: LoadDuring;
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
