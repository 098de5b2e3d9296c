/**
 * `npm run bench`: throughput and peak memory of each stage, on this machine, in one run, every engine side by
 * side. Each figure comes from its own child process (bench/scenario.ts, bench/measure-inference.ts), so that
 * peak RSS is that scenario's own. Ends with the ratios (pipeline vs raw inference, engine vs engine) and the
 * cost per million images on Lambda computed from the measured per-image time.
 *
 *   node bench/bench.ts [--images N] [--engines onnx,tfjs,onnx-int8] [--pipeline-input <folder>] [--json results.json]
 *                       [--only stages,all-cores,pipeline,tail] [--rounds N]
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultImagesDir, type EngineName, engineNames, extractionSettings } from '../functions/shared/config.ts';
import { FsStorage } from '../functions/shared/storage/fs-storage.ts';
import { estimateCost, formatCostEstimate } from '../infra/cost-estimate.ts';
import { coldStartSeconds } from '../infra/extract-sizing.ts';
import { settingSources } from '../infra/settings.ts';
import { benchArgs, folderArg, namesArg, scriptFailed, wholeNumberArg } from './bench-args.ts';
import { runScript } from './child-script.ts';
import { cpuTimes, describeLoad, type LoadDuring, loadDuring } from './machine-load.ts';
import type { Measurement, MeasurementResult } from './measure-inference.ts';
import type { ScenarioOptions, ScenarioResult } from './scenario.ts';

/** A scenario's process: its failure ends the bench with the scenario's own error line. */
function runScenario(...args: Parameters<typeof runScript>): Promise<string> {
  return runScript(...args).catch((error: Error) => scriptFailed(import.meta.filename, `a scenario failed: ${error.message}`));
}

/**
 * Passes over the limit's images when decoding them around a pipeline. Since small JPEGs are enlarged outside sharp
 * the 480 decode in under a second, and in so short a window what the load check cannot count as the scenario's
 * own (its process's exit, the kernel's work starting it) came to 5-6 % "others" on decode stages while the
 * inference stages beside them showed 1-3 %. Four passes make the window several seconds, as inference's is.
 */
const limitDecodePasses = 4;

/** Labels of the limit's stages measured again right before the pipeline and right after it. */
const beforePipeline = (engine: EngineName) => `, right before the ${engine} pipeline`;
const afterPipeline = (engine: EngineName) => `, after the ${engine} pipeline`;
/** Past this much apart, the limit's two measurements say the machine's speed changed: the share is not a result. */
const maxLimitDrift = 0.1;
const scenarioScript = new URL('./scenario.ts', import.meta.url).pathname;
const inferenceScript = new URL('./measure-inference.ts', import.meta.url).pathname;

const imagesDir = defaultImagesDir();
// The defaults a run gets (FEATURIZE_ENGINE, FEATURIZE_INFERENCE_BATCH), whatever this shell sets.
const { engine: defaultEngine, inferenceBatchSize: defaultBatch } = extractionSettings({});
/** What `--only` may name: the stages one at a time, inference on every core, the whole pipeline, the steps after it. */
const benchParts = ['stages', 'all-cores', 'pipeline', 'tail'] as const;
const args = benchArgs(import.meta.filename, {
  images: { type: 'string', default: '480' },
  // The default engine first: the summary's ratios read "default ÷ other". The opt-in onnx-int8 engine only when
  // named (`--engines onnx,onnx-int8`, after `npm run build:onnx-int8`).
  engines: {
    type: 'string',
    default: [defaultEngine, ...engineNames.filter((name) => name !== defaultEngine && name !== 'onnx-int8')].join(','),
  },
  'pipeline-input': { type: 'string', default: join(imagesDir, 'fruits-360-large') },
  json: { type: 'string' },
  // Some parts only, e.g. to measure again what a busy machine disturbed.
  only: { type: 'string', default: benchParts.join(',') },
  // The pipeline and the limit around it, this many times: on a host whose speed drifts, several rounds give results.
  rounds: { type: 'string', default: '1' },
});
const parts = new Set(namesArg(import.meta.filename, 'only', args.only, benchParts));
const rounds = wholeNumberArg(import.meta.filename, 'rounds', args.rounds);
// The CLI's own rule: a relative folder is the shell's, not the runner's.
const pipelineInput = resolve(args['pipeline-input']);
if (parts.has('pipeline')) folderArg(import.meta.filename, 'pipeline-input', pipelineInput);
/** The labels of a round's pipeline and limit rows: the first round's are unmarked, so that the summary table reads them. */
const roundLabel = (round: number) => (round === 1 ? '' : `, round ${round}`);
const sampleSize = wholeNumberArg(import.meta.filename, 'images', args.images);
const engines = namesArg(import.meta.filename, 'engines', args.engines, engineNames);
const cores = availableParallelism();
const datasets = {
  'fruits-360-large': join(imagesDir, 'fruits-360-large'),
  photos: join(imagesDir, 'photos'),
};

interface Row extends Omit<ScenarioResult, 'processCpuSeconds'> {
  stage: string;
  dataset: string;
  setting: string;
  /** How busy the machine was meanwhile: a figure with `quiet: false` is not a result. */
  load: LoadDuring;
}
const rows: Row[] = [];
const find = (stage: string, dataset: string, setting: string) =>
  rows.find((row) => row.stage === stage && row.dataset === dataset && row.setting === setting);

console.log(`featurize bench: ${cpus()[0]?.model ?? 'cpu'} x${cores}, node ${process.version}`);
/** The fruits-360-large images the stages measured: measured again right before and after the pipeline, for the limit. */
let limitKeys: string[] = [];
for (const [dataset, root] of parts.has('stages') ? Object.entries(datasets) : []) {
  const keys = evenlySpaced(await listImages(root), sampleSize);
  if (keys.length === 0)
    scriptFailed(import.meta.filename, `no images in ${root}: set FEATURIZE_IMAGES_DIR to the folder holding ${dataset}/`);
  if (dataset === 'fruits-360-large') limitKeys = keys;
  console.log(`\n${dataset}: ${keys.length} images, one process each`);
  await measure('decode+resize', dataset, 'concurrency 1', { kind: 'decode', root, keys, concurrency: 1 });
  await measure('decode+resize', dataset, `concurrency ${cores}`, { kind: 'decode', root, keys, concurrency: cores });
  // Engine by engine at each batch size: the engines side by side, measured minutes apart at most.
  for (const batchSize of [1, 8, 16, 32]) {
    for (const engine of engines) {
      await measure('inference', dataset, `${engine} batch ${batchSize}`, { kind: 'inference', root, keys, engine, batchSize });
    }
  }
  for (const batchSize of [8, 16, 32]) {
    for (const engine of engines) {
      await measure('batch path', dataset, `${engine} batch ${batchSize}`, {
        kind: 'batch',
        root,
        keys,
        engine,
        batchSize,
        concurrency: 8,
      });
    }
  }
}

if (parts.has('all-cores')) {
  console.log(`\ninference alone on every core: ${cores} worker threads, one engine each (as the local runner), batch ${defaultBatch}`);
  for (const engine of engines) await measureAllCores(engine);
}

if (parts.has('pipeline')) {
  console.log(`\nthe whole local pipeline (featurize run: map, reduce, validate, publish, report) over ${pipelineInput}`);
  // This machine's speed drifts by 10-20 % within minutes while /proc/stat shows it quiet: the limit's stages are
  // measured again right before the pipeline and right after it, and a share of the limit whose two measurements
  // disagree is not a result.
  const limitAround = parts.has('stages') && parts.has('all-cores');
  // Around each engine's own pipeline: with two engines, one limit around both would lie a pipeline away from each.
  for (const engine of engines) {
    for (let round = 1; round <= rounds; round++) {
      const label = roundLabel(round);
      if (limitAround) await measureLimit(engine, `${beforePipeline(engine)}${label}`);
      await measure('pipeline', 'pipeline', `${engine}${label}`, { kind: 'pipeline', root: pipelineInput, engine });
      if (limitAround) await measureLimit(engine, `${afterPipeline(engine)}${label}`);
    }
  }
}

if (parts.has('tail')) {
  console.log('\nreduce and validate, 20,000 synthetic rows in batches of 100');
  await measure('reduce+validate', 'synthetic', '20000 rows', { kind: 'reduce-validate', rows: 20_000 });

  console.log('\ncold start: a fresh process until the extract handler is ready for its first batch (INIT)');
  for (const engine of engines) await measure('cold start', 'init', engine, { kind: 'cold-start', engine });

  console.log('\nrefusing huge images from their header (TOO_LARGE)');
  const edgeCases = join(imagesDir, 'edge-cases');
  for (const file of ['huge_20000x14000_gray.jpg', 'huge_65536x65536_1bit.png']) {
    await measure('refuse', 'edge-cases', file, { kind: 'refuse', root: edgeCases, keys: [file] });
  }
}

printSummary();
if (args.json) await writeFile(args.json, `${JSON.stringify(rows, null, 2)}\n`);

async function measure(stage: string, dataset: string, setting: string, options: Partial<ScenarioOptions>): Promise<void> {
  const full: ScenarioOptions = { engine: 'onnx', batchSize: defaultBatch, concurrency: 8, keys: [], root: '', kind: 'decode', ...options };
  const before = cpuTimes();
  const stdout = await runScenario([scenarioScript, JSON.stringify(full)], {
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' },
    maxBuffer: 1 << 24,
  });
  const after = cpuTimes();
  const { processCpuSeconds, ...result } = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ScenarioResult;
  report({ stage, dataset, setting, ...result, load: loadDuring(before, after, processCpuSeconds) });
}

/** The issue's yardstick for one engine: decode + resize on every core, then its inference alone on every core. */
async function measureLimit(engine: EngineName, suffix: string): Promise<void> {
  console.log(`\nthe limit${suffix}: decode + resize on every core, inference alone on every core`);
  const root = datasets['fruits-360-large'];
  await measure('decode+resize', 'fruits-360-large', `concurrency ${cores}${suffix}`, {
    kind: 'decode',
    root,
    keys: Array.from({ length: limitDecodePasses }, () => limitKeys).flat(),
    concurrency: cores,
  });
  await measureAllCores(engine, suffix);
}

async function measureAllCores(engine: EngineName, suffix = ''): Promise<void> {
  const measurement: Measurement = { engine, workers: cores, batch: defaultBatch, images: sampleSize, env: {} };
  const before = cpuTimes();
  const stdout = await runScenario([inferenceScript, JSON.stringify(measurement)], {
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
  });
  const after = cpuTimes();
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as MeasurementResult;
  report({
    stage: 'inference',
    dataset: 'reference',
    setting: `${engine} ${cores} workers${suffix}`,
    images: sampleSize,
    seconds: Number((sampleSize / result.imagesPerSecond).toFixed(3)),
    imagesPerSecond: Number(result.imagesPerSecond.toFixed(1)),
    peakRssMiB: result.peakRssMb,
    cpuMsPerImage: Number(result.cpuMsPerImage.toFixed(2)),
    engine,
    load: loadDuring(before, after, result.processCpuSeconds),
  });
}

function report(row: Row): void {
  rows.push(row);
  const rate =
    row.stage === 'refuse' || row.stage === 'cold start'
      ? `${(row.seconds * 1000).toFixed(0).padStart(6)} ms`
      : `${row.imagesPerSecond.toFixed(1).padStart(7)} img/s`;
  const steps = row.steps
    ? `  (${Object.entries(row.steps)
        .map(([step, s]) => `${step} ${s} s`)
        .join(', ')})`
    : '';
  console.log(
    `  ${row.stage.padEnd(16)} ${row.setting.padEnd(26)} ${rate}  ${row.cpuMsPerImage.toFixed(2).padStart(7)} ms CPU/img  peak ${String(row.peakRssMiB).padStart(5)} MiB${row.engine ? `  (${row.engine})` : ''}${steps}`,
  );
  console.log(`  ${''.padEnd(16)} ${describeLoad(row.load)}`);
}

/** A figure with `digits` decimals, padded to `width`; `-` for one this run did not measure (`--only`). */
function shown(value: number, digits: number, width = 0): string {
  return (Number.isFinite(value) ? value.toFixed(digits) : '-').padStart(width);
}

/** The figures that answer the questions: what the pipeline costs over raw inference, and engine against engine. */
function printSummary(): void {
  console.log(`\nsummary (fruits-360-large, batch ${defaultBatch}, images/s on this machine)`);
  // One process: ONNX Runtime spreads one engine over every core (intra-op threads), TF.js wasm uses one thread.
  console.log('  engine    inference 1 process   inference all cores   batch path 1 process   pipeline all cores   pipeline ÷ inference');
  const figures = new Map<EngineName, { single: number; all: number; batch: number; pipeline: number }>();
  for (const engine of engines) {
    const single = find('inference', 'fruits-360-large', `${engine} batch ${defaultBatch}`)?.imagesPerSecond ?? Number.NaN;
    const all = find('inference', 'reference', `${engine} ${cores} workers`)?.imagesPerSecond ?? Number.NaN;
    const batch = find('batch path', 'fruits-360-large', `${engine} batch ${defaultBatch}`)?.imagesPerSecond ?? Number.NaN;
    const pipeline = find('pipeline', 'pipeline', engine)?.imagesPerSecond ?? Number.NaN;
    figures.set(engine, { single, all, batch, pipeline });
    console.log(
      `  ${engine.padEnd(9)} ${shown(single, 1, 19)} ${shown(all, 1, 21)} ${shown(batch, 1, 22)} ${shown(pipeline, 1, 20)} ${shown(pipeline / all, 2, 22)}`,
    );
  }
  // The machine's limit for an engine: its cores kept busy decoding and inferring, nothing else (the issue's yardstick),
  // measured right before the pipeline and right after it; the pipeline is judged against their mean.
  for (const engine of engines) {
    const judged = Array.from({ length: rounds }, (_, index) => judgeShare(engine, roundLabel(index + 1))).filter(
      (share) => share !== undefined,
    );
    const results = judged.filter((share) => share.result !== undefined).map((share) => share.result);
    if (judged.length > 1) {
      console.log(
        `  ${engine}: ${results.length} of ${judged.length} rounds were results${results.length > 0 ? `: ${results.join('; ')}` : ''}`,
      );
    }
  }
  const [first, second] = engines;
  if (first && second) {
    const a = figures.get(first)!;
    const b = figures.get(second)!;
    const ratio = (x: number, y: number) => (Number.isFinite(x / y) ? `${(x / y).toFixed(2)}x` : '-');
    console.log(
      `  ${first} ÷ ${second}: inference ${ratio(a.single, b.single)} in one process, ${ratio(a.all, b.all)} on all cores, ` +
        `batch path ${ratio(a.batch, b.batch)}, pipeline ${ratio(a.pipeline, b.pipeline)}`,
    );
  }

  const reduce = find('reduce+validate', 'synthetic', '20000 rows');
  for (const engine of engines) {
    const batchRow = find('batch path', 'fruits-360-large', `${engine} batch ${defaultBatch}`);
    if (!reduce?.steps || !batchRow) continue;
    const perMillion = 1_000_000 / reduce.images;
    for (const extractArchitecture of ['x86_64', 'arm64'] as const) {
      const estimate = estimateCost({
        extractArchitecture,
        images: 1_000_000,
        // The extract function's own path, its CPU time per image: what Lambda bills on the function's vCPUs.
        // The deployment's defaults (infra/settings.ts) for everything not measured here.
        cpuMsPerImage: batchRow.cpuMsPerImage,
        extractMemoryMb: settingSources.extractMemoryMb.default,
        maxItemsPerBatch: settingSources.maxItemsPerBatch.default,
        maxConcurrency: settingSources.maxConcurrency.default,
        coldStartSeconds,
        reduceSeconds: (reduce.steps.reduce ?? 0) * perMillion,
        reduceMemoryMb: settingSources.reducePartMemoryMb.default,
        validateSeconds: (reduce.steps.validate ?? 0) * perMillion,
        validateMemoryMb: settingSources.validateMemoryMb.default,
      });
      // The estimate bills CPU time over the function's vCPUs, which holds only while the path keeps them busy.
      const coresBusy = (batchRow.imagesPerSecond * batchRow.cpuMsPerImage) / 1000;
      console.log(
        `\ncost per million images on Lambda, ${engine}, extract on ${extractArchitecture} (${batchRow.cpuMsPerImage.toFixed(1)} ms of CPU per image measured here on x86_64, the path keeping ${coresBusy.toFixed(2)} of ${cores} cores busy; arm64 not measured):`,
      );
      console.log(formatCostEstimate(estimate));
    }
  }
}

/**
 * One round's pipeline against the limit measured around it: prints the share, the time outside the map and why it
 * is not a result, if it is not; undefined when the round measured no pipeline or no limit.
 */
function judgeShare(engine: EngineName, label: string): { result?: string } | undefined {
  const name = `${engine}${label}`;
  const pipeline = find('pipeline', 'pipeline', name);
  const limitRows = [beforePipeline(engine), afterPipeline(engine)].flatMap((position) => {
    const suffix = `${position}${label}`;
    const decode = find('decode+resize', 'fruits-360-large', `concurrency ${cores}${suffix}`);
    const inference = find('inference', 'reference', `${engine} ${cores} workers${suffix}`);
    return decode && inference ? [{ decode, inference }] : [];
  });
  if (!pipeline || limitRows.length === 0) return undefined;
  const limits = limitRows.map(({ decode, inference }) => ({ decodeMs: decode.cpuMsPerImage, inferenceMs: inference.cpuMsPerImage }));
  const totals = limits.map(({ decodeMs, inferenceMs }) => decodeMs + inferenceMs);
  const limitMs = totals.reduce((sum, total) => sum + total, 0) / totals.length;
  const limit = (cores * 1000) / limitMs;
  const share = pipeline.imagesPerSecond / limit;
  const measured = limits.map(({ decodeMs, inferenceMs }) => `decode ${decodeMs.toFixed(2)} + inference ${inferenceMs.toFixed(2)}`);
  console.log(
    `  ${name}: ${measured.join(' before the pipeline, ')}${limits.length > 1 ? ' after it' : ''}: ${limitMs.toFixed(2)} ms of CPU per image, ` +
      `a limit of ${limit.toFixed(1)} images/s on ${cores} cores; the pipeline ${pipeline.imagesPerSecond.toFixed(1)} (${share.toFixed(2)} of it), ` +
      `${pipeline.cpuMsPerImage.toFixed(2)} ms of CPU per image (${(pipeline.cpuMsPerImage / limitMs).toFixed(2)} × the limit's)`,
  );
  const outside = pipeline.steps;
  if (outside) {
    console.log(
      `  ${name}: of the pipeline's ${pipeline.seconds.toFixed(1)} s, ${outside['first batch done at']} s until its first batch ended and ` +
        `${outside['after the last batch']} s after its last (start-up, reduce, validate, publish, report), which the limit does not count`,
    );
  }
  const { mapImagesPerSecond } = pipeline;
  const mapShare = mapImagesPerSecond !== undefined ? (mapImagesPerSecond / limit).toFixed(2) : undefined;
  if (mapShare !== undefined) {
    console.log(
      `  ${name}: between those two, the extraction map ran at ${mapImagesPerSecond?.toFixed(1)} images/s, ${mapShare} of the limit`,
    );
  }
  const drift = Math.max(...totals) / Math.min(...totals) - 1;
  // A limit measured while others used the machine is too low, and flatters the share as much as a busy pipeline hurts it.
  const disturbed = [pipeline, ...limitRows.flatMap(({ decode, inference }) => [decode, inference])].filter((row) => !row.load.quiet);
  const notAResult = [
    ...(drift > maxLimitDrift
      ? [`the limit measured ${(drift * 100).toFixed(0)} % apart before and after the pipeline (the machine's speed changed)`]
      : []),
    ...(disturbed.length > 0 ? [`the machine was busy during ${disturbed.map((row) => `${row.stage} ${row.setting}`).join('; ')}`] : []),
  ];
  for (const reason of notAResult) console.log(`  ${name}: NOT A RESULT: ${reason}`);
  return notAResult.length > 0
    ? {}
    : {
        result:
          `${pipeline.imagesPerSecond.toFixed(1)} images/s at ${share.toFixed(2)} of ${limit.toFixed(1)}` +
          (mapShare !== undefined ? ` (its map alone ${mapShare})` : ''),
      };
}

/** Every file under `root`, in the order the pipeline lists them. */
function listImages(root: string): Promise<string[]> {
  return Array.fromAsync(new FsStorage(root).list(), (object) => object.key);
}

/** A deterministic subset spread over every class folder. */
function evenlySpaced<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}
