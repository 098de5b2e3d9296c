/**
 * One benchmark measurement, run in a fresh process by bench/bench.ts so that its peak memory is its own.
 * Usage: node bench/scenario.ts <json options>; prints one JSON line with the figures.
 * An engine is warmed at the measured batch size before the clock starts (warm-engine.ts): the figures are a long
 * run's, per image; what a container's first batch costs once is the cold start's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import pMap from 'p-map';
import { extractBatch } from '../functions/extract/extract-batch.ts';
import { type EngineName, extractionSettings, reduceSettings } from '../functions/shared/config.ts';
import { type PreprocessOptions, preprocessImage } from '../functions/shared/images/preprocess-image.ts';
import { featureEngine } from '../functions/shared/model/engine-factory.ts';
import { FsStorage } from '../functions/shared/storage/fs-storage.ts';
import { jsonArg } from './bench-args.ts';
import { warmAtBatchSize } from './warm-engine.ts';

export interface ScenarioOptions {
  /**
   * decode: read and preprocess; inference: the engine on preprocessed images; batch: the extract function's
   * path (read, decode, infer, write a shard); pipeline: the whole local state machine over `root`, every core;
   * reduce-validate: the reducer and validator over synthetic shards of `rows` rows; refuse: one huge image;
   * cold-start: a fresh process until the extract handler's engine is ready (Lambda's INIT phase).
   */
  kind: 'decode' | 'inference' | 'batch' | 'pipeline' | 'reduce-validate' | 'refuse' | 'cold-start';
  /** Folder the keys are relative to. */
  root: string;
  keys: string[];
  engine: EngineName;
  /** Inference mini-batch size (inference, batch). */
  batchSize: number;
  /** Images decoded at once (decode, batch). */
  concurrency: number;
  /** Synthetic rows (reduce-validate). */
  rows?: number;
}

export interface ScenarioResult {
  images: number;
  seconds: number;
  imagesPerSecond: number;
  peakRssMiB: number;
  /** CPU time (user + system, every thread) of the measured work, per image. */
  cpuMsPerImage: number;
  /** CPU time of the whole process, set-up included: what bench.ts subtracts from the machine's busy time. */
  processCpuSeconds: number;
  engine?: string;
  /** Seconds of the scenario's parts: reduce-validate's steps; the pipeline's time around its extraction map. */
  steps?: Record<string, number>;
  /** The pipeline's extraction map alone: its rate between its first batch's end and its last's. */
  mapImagesPerSecond?: number;
}

const options = jsonArg<ScenarioOptions>(
  import.meta.filename,
  `'{"kind":"decode","root":"<folder>","keys":["<label>/<image>"],"concurrency":2}'`,
);
const settings = extractionSettings();
const preprocess: PreprocessOptions = { size: 224, resize: settings.resize, maxPixels: settings.maxPixels };

const result = await run(options);
process.stdout.write(`${JSON.stringify(result)}\n`);

async function run(o: ScenarioOptions): Promise<ScenarioResult> {
  switch (o.kind) {
    case 'decode': {
      const files = await Promise.all(o.keys.map((key) => readFile(join(o.root, key))));
      // Each image's pixels dropped once made, as the extract path hands them on: holding them all would grow the
      // heap with the number of images decoded.
      const measured = await timedValue(() =>
        pMap(
          files,
          async (bytes) => {
            await preprocessImage(bytes, preprocess);
          },
          { concurrency: o.concurrency },
        ),
      );
      return figures(files.length, measured);
    }
    case 'inference': {
      const engine = await featureEngine(o.engine, settings.modelDir);
      const pixels: Uint8Array[] = [];
      for (const key of o.keys) {
        const result = await preprocessImage(await readFile(join(o.root, key)), preprocess);
        if (result.ok) pixels.push(result.pixels);
      }
      await warmAtBatchSize(engine, o.batchSize);
      const measured = await timedValue(async () => {
        for (let i = 0; i < pixels.length; i += o.batchSize) await engine.extract(pixels.slice(i, i + o.batchSize));
      });
      return { ...figures(pixels.length, measured), engine: engine.id };
    }
    case 'batch': {
      const engine = await featureEngine(o.engine, settings.modelDir);
      await warmAtBatchSize(engine, o.batchSize);
      const out = await mkdtemp(join(tmpdir(), 'bench-batch-'));
      try {
        const measured = await timedValue(() =>
          extractBatch(
            { runId: 'bench', items: o.keys.map((key) => ({ key })), input: new FsStorage(o.root), output: new FsStorage(out) },
            engine,
            {
              preprocess: { resize: settings.resize, maxPixels: settings.maxPixels },
              maxBytes: settings.maxBytes,
              inferenceBatchSize: o.batchSize,
              readConcurrency: o.concurrency,
            },
          ),
        );
        return { ...figures(o.keys.length, measured), engine: engine.id };
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    }
    case 'pipeline': {
      // Imported here, not above: what a scenario does not use must not count in its peak memory.
      const [{ runPipeline }, { newRunId }] = await Promise.all([
        import('../statemachine/local/run-pipeline.ts'),
        import('../functions/shared/run-layout.ts'),
      ]);
      const out = await mkdtemp(join(tmpdir(), 'bench-pipeline-'));
      // When the extraction map's first and last batches ended: the run's time outside the map, which the limit has
      // not. And the images of the batches that ended between: the map's own rate, near enough (the other workers'
      // first batches began before that window, and the last batch ends with the other workers idle).
      let firstBatchEnd: number | undefined;
      let lastBatchEnd = 0;
      let imagesAfterFirstBatch = 0;
      try {
        const started = performance.now();
        const listed = await timedValue(() =>
          runPipeline({
            runId: newRunId(),
            input: { bucket: o.root, prefix: '' },
            output: { bucket: out, prefix: '' },
            maxItemsPerBatch: 50,
            maxConcurrency: 0,
            toleratedFailurePercentage: 5,
            workers: availableParallelism(),
            env: { ...process.env, FEATURIZE_ENGINE: o.engine },
            observer: {
              childFinished: ({ items }) => {
                lastBatchEnd = performance.now();
                if (firstBatchEnd === undefined) firstBatchEnd = lastBatchEnd;
                else imagesAfterFirstBatch += items;
              },
            },
          }).then((outcome) => {
            if (outcome.status !== 'SUCCEEDED') throw new Error(`the pipeline failed: ${JSON.stringify(outcome.error)}`);
            return (outcome.stateOutputs.get('FinishReduce') as { reduce: { listed: number } }).reduce.listed;
          }),
        );
        const ended = performance.now();
        const steps = {
          'first batch done at': round(((firstBatchEnd ?? ended) - started) / 1000, 2),
          'after the last batch': round((ended - lastBatchEnd) / 1000, 2),
        };
        const mapSeconds = (lastBatchEnd - (firstBatchEnd ?? lastBatchEnd)) / 1000;
        return {
          ...figures(listed.value, listed),
          engine: o.engine,
          steps,
          ...(mapSeconds > 0 ? { mapImagesPerSecond: round(imagesAfterFirstBatch / mapSeconds, 1) } : {}),
        };
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    }
    case 'reduce-validate':
      return reduceAndValidate(o.rows ?? 20_000);
    case 'cold-start': {
      // From the process's start (performance's time origin): Node's own start, the handler module's imports, the
      // engine's session, as a container's INIT runs them before its first batch.
      process.env.FEATURIZE_ENGINE = o.engine;
      const cpu = process.cpuUsage();
      const { coldStart } = await import('../functions/extract/handler.ts');
      await coldStart;
      const used = process.cpuUsage(cpu);
      return { ...figures(1, { seconds: performance.now() / 1000, cpuSeconds: (used.user + used.system) / 1e6 }), engine: o.engine };
    }
    case 'refuse': {
      const bytes = await readFile(join(o.root, o.keys[0]!));
      let code = '';
      const measured = await timedValue(async () => {
        const result = await preprocessImage(bytes, preprocess);
        code = result.ok ? 'decoded' : result.failure.code;
      });
      return { ...figures(1, measured), engine: code };
    }
  }
}

/** Wall time and the CPU time of this process (every thread, user + system) while `work` ran. */
interface Measured {
  seconds: number;
  cpuSeconds: number;
}

async function timedValue<T>(work: () => Promise<T>): Promise<Measured & { value: T }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const value = await work();
  const used = process.cpuUsage(cpu);
  return { value, seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Shards of synthetic vectors in batches of 100, as the map leaves them (synthetic-run.ts); then reduce, then validate. */
async function reduceAndValidate(rows: number): Promise<ScenarioResult> {
  const [{ auditRun, reduceRun }, { defaultVectorShape }, { openStorage }, { listedInputs }, { validateRun }, { writeSyntheticRun }] =
    await Promise.all([
      import('../test/support/reduce-run.ts'),
      import('../functions/shared/model/model-descriptor.ts'),
      import('../functions/shared/storage/open-storage.ts'),
      import('../functions/shared/dataset/listed-inputs.ts'),
      import('../functions/validate/validate-run.ts'),
      import('./synthetic-run.ts'),
    ]);
  const dir = await mkdtemp(join(tmpdir(), 'bench-reduce-'));
  try {
    const run = await writeSyntheticRun(dir, rows);
    const output = openStorage(run.output);
    const reduced = await timedValue(() =>
      reduceRun(
        { runId: run.runId, input: openStorage({ bucket: run.input.bucket }), output, outputPrefix: '', startedAt: run.startedAt },
        reduceSettings(),
      ),
    );
    // Validation: each group's audit (in the ReduceParts children on AWS), then their sum.
    const validated = await timedValue(async () => {
      await auditRun(run);
      return validateRun(
        {
          runId: run.runId,
          output,
          scope: run.scope,
          listInputs: () => listedInputs(run),
          listedByParts: true,
          mapError: null,
          toleratedFailurePercentage: 0,
          reduce: reduced.value,
        },
        defaultVectorShape,
      );
    });
    if (!validated.value.passed) throw new Error(`validation failed: ${validated.value.summary}`);
    return {
      ...figures(rows, { seconds: reduced.seconds + validated.seconds, cpuSeconds: reduced.cpuSeconds + validated.cpuSeconds }),
      steps: { reduce: round(reduced.seconds, 2), validate: round(validated.seconds, 2) },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function figures(images: number, { seconds, cpuSeconds }: Measured): ScenarioResult {
  const processCpu = process.cpuUsage();
  return {
    images,
    seconds: round(seconds, 3),
    imagesPerSecond: round(images / seconds, 1),
    cpuMsPerImage: round((1000 * cpuSeconds) / images, 2),
    processCpuSeconds: round((processCpu.user + processCpu.system) / 1e6, 3),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
