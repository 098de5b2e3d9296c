/**
 * One benchmark measurement, run in a fresh process by bench/bench.ts so that its peak memory is its own.
 * Usage: node bench/scenario.ts <json options>; prints one JSON line with the figures.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pMap from 'p-map';
import { extractBatch } from '../functions/extract/extract-batch.ts';
import { extractionSettings, type EngineName } from '../functions/shared/config.ts';
import { preprocessImage, type PreprocessOptions } from '../functions/shared/images/preprocess-image.ts';
import { featureEngine } from '../functions/shared/model/feature-engine.ts';
import { FsStorage } from '../functions/shared/storage/fs-storage.ts';

export interface ScenarioOptions {
  kind: 'decode' | 'inference' | 'batch' | 'refuse';
  /** Folder the keys are relative to. */
  root: string;
  keys: string[];
  engine: EngineName;
  /** Inference mini-batch size (inference, batch). */
  batchSize: number;
  /** Images decoded at once (decode, batch). */
  concurrency: number;
}

export interface ScenarioResult {
  images: number;
  seconds: number;
  imagesPerSecond: number;
  peakRssMiB: number;
  engine?: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ScenarioOptions;
const settings = extractionSettings();
const preprocess: PreprocessOptions = { size: 224, resize: settings.resize, maxPixels: settings.maxPixels };

const result = await run(options);
process.stdout.write(`${JSON.stringify(result)}\n`);

async function run(o: ScenarioOptions): Promise<ScenarioResult> {
  switch (o.kind) {
    case 'decode': {
      const files = await Promise.all(o.keys.map((key) => readFile(join(o.root, key))));
      const seconds = await timed(() => pMap(files, (bytes) => preprocessImage(bytes, preprocess), { concurrency: o.concurrency }));
      return figures(files.length, seconds);
    }
    case 'inference': {
      const engine = await featureEngine(o.engine, settings.modelDir);
      const pixels: Uint8Array[] = [];
      for (const key of o.keys) {
        const result = await preprocessImage(await readFile(join(o.root, key)), preprocess);
        if (result.ok) pixels.push(result.pixels);
      }
      const seconds = await timed(async () => {
        for (let i = 0; i < pixels.length; i += o.batchSize) await engine.extract(pixels.slice(i, i + o.batchSize));
      });
      return { ...figures(pixels.length, seconds), engine: engine.id };
    }
    case 'batch': {
      const engine = await featureEngine(o.engine, settings.modelDir);
      const out = await mkdtemp(join(tmpdir(), 'bench-batch-'));
      try {
        const seconds = await timed(() =>
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
        return { ...figures(o.keys.length, seconds), engine: engine.id };
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    }
    case 'refuse': {
      const bytes = await readFile(join(o.root, o.keys[0]!));
      let code = '';
      const seconds = await timed(async () => {
        const result = await preprocessImage(bytes, preprocess);
        code = result.ok ? 'decoded' : result.failure.code;
      });
      return { ...figures(1, seconds), engine: code };
    }
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

function figures(images: number, seconds: number): ScenarioResult {
  return {
    images,
    seconds: round(seconds, 3),
    imagesPerSecond: round(images / seconds, 1),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
