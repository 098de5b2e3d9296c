import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { literal, query } from '../support/duckdb.ts';
import { runWithRealModel } from '../support/real-run.ts';
import { decodeShard } from '../support/shard-rows.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'real-run-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('a run with the real model', () => {
  it('reduces, validates and publishes what the extract function made of Fruits-360 images, vectors bit for bit', async () => {
    const keys = await sampleKeys(3, 2);
    const { executions, validation, published } = await runWithRealModel(out, 'real-run', [keys.slice(0, 3), keys.slice(3)]);

    expect(validation).toMatchObject({ passed: true, counts: { listed: 6, rows: 6, failures: 0 } });
    expect(published).toMatchObject({
      kind: 'incremental',
      parts: ['features/part-real-run-00000.parquet'],
      removedParts: 0,
      rewrittenParts: 0,
    });
    const rows = await query(
      `SELECT path, label, features FROM read_parquet(${literal(join(out, 'features', '*.parquet'))}) ORDER BY path`,
    );
    const shardRows = new Map<string, Float32Array>();
    for (const execution of executions) {
      if (execution.status !== 'SUCCEEDED') continue;
      for (const row of decodeShard(await readFile(join(out, execution.output.shard))).rows) shardRows.set(row.path, row.features!);
    }
    expect(rows.map((row) => row.path)).toEqual(keys.map((key) => join(sampleDir, key)).sort());
    for (const row of rows) {
      expect(row.label).toBe((row.path as string).split('/').at(-2));
      expect(
        Buffer.from(Float32Array.from(row.features as number[]).buffer).equals(Buffer.from(shardRows.get(row.path as string)!.buffer)),
      ).toBe(true);
    }
  });
});
