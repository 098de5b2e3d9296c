import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EngineName } from '../../functions/shared/config.ts';
import type { ExtractBatchResult } from '../../statemachine/contracts.ts';
import { type DecodedShard, decodeShard } from '../support/shard-rows.ts';
import { maxAbsDifference, sampleDir, sampleKeys } from '../support/shared-data.ts';

/** The engines that reproduce the float model; onnx-int8 approximates it (test/unit/onnx-int8.test.ts). */
const engineNames = ['tfjs', 'onnx'] as const satisfies readonly EngineName[];

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'extract-engines-'));
});
afterAll(() => rm(out, { recursive: true, force: true }));

/** The handler as a fresh container with FEATURIZE_ENGINE set would run it (settings are read at module load). */
async function extractWith(engine: EngineName, keys: readonly string[]): Promise<DecodedShard> {
  vi.resetModules();
  vi.stubEnv('FEATURIZE_ENGINE', engine);
  try {
    const { handler } = await import('../../functions/extract/handler.ts');
    const event = {
      Items: keys.map((Key) => ({ Key })),
      BatchInput: { runId: 'engines', input: { bucket: sampleDir }, output: { bucket: join(out, engine), prefix: '' } },
    };
    const result = (await handler(event, { functionName: 'extract', awsRequestId: engine } as Context)) as ExtractBatchResult;
    return decodeShard(await readFile(join(out, engine, result.shard)));
  } finally {
    vi.unstubAllEnvs();
  }
}

describe('extract handler, engine by engine', () => {
  it('gives the same vectors, within 1e-4, whichever engine FEATURIZE_ENGINE selects, and records which one ran', async () => {
    const keys = await sampleKeys(4, 6);
    const shards = new Map<EngineName, DecodedShard>();
    for (const engine of engineNames) shards.set(engine, await extractWith(engine, keys));

    const [first, ...others] = engineNames.map((engine) => shards.get(engine)!);
    expect(first!.rows.map((row) => row.path)).toEqual(keys.map((key) => join(sampleDir, key)));
    for (const other of others) {
      expect(other.rows.map((row) => row.path)).toEqual(first!.rows.map((row) => row.path));
      other.rows.forEach((row, i) => {
        expect(maxAbsDifference(row.features!, first!.rows[i]!.features!), row.path).toBeLessThanOrEqual(1e-4);
      });
    }
    expect(engineNames.map((engine) => shards.get(engine)!.metadata.engine)).toEqual(['tfjs/wasm', 'onnxruntime/cpu']);
    // The ONNX file's id extends the id of the TF.js model it was exported from.
    expect(shards.get('onnx')!.metadata.modelId).toMatch(new RegExp(`^${shards.get('tfjs')!.metadata.modelId}/onnx@[0-9a-f]{12}$`));
  });
});
