/**
 * `npm run bench`: throughput and peak memory of each stage, on this machine, in one run.
 * Every figure comes from its own child process (bench/scenario.ts), so peak RSS is per scenario.
 *
 *   node bench/bench.ts [--images N] [--engines tfjs,onnx] [--json results.json]
 */
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { defaultImagesDir, engineNames, type EngineName } from '../functions/shared/config.ts';
import { compareKeys } from '../functions/shared/storage/fs-storage.ts';
import type { ScenarioOptions, ScenarioResult } from './scenario.ts';

const run = promisify(execFile);
const scenarioScript = new URL('./scenario.ts', import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    images: { type: 'string', default: '480' },
    engines: { type: 'string', default: engineNames.join(',') },
    json: { type: 'string' },
  },
});
const sampleSize = Number(args.images);
const engines = args.engines.split(',') as EngineName[];
const imagesDir = defaultImagesDir();
const datasets = {
  'fruits-360-large': join(imagesDir, 'fruits-360-large'),
  photos: join(imagesDir, 'photos'),
};

interface Row extends ScenarioResult {
  stage: string;
  dataset: string;
  setting: string;
}
const rows: Row[] = [];

console.log(`featurize bench: ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, node ${process.version}`);
for (const [dataset, root] of Object.entries(datasets)) {
  const keys = evenlySpaced(await listImages(root), sampleSize);
  console.log(`\n${dataset}: ${keys.length} images`);
  await measure('decode+resize', dataset, 'concurrency 1', { kind: 'decode', root, keys, concurrency: 1 });
  await measure('decode+resize', dataset, `concurrency ${availableParallelism()}`, {
    kind: 'decode',
    root,
    keys,
    concurrency: availableParallelism(),
  });
  // Engine by engine at each batch size: the engines side by side, measured minutes apart at most.
  for (const batchSize of [1, 8, 16, 32]) {
    for (const engine of engines) {
      await measure('inference', dataset, `${engine} batch ${batchSize}`, { kind: 'inference', root, keys, engine, batchSize });
    }
  }
  for (const batchSize of [8, 16, 32]) {
    for (const engine of engines) {
      await measure('batch path', dataset, `${engine} batch ${batchSize}`, { kind: 'batch', root, keys, engine, batchSize, concurrency: 8 });
    }
  }
}

console.log('\nrefusing huge images from their header (TOO_LARGE)');
const edgeCases = join(imagesDir, 'edge-cases');
for (const file of ['huge_20000x14000_gray.jpg', 'huge_65536x65536_1bit.png']) {
  await measure('refuse', 'edge-cases', file, { kind: 'refuse', root: edgeCases, keys: [file] });
}

if (args.json) await writeFile(args.json, `${JSON.stringify(rows, null, 2)}\n`);

async function measure(stage: string, dataset: string, setting: string, options: Partial<ScenarioOptions>): Promise<void> {
  const full: ScenarioOptions = { engine: 'tfjs', batchSize: 16, concurrency: 8, keys: [], root: '', kind: 'decode', ...options };
  const { stdout } = await run(process.execPath, [scenarioScript, JSON.stringify(full)], {
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ScenarioResult;
  rows.push({ stage, dataset, setting, ...result });
  const rate = stage === 'refuse' ? `${(result.seconds * 1000).toFixed(0).padStart(6)} ms` : `${result.imagesPerSecond.toFixed(1).padStart(7)} img/s`;
  console.log(
    `  ${stage.padEnd(14)} ${setting.padEnd(28)} ${rate}  peak ${String(result.peakRssMiB).padStart(5)} MiB${result.engine ? `  (${result.engine})` : ''}`,
  );
}

async function listImages(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort(compareKeys);
}

/** A deterministic subset spread over every class folder. */
function evenlySpaced<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}
