#!/usr/bin/env node
/**
 * One inference measurement, in a process of its own (so that its peak memory is its own):
 *   node bench/measure-inference.ts '{"engine":"onnx","workers":2,"batch":16,"images":96,"env":{...}}'
 * starts `workers` worker threads, each with its own engine built from FEATURIZE_* settings in `env` (as the
 * local runner's workers would be), feeds them the reference inputs (already 224x224 RGB: inference alone, no
 * decoding) in mini-batches of `batch`, and prints one JSON line: images/s and CPU time per image over the
 * timed run, and peak RSS.
 * Every worker loads its model and is warmed at the batch size (warm-engine.ts) before the clock starts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { defaultModelDir, type EngineName, sharedDir } from '../functions/shared/config.ts';
import { featureEngine } from '../functions/shared/model/engine-factory.ts';
import { jsonArg } from './bench-args.ts';
import { warmAtBatchSize } from './warm-engine.ts';

export interface Measurement {
  engine: EngineName;
  workers: number;
  batch: number;
  images: number;
  /** FEATURIZE_* settings for the engine (FEATURIZE_ORT_INTRA_OP_THREADS, ...). */
  env: Record<string, string>;
}

export interface MeasurementResult {
  imagesPerSecond: number;
  /** CPU time of the whole process (every thread) per image: what a busy neighbour disturbs least. */
  cpuMsPerImage: number;
  /** CPU time of the whole process, model loading included: what bench.ts subtracts from the machine's busy time. */
  processCpuSeconds: number;
  peakRssMb: number;
}

type WorkerMessage = { ready: true } | { done: true };

if (isMainThread) {
  const measurement = jsonArg<Measurement>(import.meta.filename, `'{"engine":"onnx","workers":2,"batch":8,"images":96,"env":{}}'`);
  process.stdout.write(`${JSON.stringify(await measure(measurement))}\n`);
} else {
  await runWorker(workerData as { measurement: Measurement; count: number });
}

async function measure(measurement: Measurement): Promise<MeasurementResult> {
  const counts = Array.from(
    { length: measurement.workers },
    (_, i) => Math.floor(measurement.images / measurement.workers) + (i < measurement.images % measurement.workers ? 1 : 0),
  );
  const workers = counts.map(
    (count) => new Worker(new URL(import.meta.url), { workerData: { measurement, count }, env: { ...process.env, ...measurement.env } }),
  );
  const next = (worker: Worker) =>
    new Promise<WorkerMessage>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  await Promise.all(workers.map(next));
  const [started, cpu] = [performance.now(), process.cpuUsage()];
  const finished = workers.map(next);
  for (const worker of workers) worker.postMessage('go');
  await Promise.all(finished);
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  await Promise.all(workers.map((worker) => worker.terminate()));
  return {
    imagesPerSecond: measurement.images / seconds,
    cpuMsPerImage: (user + system) / 1000 / measurement.images,
    processCpuSeconds: processCpuSeconds(),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

async function runWorker({ measurement, count }: { measurement: Measurement; count: number }): Promise<void> {
  const port = parentPort!;
  const reference = join(sharedDir(), 'reference', 'inputs');
  const inputs = await Promise.all(Array.from({ length: 12 }, (_, i) => readFile(join(reference, `${String(i).padStart(2, '0')}.rgb`))));
  const images = Array.from({ length: count }, (_, i) => inputs[i % inputs.length]!);
  const engine = await featureEngine(measurement.engine, defaultModelDir());
  await warmAtBatchSize(engine, measurement.batch);
  const go = new Promise((resolve) => port.once('message', resolve));
  port.postMessage({ ready: true } satisfies WorkerMessage);
  await go;
  for (let i = 0; i < images.length; i += measurement.batch) await engine.extract(images.slice(i, i + measurement.batch));
  port.postMessage({ done: true } satisfies WorkerMessage);
}

/** CPU time of this whole process so far (every thread, user + system), in seconds. */
function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
