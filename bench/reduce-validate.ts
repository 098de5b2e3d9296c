/**
 * Measures the reducer and the validator on synthetic shards: `node bench/reduce-validate.ts [rows] [batch]`
 * (default 20,000 rows in batches of 100). Prints Parquet write and read-back times, part sizes and memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reduceRun } from '../functions/reduce/reduce-run.ts';
import { reduceSettings } from '../functions/shared/config.ts';
import { defaultVectorShape } from '../functions/shared/model/model-descriptor.ts';
import { stagedPartsPrefix } from '../functions/shared/run-layout.ts';
import { openStorage } from '../functions/shared/storage/open-storage.ts';
import { listedInputs } from '../functions/validate/listed-inputs.ts';
import { validateRun } from '../functions/validate/validate-run.ts';
import { writeMapRun, type FixtureBatch } from '../test/support/map-run.ts';

const rows = Number(process.argv[2] ?? 20_000);
const batchSize = Number(process.argv[3] ?? 100);
const dir = await mkdtemp(join(tmpdir(), 'bench-reduce-'));
const location = { bucket: join(dir, 'out'), prefix: '' };
const input = openStorage({ bucket: join(dir, 'in') });
const keys = Array.from({ length: rows }, (_, i) => `images/Label ${i % 131}/${i}_100.jpg`);
for (const key of keys) await input.write(key, '');
const batches: FixtureBatch[] = [];
for (let i = 0; i < rows; i += batchSize) batches.push({ status: 'SUCCEEDED', items: keys.slice(i, i + batchSize).map((key) => ({ key })) });
await writeMapRun({ runId: 'bench', input: { bucket: input.root }, output: location, batches });

const output = openStorage(location);
const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);
let started = performance.now();
const reduced = await reduceRun({ runId: 'bench', output, outputPrefix: '' }, reduceSettings());
const reduceSeconds = (performance.now() - started) / 1000;
const sizes: number[] = [];
for await (const object of output.list(stagedPartsPrefix('bench'))) sizes.push(object.size);
const total = sizes.reduce((a, b) => a + b, 0);
console.log(
  `reduce: ${reduced.rows} rows from ${batches.length} shards into ${reduced.parts.length} parts in ${reduceSeconds.toFixed(1)} s ` +
    `(${Math.round(reduced.rows / reduceSeconds)} rows/s), ${megabytes(total)} MB (${Math.round(total / reduced.rows)} B/row), rss ${megabytes(process.memoryUsage().rss)} MB`,
);

started = performance.now();
const listed = await listedInputs({ input: { bucket: input.root, prefix: 'images/' }, manifest: null });
const validation = await validateRun(
  { runId: 'bench', output, mode: 'full', listed, mapError: null, toleratedFailurePercentage: 0, reduce: reduced },
  defaultVectorShape,
);
const validateSeconds = (performance.now() - started) / 1000;
console.log(
  `validate: ${validation.summary} in ${validateSeconds.toFixed(1)} s (${Math.round(reduced.rows / validateSeconds)} rows/s), rss ${megabytes(process.memoryUsage().rss)} MB`,
);
await rm(dir, { recursive: true, force: true });
