/**
 * A run as extraction leaves it, without the model: `rows` images under `images/` of an input folder (empty files
 * in 131 label folders), their shards of synthetic vectors in batches of 100 and the map's result files
 * (test/support/map-run.ts). What the reduce-validate scenario and bench:tail start from.
 */
import { join } from 'node:path';
import { locationPrefix } from '../functions/shared/dataset/run-scope.ts';
import { openStorage } from '../functions/shared/storage/open-storage.ts';
import { compareKeys } from '../functions/shared/storage/storage.ts';
import type { RunEvent } from '../statemachine/contracts.ts';
import { type FixtureBatch, writeMapRun } from '../test/support/map-run.ts';

const batchSize = 100;

/** Writes the run under `dir` (`in/`, `out/`) and returns the event its later steps receive. */
export async function writeSyntheticRun(dir: string, rows: number, runId = 'bench'): Promise<RunEvent> {
  const input = { bucket: join(dir, 'in'), prefix: 'images/' };
  const output = { bucket: join(dir, 'out'), prefix: '' };
  const inputStorage = openStorage({ bucket: input.bucket });
  // In key order, as the Distributed Map's ItemReader lists them and its ItemBatcher cuts them into batches: each
  // batch, and so each reduce group, covers a range of keys of its own.
  const keys = Array.from({ length: rows }, (_, i) => `images/Label ${i % 131}/${i}_100.jpg`).sort(compareKeys);
  for (const key of keys) await inputStorage.write(key, '');
  const batches: FixtureBatch[] = [];
  for (let i = 0; i < rows; i += batchSize) {
    batches.push({ status: 'SUCCEEDED', items: keys.slice(i, i + batchSize).map((key) => ({ key })) });
  }
  await writeMapRun({ runId, input: { bucket: input.bucket }, output, batches });
  return {
    runId,
    input,
    manifest: null,
    output,
    scope: { kind: 'full', prefix: locationPrefix(input) },
    startedAt: new Date().toISOString(),
    mapError: null,
  };
}
