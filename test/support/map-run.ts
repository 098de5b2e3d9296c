/**
 * A run as the extract function and the Distributed Map's ResultWriter leave it, without running the model:
 * shards made with encodeShard from synthetic vectors, and `runs/<runId>/map/<mapRunId>/` with
 * manifest.json and SUCCEEDED_0/FAILED_0/PENDING_0.json in the AWS format (Transformation NONE, OutputType JSONL,
 * as statemachine/featurize.asl.json asks).
 */
import { createHash } from 'node:crypto';
import type { Failure } from '../../functions/shared/failures.ts';
import { batchIdOf, mapResultsPrefix, shardKey } from '../../functions/shared/run-layout.ts';
import { encodeShard, type ShardRow } from '../../functions/shared/shards/shard-file.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import { compareKeys, normalizePrefix, parentFolderName, type StorageLocation } from '../../functions/shared/storage/storage.ts';
import type { BatchEvent, ExtractBatchResult } from '../../statemachine/contracts.ts';
import { jsonLines } from '../../statemachine/local/result-writer.ts';

export const testModel = { modelId: 'mobilenet_v2_100_224_qat_tfjs@0123456789ab', engine: 'tfjs/wasm' };
export const testPreprocessing = '{"size":224,"resize":"squash","kernel":"lanczos3"}';

/** An item of a batch: a key relative to the input bucket, and what extraction made of it. */
export interface FixtureItem {
  key: string;
  /** Default: a synthetic vector seeded by the key. */
  features?: Float32Array;
  failure?: Failure;
  /** Default: the key's parent folder. */
  label?: string;
}

export type FixtureBatch =
  | { status: 'SUCCEEDED'; items: FixtureItem[]; modelId?: string }
  | { status: 'FAILED'; items: FixtureItem[]; error: { Error: string; Cause: string } }
  | { status: 'PENDING'; items: FixtureItem[] };

export interface FixtureRun {
  runId: string;
  /** The bucket (or directory) the item keys are in. */
  input: { bucket: string };
  output: Required<StorageLocation>;
  batches: FixtureBatch[];
  mapRunId?: string;
}

/** ReLU6-like values: about 40 % zeros, the rest in (0, 6), the same for the same seed. */
export function syntheticVector(seed: string, length = 1280): Float32Array {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0) || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return Float32Array.from({ length }, () => (next() < 0.4 ? 0 : next() * 5.9 + 0.01));
}

export function items(keys: readonly string[]): FixtureItem[] {
  return keys.map((key) => ({ key }));
}

/** One child execution of the map, as the ResultWriter records it. */
export type Execution =
  | { status: 'SUCCEEDED'; event: BatchEvent; output: ExtractBatchResult }
  | { status: 'FAILED'; event: BatchEvent; error: { Error: string; Cause: string } }
  | { status: 'PENDING'; event: BatchEvent };

/** Writes the run's shards and map results; returns the shard rows by path, as the shards hold them. */
export async function writeMapRun(run: FixtureRun): Promise<Map<string, ShardRow>> {
  const output = openStorage(run.output);
  const input = openStorage(run.input);
  const rowsByPath = new Map<string, ShardRow>();
  const executions: Execution[] = [];
  for (const batch of run.batches) {
    const event: BatchEvent = {
      Items: batch.items.map((item) => ({ Key: item.key, Size: 4725, Etag: `"${md5(item.key)}"` })),
      BatchInput: { runId: run.runId, input: run.input, output: run.output },
    };
    if (batch.status === 'SUCCEEDED') {
      const result = syntheticShard(run.runId, batch.items, input.locationOf.bind(input), batch.modelId);
      for (const row of result.rows) rowsByPath.set(row.path, row);
      await output.write(result.shard, result.bytes);
      executions.push({ status: 'SUCCEEDED', event, output: result.output });
    } else if (batch.status === 'FAILED') {
      executions.push({ status: 'FAILED', event, error: batch.error });
    } else {
      executions.push({ status: 'PENDING', event });
    }
  }
  await writeResultFiles(run.output, run.runId, executions, run.mapRunId);
  return rowsByPath;
}

/** `runs/<runId>/map/<mapRunId>/`: a result file per status that has executions, and the manifest naming them. */
export async function writeResultFiles(
  location: Required<StorageLocation>,
  runId: string,
  executions: readonly Execution[],
  mapRunId = '4b9a5f27-090b-3ac6-9beb-243cd77144a7',
): Promise<void> {
  const output = openStorage(location);
  const folder = `${mapResultsPrefix(runId)}${mapRunId}/`;
  const stateMachineArn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:featurize/Extract';
  const records: Record<Execution['status'], object[]> = { SUCCEEDED: [], FAILED: [], PENDING: [] };
  for (const [index, execution] of executions.entries()) {
    const common = {
      ExecutionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${mapRunId}:${index}`,
      Name: `${mapRunId}:${index}`,
      StateMachineArn: stateMachineArn,
      StartDate: '2026-11-25T15:10:41.512Z',
      StopDate: '2026-11-25T15:10:58.097Z',
      RedriveCount: 0,
      Input: JSON.stringify(execution.event),
      InputDetails: { Included: true },
    };
    if (execution.status === 'SUCCEEDED') {
      records.SUCCEEDED.push({
        ...common,
        Status: 'SUCCEEDED',
        Output: JSON.stringify(execution.output),
        OutputDetails: { Included: true },
        RedriveStatus: 'NOT_REDRIVABLE',
        RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
      });
    } else if (execution.status === 'FAILED') {
      records.FAILED.push({ ...common, Status: 'FAILED', ...execution.error, RedriveStatus: 'REDRIVABLE' });
    } else {
      records.PENDING.push({ ...common, Status: 'PENDING' });
    }
  }
  const resultFiles: Record<string, { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  for (const [status, list] of Object.entries(records)) {
    if (list.length === 0) continue;
    const key = `${folder}${status}_0.json`;
    const body = jsonLines(list);
    await output.write(key, body);
    resultFiles[status]!.push({ Key: `${normalizePrefix(location.prefix)}${key}`, Size: Buffer.byteLength(body) });
  }
  await output.write(
    `${folder}manifest.json`,
    JSON.stringify({
      DestinationBucket: location.bucket,
      MapRunArn: `arn:aws:states:eu-west-1:123456789012:mapRun:featurize/Extract:${mapRunId}`,
      ResultFiles: resultFiles,
    }),
  );
}

/**
 * One succeeded batch as the extract function leaves it: the shard's rows (synthetic vectors unless an item says
 * otherwise), its bytes, and the function's result. Also what the synthetic extract handler writes.
 */
export function syntheticShard(
  runId: string,
  batchItems: readonly FixtureItem[],
  locationOf: (key: string) => string,
  modelId = testModel.modelId,
): { shard: string; bytes: Uint8Array; output: ExtractBatchResult; rows: ShardRow[] } {
  const rows: ShardRow[] = batchItems.map((item) => {
    const path = locationOf(item.key);
    return {
      path,
      label: item.label ?? parentFolderName(path),
      size: 4725,
      etag: md5(item.key),
      sha256: createHash('sha256').update(item.key).digest('hex'),
      features: item.failure ? null : (item.features ?? syntheticVector(item.key)),
      failure: item.failure ?? null,
    };
  });
  const batchId = batchIdOf(batchItems.map((item) => item.key));
  const keys = batchItems.map((item) => item.key).sort(compareKeys);
  const shard = shardKey(runId, batchId);
  const featureLength = rows.find((row) => row.features)?.features?.length ?? 1280;
  const bytes = encodeShard(rows, featureLength, {
    runId,
    batchId,
    modelId,
    engine: testModel.engine,
    preprocessing: testPreprocessing,
  });
  const failures = rows.filter((row) => row.failure).length;
  const output: ExtractBatchResult = {
    runId,
    batchId,
    shard,
    items: rows.length,
    vectors: rows.length - failures,
    failures,
    failureCodes: {},
    engine: testModel.engine,
    modelId,
    preprocessing: testPreprocessing,
    keys: { first: keys[0]!, last: keys.at(-1)! },
    millis: { total: 812, inference: 640 },
  };
  return { shard, bytes, output, rows };
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}
