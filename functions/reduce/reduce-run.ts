/**
 * A run's shards to its staged parts: streams the shards of the map's succeeded batches into Parquet parts
 * under `runs/<runId>/parts/` and records every failure in `runs/<runId>/failures.jsonl`. Nothing under
 * `features/` changes here (write, audit, publish): the validator audits the staged parts, and only a run that
 * passed is published into features/ (functions/publish). Knows nothing of Lambda.
 *
 * A run whose map failed is reduced all the same: its failures are recorded for its report, and what its
 * succeeded batches made is staged for inspection; the validator's map check keeps it from being published.
 *
 * Staged parts carry the intermediate tag: the bucket's lifecycle expires them, published or not.
 *
 * Idempotent: part keys are named after the run and numbered in shard order, so a retry overwrites the same
 * parts with the same rows and removes any extra part an earlier attempt left.
 */
import { pMapIterable } from 'p-map';
import type { ReduceResult } from '../../statemachine/contracts.ts';
import { listParts, partMetadataKeys } from '../shared/dataset/feature-parts.ts';
import { type DatasetRow, encodeParquet } from '../shared/dataset/parquet-writer.ts';
import { RunArtifactError } from '../shared/errors.ts';
import { countFailureCodes, type FailureRecord } from '../shared/failures.ts';
import { writeFailureRecords } from '../shared/failures-file.ts';
import { logger } from '../shared/observability.ts';
import { intermediateTags, partKey, stagedPartsPrefix } from '../shared/run-layout.ts';
import { decodeShard, type ShardMetadata } from '../shared/shards/shard-file.ts';
import { compareKeys, type Storage } from '../shared/storage/storage.ts';
import { readMapResults, type SucceededBatch } from './map-results.ts';

export interface ReduceRequest {
  runId: string;
  /** Where the images are: their keys become the paths the part metadata bounds. */
  input: Storage;
  output: Storage;
  /** When the run started (its execution): recorded in every part, see publish-plan.ts. */
  startedAt: string;
  /** The output location's key prefix in its bucket: the map's manifest names result files by full key. */
  outputPrefix: string;
}

export interface ReduceOptions {
  partRows: number;
  rowGroupRows: number;
  readConcurrency: number;
  now?: Date;
}

export async function reduceRun(request: ReduceRequest, options: ReduceOptions): Promise<ReduceResult> {
  const started = performance.now();
  const { runId, output } = request;
  const results = await readMapResults(output, request.outputPrefix, runId);
  const model = runModel(results.succeeded);
  const shards = new ShardStream(output, runId, options.readConcurrency);

  const written = await writeParts(shards, results.succeeded, request, options);
  const failures = [...shards.failures, ...results.failures];
  await writeFailureRecords(output, runId, failures);
  await removeLeftovers(output, runId, written.parts);

  const failureCodes = countFailureCodes(failures);
  return {
    runId,
    listed: results.listed,
    rows: written.rows,
    failures: failures.length,
    failureCodes,
    parts: written.parts,
    modelId: model?.modelId ?? null,
    engine: model?.engine ?? null,
    millis: Math.round(performance.now() - started),
    extractMillis: {
      batches: results.succeeded.reduce((sum, batch) => sum + batch.millis.total, 0),
      inference: results.succeeded.reduce((sum, batch) => sum + batch.millis.inference, 0),
    },
  };
}

/**
 * The run's vector rows into staged parts, in key order: consecutive batches (each a range of keys) until a part
 * holds about `partRows` rows, so that each part covers a range of paths, which its metadata records
 * (featurize.path_min/max): the publisher then judges most parts against a run's scope without reading them.
 */
async function writeParts(shards: ShardStream, batches: readonly SucceededBatch[], request: ReduceRequest, options: ReduceOptions) {
  const { runId, input, output } = request;
  const parts: string[] = [];
  let rows = 0;
  for (const group of batchGroups(batches, options.partRows)) {
    if (group.reduce((sum, batch) => sum + batch.vectors, 0) === 0) {
      // Every item failed: the shards still hold the failure records.
      for await (const _ of shards.rows(group));
      continue;
    }
    const key = partKey(runId, parts.length, stagedPartsPrefix(runId));
    const metadata = partMetadata(runId, group, input, request.startedAt, options.now ?? new Date());
    const bytes = await encodeParquet(
      countRows(shards.rows(group), (n) => {
        rows += n;
      }),
      { rowGroupRows: options.rowGroupRows, metadata },
    );
    await output.write(key, bytes, { tags: intermediateTags });
    parts.push(key);
  }
  return { parts, rows };
}

/** Consecutive batches of about `partRows` vectors each (a part never splits a batch). */
function* batchGroups(batches: readonly SucceededBatch[], partRows: number): Generator<SucceededBatch[]> {
  let group: SucceededBatch[] = [];
  let vectors = 0;
  for (const batch of batches) {
    if (group.length > 0 && vectors + batch.vectors > partRows) {
      yield group;
      group = [];
      vectors = 0;
    }
    group.push(batch);
    vectors += batch.vectors;
  }
  if (group.length > 0) yield group;
}

/** Staged parts an earlier attempt wrote beyond this one's (its map results had more rows). */
async function removeLeftovers(output: Storage, runId: string, parts: readonly string[]): Promise<void> {
  const written = new Set(parts);
  const leftovers = (await listParts(output, stagedPartsPrefix(runId))).map((object) => object.key).filter((key) => !written.has(key));
  if (leftovers.length === 0) return;
  await output.remove(leftovers);
  logger.info('staged parts of an earlier attempt removed', { leftovers });
}

/** One model, engine and preprocessing for the whole run, checked before anything is written: mixed vectors are no dataset. */
function runModel(batches: readonly SucceededBatch[]): Pick<SucceededBatch, 'modelId' | 'engine'> | undefined {
  const [first] = batches;
  const other = batches.find(
    (batch) => batch.modelId !== first?.modelId || batch.engine !== first?.engine || batch.preprocessing !== first?.preprocessing,
  );
  if (first && other) {
    throw new RunArtifactError(
      `the run mixes vectors of ${first.modelId} (${first.engine}) and ${other.modelId} (${other.engine}), e.g. ${other.shard}`,
    );
  }
  return first;
}

function partMetadata(
  runId: string,
  group: readonly SucceededBatch[],
  input: Storage,
  startedAt: string,
  now: Date,
): Record<string, string> {
  const [first] = group as [SucceededBatch];
  const last = group
    .map((batch) => batch.keys.last)
    .sort(compareKeys)
    .at(-1)!;
  return {
    [partMetadataKeys.runId]: runId,
    [partMetadataKeys.modelId]: first.modelId,
    [partMetadataKeys.engine]: first.engine,
    [partMetadataKeys.preprocessing]: first.preprocessing,
    [partMetadataKeys.createdAt]: now.toISOString(),
    [partMetadataKeys.runStartedAt]: startedAt,
    [partMetadataKeys.pathMin]: input.locationOf(first.keys.first),
    [partMetadataKeys.pathMax]: input.locationOf(last),
  };
}

async function* countRows<T>(chunks: AsyncIterable<T[]>, count: (n: number) => void): AsyncGenerator<T[]> {
  for await (const chunk of chunks) {
    count(chunk.length);
    yield chunk;
  }
}

/**
 * The run's shards in order, read ahead while the writer works: their vector rows as a stream, their failure
 * records collected on the way.
 */
class ShardStream {
  readonly failures: FailureRecord[] = [];
  private readonly output: Storage;
  private readonly runId: string;
  private readonly concurrency: number;

  constructor(output: Storage, runId: string, concurrency: number) {
    this.output = output;
    this.runId = runId;
    this.concurrency = concurrency;
  }

  /** The batches' vector rows, a shard at a time; their failure records are collected on the way. */
  async *rows(batches: readonly SucceededBatch[]): AsyncGenerator<DatasetRow[]> {
    const decoded = pMapIterable(batches, async (batch) => ({ batch, ...decodeShard(await this.output.read(batch.shard)) }), {
      concurrency: this.concurrency,
      backpressure: this.concurrency,
    });
    for await (const { batch, metadata, rows } of decoded) {
      this.check(batch, metadata);
      const vectors: DatasetRow[] = [];
      for (const row of rows) {
        const { features, failure, sha256, ...source } = row;
        if (failure) this.failures.push({ path: row.path, code: failure.code, message: failure.message });
        else if (features && sha256 !== null) vectors.push({ ...source, sha256, features });
        else
          throw new RunArtifactError(
            `${this.output.locationOf(batch.shard)}: ${row.path} has neither a vector with its hash nor a failure`,
          );
      }
      yield vectors;
    }
  }

  /** A shard must be what its batch's result says it is: of this run, its model, engine and preprocessing. */
  private check(batch: SucceededBatch, metadata: ShardMetadata): void {
    const where = this.output.locationOf(batch.shard);
    if (metadata.runId !== this.runId) throw new RunArtifactError(`${where} belongs to run ${metadata.runId}, not ${this.runId}`);
    for (const field of ['modelId', 'engine', 'preprocessing'] as const) {
      if (metadata[field] !== batch[field]) {
        throw new RunArtifactError(`${where} has ${field} ${metadata[field]}, its batch's result says ${batch[field]}`);
      }
    }
  }
}
