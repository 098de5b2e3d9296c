/**
 * `npm run model:aws -- --images 1e6 --tail tail.json (--cpu-ms-per-image 9 | --bench bench.json [--engine onnx])`:
 * the predicted wall time and bill of a run on AWS, per step (bench/aws-model.ts), from bench:tail's per-child
 * times and the extract path's time per image, passed as a number or read from `npm run bench -- --json`'s
 * `batch path` row (fruits-360-large, the engine at the default inference batch).
 *   [--concurrency 1000] [--account-concurrency 1000] [--batch 250] [--json FILE]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { extractionSettings } from '../functions/shared/config.ts';
import { coldStartSeconds } from '../infra/extract-sizing.ts';
import { settingSources } from '../infra/settings.ts';
import { type StepName, stepNamed } from '../statemachine/steps.ts';
import { defaultAccountConcurrency, type ModelPrediction, predictRun, type TailStepSizing } from './aws-model.ts';
import { badArgument, benchArgs, numberArg, wholeNumberArg } from './bench-args.ts';
import type { TailBench } from './tail.ts';

const { engine: defaultEngine, inferenceBatchSize } = extractionSettings({});
const args = benchArgs(import.meta.filename, {
  images: { type: 'string' },
  tail: { type: 'string' },
  'cpu-ms-per-image': { type: 'string' },
  bench: { type: 'string' },
  engine: { type: 'string', default: defaultEngine },
  concurrency: { type: 'string', default: '1000' },
  'account-concurrency': { type: 'string', default: String(defaultAccountConcurrency) },
  batch: { type: 'string', default: String(settingSources.maxItemsPerBatch.default) },
  json: { type: 'string' },
});

const script = import.meta.filename;
// Checked before any file is read: each a line of its own naming the argument.
const images =
  args.images === undefined
    ? badArgument(script, '--images N is required, e.g. --images 1e6')
    : numberArg(script, 'images', args.images, 0);
const cpuMsPerImage =
  args['cpu-ms-per-image'] === undefined ? undefined : numberArg(script, 'cpu-ms-per-image', args['cpu-ms-per-image'], 0);
const maxItemsPerBatch = wholeNumberArg(script, 'batch', args.batch);
const maxConcurrency = wholeNumberArg(script, 'concurrency', args.concurrency);
const accountConcurrency = wholeNumberArg(script, 'account-concurrency', args['account-concurrency']);
if (!args.tail) badArgument(script, '--tail names the JSON that `npm run bench:tail -- --json FILE` wrote');

try {
  const tail = JSON.parse(await readFile(args.tail, 'utf8')) as TailBench;
  const prediction = predictRun({
    images,
    cpuMsPerImage: cpuMsPerImage ?? (await benchCpuMsPerImage()),
    maxItemsPerBatch,
    extractMemoryMb: settingSources.extractMemoryMb.default,
    maxConcurrency,
    accountConcurrency,
    coldStartSeconds,
    tail,
    tailSizing: Object.fromEntries(tail.steps.map((step) => [step.name, sizingOf(step.name)])),
  });
  print(prediction);
  if (args.json) await writeFile(args.json, `${JSON.stringify(prediction, null, 2)}\n`);
} catch (error) {
  // The files --tail and --bench name: missing, unreadable, or not what those benches wrote.
  badArgument(script, (error as Error).message);
}

/** The extract path's CPU ms per image, from a `npm run bench -- --json` file. */
async function benchCpuMsPerImage(): Promise<number> {
  if (!args.bench)
    throw new Error('give the extract CPU time per image: --cpu-ms-per-image N, or --bench FILE from `npm run bench -- --json FILE`');
  const rows = JSON.parse(await readFile(args.bench, 'utf8')) as {
    stage: string;
    dataset: string;
    setting: string;
    cpuMsPerImage: number;
  }[];
  const setting = `${args.engine} batch ${inferenceBatchSize}`;
  const row = rows.find((r) => r.stage === 'batch path' && r.dataset === 'fruits-360-large' && r.setting === setting);
  if (!row) throw new Error(`${args.bench} has no 'batch path' row for fruits-360-large, ${setting}`);
  return row.cpuMsPerImage;
}

/** The step's function as deployed: zip functions run on arm64 (infra/functions.ts), the container image on x86_64. */
function sizingOf(name: string): TailStepSizing {
  const step = stepNamed(`${name[0]!.toUpperCase()}${name.slice(1)}` as StepName);
  return { memoryMb: step.memoryMb, architecture: step.packaging === 'zip' ? 'arm64' : 'x86_64' };
}

function print(prediction: ModelPrediction): void {
  console.log(`${prediction.images.toLocaleString('en-US')} images on AWS (a model of measured times, not a measurement):`);
  console.table(
    prediction.steps.map((step) => ({
      step: step.name,
      children: step.children,
      'at once': step.concurrency,
      'child s': Number(step.childSeconds.toFixed(1)),
      'wall s': Number(step.wallSeconds.toFixed(1)),
      USD: Number(step.usd.toFixed(4)),
      limits: step.limits.join('; '),
    })),
  );
  console.log(`total: ${prediction.wallSeconds.toFixed(0)} s wall, $${prediction.usd.toFixed(2)}`);
}
