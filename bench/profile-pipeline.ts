/**
 * `npm run bench:profile`: where the whole local pipeline's time goes, stage by stage, from a profiler rather
 * than from guesses. It runs `featurize run`'s pipeline once (map, reduce, validate, publish, report) in a child
 * process started with `--cpu-prof` (V8 writes one profile per JavaScript thread: the main thread and each
 * worker), and meanwhile reads every thread's CPU time from /proc (libvips' and libuv's threads included, which
 * V8 does not see). Each JavaScript thread's CPU time is split by what its profile sampled; the native threads
 * are counted by name. It prints ms of CPU per image per stage, each stage's share of the process's CPU, and the
 * time the extract workers spent waiting: inside a batch (for decoded images, reads, writes) and between batches.
 *
 *   node bench/profile-pipeline.ts [--input <folder>] [--batch-size 50] [--workers <n>] [--json profile.json]
 *                                  [--profiles <dir>]   (keeps the .cpuprofile files, for Chrome DevTools)
 *                                  [--node-flags=--single-threaded-gc]   (each thread's GC in its own profile)
 *
 * Shares are comparable on a busy machine; absolute figures only from a quiet one (the load is printed).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { defaultImagesDir } from '../functions/shared/config.ts';
import { newRunId } from '../functions/shared/run-layout.ts';
import { runPipeline } from '../statemachine/local/run-pipeline.ts';
import { benchArgs, folderArg, scriptFailed, wholeNumberArg } from './bench-args.ts';
import { runScript } from './child-script.ts';
import { cpuTimes, describeLoad, type LoadDuring, loadDuring } from './machine-load.ts';
import type { HandlerReport } from './profiled-handler.ts';

const args = benchArgs(import.meta.filename, {
  input: { type: 'string', default: join(defaultImagesDir(), 'fruits-360-large') },
  'batch-size': { type: 'string', default: '50' },
  workers: { type: 'string', default: String(availableParallelism()) },
  json: { type: 'string' },
  // More flags for the profiled process, e.g. --single-threaded-gc: each thread's GC then shows in its own profile.
  'node-flags': { type: 'string', default: '' },
  // Keeps V8's .cpuprofile files there (one per JavaScript thread; Chrome DevTools opens them).
  profiles: { type: 'string' },
  // Internal: the profiled child's side.
  measure: { type: 'boolean', default: false },
});
// The CLI's own rule: a relative folder is the shell's, not the runner's.
const input = folderArg(import.meta.filename, 'input', resolve(args.input));
const batchSize = wholeNumberArg(import.meta.filename, 'batch-size', args['batch-size']);
const workers = wholeNumberArg(import.meta.filename, 'workers', args.workers);

/** The profiled handlers' reports reach the main thread on this channel. */
const profileChannelName = 'featurize-profile-pipeline';

/** What the profiled child measured, besides the .cpuprofile files V8 writes. */
interface Measurement {
  images: number;
  pid: number;
  wallMs: number;
  processCpuMs: number;
  /**
   * When the extraction map's first batch could start and its last batch ended (performance.timeOrigin + ms), and
   * the process's CPU time (ms) at each.
   */
  extraction: { startMs: number; endMs: number; startCpuMs: number; endCpuMs: number };
  /** When the run started (performance.timeOrigin + ms). */
  startMs: number;
  threads: ThreadCpu[];
  handlers: HandlerReport[];
  load: LoadDuring;
}

interface ThreadCpu {
  tid: number;
  name: string;
  cpuMs: number;
}

/** The parent: runs the child under the profiler, then reads its profiles. */
async function profile(): Promise<void> {
  const profileDir = args.profiles ?? (await mkdtemp(join(tmpdir(), 'profile-pipeline-')));
  try {
    const script = new URL(import.meta.url).pathname;
    const stdout = await runScript(
      [
        '--cpu-prof',
        `--cpu-prof-dir=${profileDir}`,
        ...args['node-flags'].split(' ').filter(Boolean),
        script,
        '--measure',
        '--input',
        input,
        '--batch-size',
        String(batchSize),
        '--workers',
        String(workers),
      ],
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL || 'WARN' } },
    );
    const measured = JSON.parse(stdout.trim().split('\n').at(-1)!) as Measurement;
    const profiles = await readProfiles(profileDir, measured.pid);
    const breakdown = stageBreakdown(measured, profiles);
    const waits = workerWaits(measured);
    const groups = stageGroups(breakdown);
    printReport(measured, groups, breakdown, waits);
    if (args.json)
      await writeFile(
        args.json,
        `${JSON.stringify({ ...summary(measured), groups, stages: breakdown, extractWorkers: waits, threads: measured.threads }, null, 2)}\n`,
      );
  } finally {
    if (!args.profiles) await rm(profileDir, { recursive: true, force: true });
  }
}

/** The child: one pipeline run, every thread's CPU time sampled from /proc while it runs. */
async function measure(): Promise<Measurement> {
  const threads = new Map<number, ThreadCpu>();
  const sample = () => {
    for (const thread of threadCpuTimes()) threads.set(thread.tid, thread);
  };
  // A thread's last reading before it ends is its total: the pools' threads end with the run.
  const sampler = setInterval(sample, 200);
  const handlers: HandlerReport[] = [];
  const channel = new BroadcastChannel(profileChannelName);
  channel.onmessage = (message) => handlers.push((message as { data: HandlerReport }).data);
  const extraction = { startMs: 0, endMs: 0, startCpuMs: 0, endCpuMs: 0 };
  const now = () => performance.timeOrigin + performance.now();
  const cpuMs = () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
  const out = await mkdtemp(join(tmpdir(), 'profile-pipeline-out-'));
  const before = cpuTimes();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const startMs = now();
  try {
    const outcome = await runPipeline({
      runId: newRunId(),
      input: { bucket: input, prefix: '' },
      output: { bucket: out, prefix: '' },
      maxItemsPerBatch: batchSize,
      maxConcurrency: 0,
      toleratedFailurePercentage: 5,
      workers,
      env: process.env,
      handlers: {
        Extract: new URL(`./profiled-handler.ts?folder=extract&channel=${profileChannelName}`, import.meta.url),
        ReducePart: new URL(`./profiled-handler.ts?folder=reduce-part&channel=${profileChannelName}`, import.meta.url),
      },
      observer: {
        mapRunStarted: () => {
          extraction.startMs = now();
          extraction.startCpuMs = cpuMs();
        },
        childFinished: () => {
          extraction.endMs = now();
          extraction.endCpuMs = cpuMs();
        },
      },
    });
    if (outcome.status !== 'SUCCEEDED') throw new Error(`the pipeline failed: ${JSON.stringify(outcome.error)}`);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    clearInterval(sampler);
    sample();
    channel.close();
    const images = (outcome.stateOutputs.get('FinishReduce') as { reduce: { listed: number } }).reduce.listed;
    const processCpuMs = (used.user + used.system) / 1000;
    return {
      images,
      pid: process.pid,
      wallMs,
      processCpuMs,
      extraction,
      startMs,
      threads: [...threads.values()],
      handlers,
      load: loadDuring(before, cpuTimes(), processCpuMs / 1000),
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * Every thread of this process and its CPU time (user + system), from /proc/self/task/<tid>/stat (proc(5)).
 * Synchronous, so that the profile finds all of its samples under this function and leaves them out.
 */
function threadCpuTimes(): ThreadCpu[] {
  const threads: ThreadCpu[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // "tid (name) state ppid ..."; the name may hold spaces and parentheses, so split after the last ')'.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    threads.push({ tid: Number(tid), name, cpuMs: (Number(fields[11]) + Number(fields[12])) * 10 });
  }
  return threads;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** The run's V8 profiles by Node thread id: files are named CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile. */
async function readProfiles(dir: string, pid: number): Promise<Map<number, CpuProfile>> {
  const profiles = new Map<number, CpuProfile>();
  for (const file of await readdir(dir)) {
    const [, , , filePid, threadId] = file.split('.').map(Number);
    if (filePid !== pid || threadId === undefined) continue;
    profiles.set(threadId, JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile);
  }
  return profiles;
}

type Frame = CpuProfile['nodes'][number]['callFrame'];

/** This script's own sampling of /proc, left out like the profiler's thread. */
const profilerStage = 'the profiler (left out)';

/**
 * What a JavaScript thread was doing at one sample, from its stack (innermost frame first). The first rule that
 * matches wins, so the specific ones come first.
 */
const rules: { stage: string; matches: (frames: readonly Frame[]) => boolean }[] = [
  { stage: 'waiting (event loop idle)', matches: (f) => f[0]?.functionName === '(idle)' },
  { stage: profilerStage, matches: anyFrame((fr) => fr.url === import.meta.url) },
  { stage: 'garbage collection', matches: (f) => f[0]?.functionName === '(garbage collector)' },
  { stage: 'model loading', matches: anyFrame((fr) => /^create(Onnx|Tfjs)Engine$|^warmUp$/.test(fr.functionName)) },
  { stage: 'inference: pixels to float32', matches: anyFrame((fr) => fr.functionName === 'normalizePixels') },
  { stage: 'inference (ONNX Runtime, TF.js)', matches: anyFrame((fr) => /onnxruntime-node|@tensorflow/.test(fr.url)) },
  { stage: 'shard encoding (Arrow IPC)', matches: anyFrame((fr) => fr.functionName === 'encodeShard') },
  { stage: 'SHA-256 of the bytes read', matches: anyFrame((fr) => fr.url === 'node:internal/crypto/hash') },
  { stage: 'sharp calls (JavaScript side)', matches: anyFrame((fr) => fr.url.includes('/node_modules/sharp/')) },
  { stage: 'enlargement (WebAssembly)', matches: anyFrame((fr) => fr.functionName === 'enlargeBicubic') },
  { stage: 'Parquet reading (hyparquet)', matches: anyFrame((fr) => fr.url.includes('/hyparquet/')) },
  { stage: 'Parquet writing (parquet-wasm)', matches: anyFrame((fr) => fr.url.includes('/parquet-wasm/')) },
  { stage: 'file system calls (JavaScript side)', matches: anyFrame((fr) => fr.url.startsWith('node:internal/fs')) },
  { stage: 'logging and metrics', matches: anyFrame((fr) => fr.url.includes('@aws-lambda-powertools')) },
  { stage: 'module loading', matches: anyFrame((fr) => fr.url.startsWith('node:internal/modules')) },
  { stage: 'worker messaging (piscina)', matches: anyFrame((fr) => fr.url.includes('/piscina/')) },
  { stage: 'native, outside JavaScript', matches: (f) => f[0]?.functionName === '(program)' },
];

function anyFrame(test: (frame: Frame) => boolean): (frames: readonly Frame[]) => boolean {
  return (frames) => frames.some(test);
}

/** A step's function folder, when one of its frames is in `functions/<folder>/` (the main thread's steps). */
function stepOf(frames: readonly Frame[]): string | undefined {
  for (let i = frames.length - 1; i >= 0; i--) {
    const folder = /\/functions\/([a-z-]+)\//.exec(frames[i]!.url)?.[1];
    if (folder && folder !== 'shared') return folder;
  }
  return undefined;
}

/** Each stage's share of a thread's sampled time, idle included. */
function profileShares(profile: CpuProfile, byStep: boolean): Map<string, number> {
  const parents = new Map<number, number>();
  const frames = new Map<number, Frame>();
  for (const node of profile.nodes) {
    frames.set(node.id, node.callFrame);
    for (const child of node.children ?? []) parents.set(child, node.id);
  }
  const weights = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const stack: Frame[] = [];
    for (let node: number | undefined = id; node !== undefined; node = parents.get(node)) stack.push(frames.get(node)!);
    const generic = rules.find((rule) => rule.matches(stack))?.stage;
    // The main thread's steps by name; on the workers, the steps that run there after the map (the extract
    // function's own work is split by the rules).
    const step = generic !== 'waiting (event loop idle)' ? stepOf(stack) : undefined;
    const stage =
      step && (byStep || step !== 'extract')
        ? `step ${step}`
        : (generic ??
          (stack.some((fr) => /statemachine\/local|aws-local-stepfunctions/.test(fr.url)) ? 'state machine runner' : 'other JavaScript'));
    const weight = profile.timeDeltas[i] ?? 0;
    weights.set(stage, (weights.get(stage) ?? 0) + weight);
    total += weight;
  });
  return new Map([...weights].map(([stage, weight]) => [stage, weight / Math.max(total, 1)]));
}

interface StageCpu {
  /** Which threads: main, the workers (named by the function they started with), libvips, libuv pool, V8's helpers. */
  threads: string;
  stage: string;
  cpuMsPerImage: number;
  /** Of the process's CPU time. */
  share: number;
}

/** CPU time per image of every stage: JavaScript threads split by their profiles, native threads by name. */
function stageBreakdown(m: Measurement, profiles: ReadonlyMap<number, CpuProfile>): StageCpu[] {
  const totals = new Map<string, number>();
  const add = (threads: string, stage: string, cpuMs: number) => {
    const key = `${threads}\t${stage}`;
    totals.set(key, (totals.get(key) ?? 0) + cpuMs);
  };
  // Each thread's last report: its CPU time then; and the function it started with, which names its threads (the
  // pool's threads start with the extract function and run the reduce's children after the map).
  const reported = new Map<number, HandlerReport>();
  const startedWith = new Map<number, string>();
  for (const report of m.handlers) {
    if (report.cpuMs >= (reported.get(report.tid)?.cpuMs ?? 0)) reported.set(report.tid, report);
    if (!startedWith.has(report.tid)) startedWith.set(report.tid, report.folder);
  }
  const threadIds = new Map<number, number>([[m.pid, 0]]);
  for (const report of reported.values()) threadIds.set(report.tid, report.threadId);
  for (const thread of m.threads) {
    // The profiler's own thread: it would not run without --cpu-prof.
    if (thread.name === profilerThread) continue;
    const report = reported.get(thread.tid);
    const group =
      thread.tid === m.pid
        ? 'main thread'
        : report
          ? `${startedWith.get(thread.tid)} workers`
          : thread.name === 'libvips worker'
            ? 'libvips threads'
            : thread.name === 'libuv-worker'
              ? 'libuv pool'
              : thread.name === 'node'
                ? "V8's helpers (GC, compiler), other workers"
                : thread.name;
    const cpuMs = Math.max(thread.cpuMs, report?.cpuMs ?? 0);
    const threadId = threadIds.get(thread.tid);
    const profile = threadId !== undefined ? profiles.get(threadId) : undefined;
    if (!profile) {
      add(
        group,
        group === 'libvips threads' ? 'decode + resize (libvips)' : group === 'libuv pool' ? 'sharp pipelines, file reads and writes' : '-',
        cpuMs,
      );
      continue;
    }
    const shares = profileShares(profile, thread.tid === m.pid);
    const busy = 1 - (shares.get('waiting (event loop idle)') ?? 0);
    for (const [stage, share] of shares) {
      if (stage !== 'waiting (event loop idle)' && stage !== profilerStage) add(group, stage, (cpuMs * share) / Math.max(busy, 1e-9));
    }
  }
  return [...totals]
    .map(([key, cpuMs]) => {
      const [threads, stage] = key.split('\t') as [string, string];
      return { threads, stage, cpuMsPerImage: round(cpuMs / m.images, 3), share: round(cpuMs / unprofiledCpuMs(m), 4) };
    })
    .filter((row) => row.cpuMsPerImage > 0)
    .sort((a, b) => b.cpuMsPerImage - a.cpuMsPerImage);
}

/** The few groups the README's table shows: what a stage is for, whichever thread ran it. */
function groupOf({ threads, stage }: Pick<StageCpu, 'threads' | 'stage'>): string {
  if (stage === 'module loading' || stage === 'model loading') return 'start-up: modules and models loading';
  if (stage === 'garbage collection' || threads.startsWith("V8's helpers")) return "garbage collection, V8's helper threads";
  const extractRead = threads === 'extract workers' && stage === 'file system calls (JavaScript side)';
  const decoding = stage === 'sharp calls (JavaScript side)' || stage === 'enlargement (WebAssembly)';
  if (threads === 'libvips threads' || threads === 'libuv pool' || decoding || extractRead) {
    return 'decode + resize (sharp: libvips, libuv pool, its JavaScript calls; the enlargement), file reads';
  }
  if (stage.startsWith('Parquet') || (stage.startsWith('step ') && stage !== 'step check-run')) {
    return 'after the map: reduce, validate, publish, report';
  }
  if (threads === 'extract workers') {
    return stage.startsWith('inference')
      ? `extract: ${stage}`
      : 'extract: the rest (shard encoding, SHA-256, logging, messaging, JavaScript)';
  }
  return 'main thread: state machine runner, map bookkeeping, check-run';
}

interface GroupCpu {
  group: string;
  cpuMsPerImage: number;
  share: number;
}

function stageGroups(stages: readonly StageCpu[]): GroupCpu[] {
  const groups = Map.groupBy(stages, groupOf);
  return [...groups]
    .map(([group, rows]) => ({
      group,
      cpuMsPerImage: round(
        rows.reduce((sum, row) => sum + row.cpuMsPerImage, 0),
        3,
      ),
      share: round(
        rows.reduce((sum, row) => sum + row.share, 0),
        4,
      ),
    }))
    .sort((a, b) => b.cpuMsPerImage - a.cpuMsPerImage);
}

/** V8's profiler thread, whose CPU time is the profile's cost, not the pipeline's. */
const profilerThread = 'v8:ProfEvntProc';

/** The process's CPU time less the profiler thread's. */
function unprofiledCpuMs(m: Measurement): number {
  return m.processCpuMs - m.threads.filter((thread) => thread.name === profilerThread).reduce((sum, thread) => sum + thread.cpuMs, 0);
}

interface WorkerWaits {
  tid: number;
  batches: number;
  /** Shares of the extraction window (first batch's start to last batch's end). */
  inBatchBusy: number;
  inBatchWaiting: number;
  betweenBatches: number;
  /** Mean ms from one batch's end to the next one's start on this worker. */
  meanGapMs: number;
}

/** Per extract worker: how the extraction window divides between working, waiting inside a batch, and no batch. */
function workerWaits(m: Measurement): WorkerWaits[] {
  const events = m.handlers.flatMap((report) =>
    report.folder === 'extract' && report.event ? [{ tid: report.tid, ...report.event }] : [],
  );
  const byThread = Map.groupBy(events, (event) => event.tid);
  const window = m.extraction.endMs - m.extraction.startMs;
  return [...byThread].map(([tid, reports]) => {
    const inBatch = reports.reduce((sum, r) => sum + (r.endMs - r.startMs), 0);
    const waiting = reports.reduce((sum, r) => sum + r.idleMs, 0);
    const ordered = reports.toSorted((a, b) => a.startMs - b.startMs);
    const gaps = ordered.slice(1).map((event, i) => event.startMs - ordered[i]!.endMs);
    return {
      tid,
      batches: reports.length,
      inBatchBusy: round((inBatch - waiting) / window, 3),
      inBatchWaiting: round(waiting / window, 3),
      betweenBatches: round(1 - inBatch / window, 3),
      meanGapMs: round(gaps.reduce((sum, gap) => sum + gap, 0) / Math.max(gaps.length, 1), 1),
    };
  });
}

function summary(m: Measurement) {
  const cores = availableParallelism();
  return {
    input,
    images: m.images,
    batchSize: Number(args['batch-size']),
    workers: Number(args.workers),
    imagesPerSecond: round(m.images / (m.wallMs / 1000), 1),
    /** The profiler's own thread left out. */
    cpuMsPerImage: round(unprofiledCpuMs(m) / m.images, 2),
    /** Of what the process's CPU time would allow on every core: the rest is cores left idle. */
    cpuBoundShare: round(unprofiledCpuMs(m) / (m.wallMs * cores), 3),
    /** Wall seconds before the extraction map's batches (listing, models loading), during it, and after (the tail). */
    wallSeconds: {
      before: round((m.extraction.startMs - m.startMs) / 1000, 2),
      extraction: round((m.extraction.endMs - m.extraction.startMs) / 1000, 2),
      after: round((m.startMs + m.wallMs - m.extraction.endMs) / 1000, 2),
    },
    /** The share of the cores' time the process used during the extraction map (profiler included). */
    cpuBoundShareInExtraction: round(
      (m.extraction.endCpuMs - m.extraction.startCpuMs) / ((m.extraction.endMs - m.extraction.startMs) * cores),
      3,
    ),
    load: m.load,
  };
}

function printReport(m: Measurement, groups: readonly GroupCpu[], stages: readonly StageCpu[], waits: readonly WorkerWaits[]): void {
  const s = summary(m);
  console.log(`profile of the local pipeline over ${s.input}: ${s.images} images, batches of ${s.batchSize}, ${s.workers} workers`);
  console.log(
    `  ${s.imagesPerSecond} images/s, ${s.cpuMsPerImage} ms of CPU per image; CPU used ${pct(s.cpuBoundShare)} of the cores' time; ` +
      `${pct(s.cpuBoundShareInExtraction)} during the extraction map`,
  );
  const { before, extraction, after } = s.wallSeconds;
  console.log(`  wall: ${before} s before the first batch, ${extraction} s of extraction, ${after} s after the last batch`);
  console.log(`  ${describeLoad(m.load)}`);
  console.log(`\n  ${'where the CPU time goes'.padEnd(86)} ms CPU/image   share`);
  for (const row of groups)
    console.log(`  ${row.group.padEnd(86)} ${row.cpuMsPerImage.toFixed(2).padStart(12)} ${pct(row.share).padStart(7)}`);
  // The detail, thread by thread: rows under 0.5 % of the CPU are added up in one line.
  const shown = stages.filter((row) => row.share >= 0.005);
  console.log(`\n  ${'threads'.padEnd(45)} ${'stage'.padEnd(40)} ms CPU/image   share`);
  for (const row of shown) {
    console.log(
      `  ${row.threads.padEnd(45)} ${row.stage.padEnd(40)} ${row.cpuMsPerImage.toFixed(2).padStart(12)} ${pct(row.share).padStart(7)}`,
    );
  }
  const rest = stages.filter((row) => row.share < 0.005);
  const restMs = rest.reduce((sum, row) => sum + row.cpuMsPerImage, 0);
  const restShare = rest.reduce((sum, row) => sum + row.share, 0);
  console.log(
    `  ${`${rest.length} more, each under 0.5 % (--json lists them)`.padEnd(86)} ${restMs.toFixed(2).padStart(12)} ${pct(restShare).padStart(7)}`,
  );
  console.log('\n  extract worker   batches   working   waiting in a batch   between batches   mean gap   (shares of the extraction map)');
  for (const w of waits) {
    console.log(
      `  ${String(w.tid).padEnd(16)} ${String(w.batches).padStart(7)} ${pct(w.inBatchBusy).padStart(9)} ${pct(w.inBatchWaiting).padStart(20)} ${pct(w.betweenBatches).padStart(17)} ${`${w.meanGapMs} ms`.padStart(10)}`,
    );
  }
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

if (args.measure) {
  process.stdout.write(`${JSON.stringify(await measure())}\n`);
} else {
  // A failed profiled run is its own error line (the temporary profiles removed first), never a stack trace.
  await profile().catch((error: Error) => scriptFailed(import.meta.filename, `the profiled run failed: ${error.message}`));
}
