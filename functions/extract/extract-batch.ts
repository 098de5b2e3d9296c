/**
 * One batch of images to one shard: read each object, preprocess it, run the model over mini-batches, and
 * write every item (vector or failure) to a shard named after the batch. Knows nothing of Lambda.
 *
 * A bad image becomes a failure record. An unreachable store (StorageUnavailableError) or a failing model
 * fails the whole batch, so that Step Functions retries it; the retry overwrites the same shard.
 */
import { createHash } from 'node:crypto';
import { pMapIterable } from 'p-map';
import type { ExtractBatchResult } from '../../statemachine/contracts.ts';
import { ObjectReadError } from '../shared/errors.ts';
import { countFailureCodes, type Failure, failureCodes, unreadableKeyCode } from '../shared/failures.ts';
import { describePreprocessing, type PreprocessOptions, preprocessImage } from '../shared/images/preprocess-image.ts';
import type { FeatureEngine } from '../shared/model/feature-engine.ts';
import { batchIdOf, intermediateTags, shardKey } from '../shared/run-layout.ts';
import { encodeShard, type ShardRow } from '../shared/shards/shard-file.ts';
import { compareKeys, parentFolderName, type Storage } from '../shared/storage/storage.ts';

export interface BatchItem {
  /** Key relative to the input storage's root. */
  key: string;
  /** Bytes, when the listing gave it: larger objects than `maxBytes` are refused unread. */
  size?: number;
  etag?: string;
}

export interface ExtractOptions {
  preprocess: Omit<PreprocessOptions, 'size'>;
  maxBytes: number;
  inferenceBatchSize: number;
  readConcurrency: number;
}

export interface ExtractBatchRequest {
  runId: string;
  items: readonly BatchItem[];
  input: Storage;
  output: Storage;
}

export async function extractBatch(
  request: ExtractBatchRequest,
  engine: FeatureEngine,
  options: ExtractOptions,
): Promise<ExtractBatchResult> {
  const started = performance.now();
  const { runId, items, input, output } = request;
  const preprocess: PreprocessOptions = { ...options.preprocess, size: engine.descriptor.inputSize };
  const rows: ShardRow[] = [];
  let inferenceMillis = 0;

  // Decoding runs ahead on libuv's threads while the model works on the previous mini-batch.
  const prepared = pMapIterable(items, (item) => prepareItem(item, input, preprocess, options.maxBytes), {
    concurrency: options.readConcurrency,
    backpressure: options.readConcurrency + options.inferenceBatchSize,
  });
  let pending: { row: ShardRow; pixels: Uint8Array }[] = [];
  const runModel = async () => {
    const t0 = performance.now();
    const vectors = await engine.extract(pending.map((p) => p.pixels));
    inferenceMillis += performance.now() - t0;
    pending.forEach((p, i) => {
      p.row.features = vectors[i] ?? null;
    });
    pending = [];
  };
  for await (const { row, pixels } of prepared) {
    rows.push(row);
    if (pixels) pending.push({ row, pixels });
    if (pending.length >= options.inferenceBatchSize) await runModel();
  }
  if (pending.length > 0) await runModel();

  const batchId = batchIdOf(items.map((item) => item.key));
  const shard = shardKey(runId, batchId);
  const preprocessing = describePreprocessing(preprocess);
  await output.write(
    shard,
    encodeShard(rows, engine.descriptor.featureLength, { runId, batchId, modelId: engine.descriptor.id, engine: engine.id, preprocessing }),
    { tags: intermediateTags },
  );

  const failed = rows.flatMap((row) => (row.failure ? [row.failure] : []));
  const failures = failed.length;
  const failureCodes = countFailureCodes(failed);
  return {
    runId,
    batchId,
    shard,
    items: rows.length,
    vectors: rows.length - failures,
    failures,
    failureCodes,
    engine: engine.id,
    modelId: engine.descriptor.id,
    preprocessing,
    keys: keyRange(items.map((item) => item.key)),
    millis: { total: Math.round(performance.now() - started), inference: Math.round(inferenceMillis) },
  };
}

/** The smallest and largest of the keys, as S3 orders them. */
function keyRange(keys: readonly string[]): { first: string; last: string } {
  const sorted = [...keys].sort(compareKeys);
  return { first: sorted[0]!, last: sorted.at(-1)! };
}

/** Reads and preprocesses one item. Only a StorageUnavailableError escapes (the batch is then retried). */
async function prepareItem(
  item: BatchItem,
  input: Storage,
  preprocess: PreprocessOptions,
  maxBytes: number,
): Promise<{ row: ShardRow; pixels?: Uint8Array }> {
  const path = input.locationOf(item.key);
  const row: ShardRow = {
    path,
    label: parentFolderName(path),
    size: item.size ?? 0,
    etag: item.etag ?? null,
    sha256: null,
    features: null,
    failure: null,
  };
  const fail = (failure: Failure) => ({ row: { ...row, failure } });
  const unreadable = unreadableKeyCode(item.key);
  if (unreadable) return fail({ code: unreadable, message: failureCodes[unreadable] });

  if (item.size !== undefined && item.size > maxBytes) {
    return fail({ code: 'TOO_LARGE', message: `${item.size} bytes, over the ${maxBytes}-byte limit` });
  }
  let bytes: Uint8Array;
  try {
    bytes = await input.read(item.key);
  } catch (error) {
    if (error instanceof ObjectReadError) return fail({ code: 'READ_FAILED', message: error.message });
    throw error;
  }
  row.size = bytes.byteLength;
  row.sha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.byteLength > maxBytes) {
    return fail({ code: 'TOO_LARGE', message: `${bytes.byteLength} bytes, over the ${maxBytes}-byte limit` });
  }
  const result = await preprocessImage(bytes, preprocess);
  return result.ok ? { row, pixels: result.pixels } : fail(result.failure);
}
