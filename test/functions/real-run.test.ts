import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExtractBatchResult } from '../../functions/extract/extract-batch.ts';
import { handler as extract } from '../../functions/extract/handler.ts';
import { handler as reduce } from '../../functions/reduce/handler.ts';
import type { ReduceResult } from '../../functions/reduce/reduce-run.ts';
import type { BatchEvent, RunEvent } from '../../functions/shared/event-schemas.ts';
import { decodeShard } from '../../functions/shared/shards/shard-file.ts';
import { handler as validate, type ValidateEvent } from '../../functions/validate/handler.ts';
import type { ValidationResult } from '../../functions/validate/validate-run.ts';
import { literal, query } from '../support/duckdb.ts';
import { writeResultFiles, type Execution } from '../support/map-run.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';

const context = { functionName: 'test', awsRequestId: 'test' } as Context;

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'real-run-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('a run with the real model', () => {
  it('reduces and validates what the extract function made of Fruits-360 images, vectors bit for bit', async () => {
    const keys = await sampleKeys(3, 2);
    const runId = 'real-run';
    const location = { bucket: out, prefix: '' };
    await writeFile(join(out, 'manifest.json'), JSON.stringify(keys.map((Key) => ({ Key }))));
    const executions: Execution[] = [];
    for (const batch of [keys.slice(0, 3), keys.slice(3)]) {
      const event: BatchEvent = { Items: batch.map((Key) => ({ Key })), BatchInput: { runId, input: { bucket: sampleDir }, output: location } };
      executions.push({ status: 'SUCCEEDED', event, output: (await extract(event, context)) as ExtractBatchResult });
    }
    await writeResultFiles(location, runId, executions);
    const run: RunEvent = { runId, input: { bucket: sampleDir, prefix: '' }, manifest: { bucket: out, key: 'manifest.json' }, output: location, mapError: null };

    const reduced = (await reduce(run, context)) as ReduceResult;
    const validation = (await validate({ ...run, toleratedFailurePercentage: 0, reduce: reduced } satisfies ValidateEvent, context)) as ValidationResult;

    expect(validation).toMatchObject({ passed: true, counts: { listed: 6, rows: 6, failures: 0 } });
    const rows = await query(`SELECT path, label, features FROM read_parquet(${literal(join(out, 'features', '*.parquet'))}) ORDER BY path`);
    const shardRows = new Map<string, Float32Array>();
    for (const execution of executions) {
      if (execution.status !== 'SUCCEEDED') continue;
      for (const row of decodeShard(await readFile(join(out, execution.output.shard))).rows) shardRows.set(row.path, row.features!);
    }
    expect(rows.map((row) => row.path)).toEqual(keys.map((key) => join(sampleDir, key)).sort());
    for (const row of rows) {
      expect(row.label).toBe((row.path as string).split('/').at(-2));
      expect(Buffer.from(Float32Array.from(row.features as number[]).buffer).equals(Buffer.from(shardRows.get(row.path as string)!.buffer))).toBe(true);
    }
  });
});
