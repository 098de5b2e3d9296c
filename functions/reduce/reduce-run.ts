/**
 * A run's shards to the dataset: streams the shards of the map's succeeded batches into Parquet parts
 * under `features/`, records every failure in `runs/<runId>/failures.jsonl`, then makes the dataset what
 * the run's mode says. Knows nothing of Lambda.
 *
 * - Full run: the dataset becomes exactly this run's output; other runs' parts are removed once this run's
 *   are written.
 * - Incremental run: older parts stay, but an image this run listed (re-uploaded) must not appear twice:
 *   an older part holding one of its paths is rewritten without it (found from the `path` column alone), or
 *   removed when nothing else is left in it.
 * - A run whose map failed publishes nothing: its failures are recorded and `features/` is left as it was.
 *
 * Idempotent: part keys are named after the run and numbered in shard order, so a retry overwrites the same
 * parts with the same rows, removes any extra part an earlier attempt left, and finds nothing left to rewrite.
 */
import { pMapIterable } from 'p-map';
import { RunArtifactError } from '../shared/errors.ts';
import { listParts, openPart, partKeyValues, partMetadataKeys, readPartPaths, readPartRowGroups, type PartFile } from '../shared/dataset/feature-parts.ts';
import type { FailureCode, FailureRecord } from '../shared/failures.ts';
import { logger } from '../shared/observability.ts';
import { failuresKey, partKey, partRunId } from '../shared/run-layout.ts';
import { decodeShard, type ShardMetadata } from '../shared/shards/shard-file.ts';
import type { Storage, StoredObject } from '../shared/storage/storage.ts';
import { readMapResults, type SucceededBatch } from './map-results.ts';
import { encodeParquet, inGroups, type DatasetRow } from './parquet-writer.ts';

export interface ReduceRequest {
  runId: string;
  output: Storage;
  /** The output location's key prefix in its bucket: the map's manifest names result files by full key. */
  outputPrefix: string;
  mode: 'full' | 'incremental';
  /** The map failed (the state machine caught its error): record, but publish nothing. */
  mapFailed: boolean;
}

export interface ReduceOptions {
  partRows: number;
  rowGroupRows: number;
  readConcurrency: number;
  now?: Date;
}

/** What the state machine keeps of the reduce step (small: it travels in the execution's state). */
export interface ReduceResult {
  runId: string;
  /** Items across the map's result files. */
  listed: number;
  /** Rows written to this run's parts. */
  rows: number;
  failures: number;
  failureCodes: Partial<Record<FailureCode, number>>;
  /** This run's parts, keys relative to the output location. */
  parts: string[];
  /** Whether `features/` was changed at all (not when the map failed). */
  published: boolean;
  /** Parts of other runs removed: all of them in a full run, emptied ones in an incremental run. */
  removedParts: number;
  /** Older parts rewritten without the images this (incremental) run re-processed. */
  rewrittenParts: number;
  /** Null when no batch succeeded. */
  modelId: string | null;
  engine: string | null;
}

export async function reduceRun(request: ReduceRequest, options: ReduceOptions): Promise<ReduceResult> {
  const { runId, output } = request;
  const results = await readMapResults(output, request.outputPrefix, runId);
  const model = runModel(results.succeeded);
  const publish = !request.mapFailed;
  const shards = new ShardStream(output, runId, results.succeeded, {
    concurrency: options.readConcurrency,
    collectPaths: publish && request.mode === 'incremental',
  });

  const written = publish ? await writeParts(shards, runId, output, options) : await failuresOnly(shards);
  const failures = [...shards.failures, ...results.failures];
  await output.write(failuresKey(runId), failures.map((failure) => `${JSON.stringify(failure)}\n`).join(''));
  const updated = publish
    ? await updateDataset(output, request, written.parts, [...shards.paths, ...results.failures.map((f) => f.path)], options)
    : { removed: [], rewritten: [] };

  const failureCodes: Partial<Record<FailureCode, number>> = {};
  for (const failure of failures) failureCodes[failure.code] = (failureCodes[failure.code] ?? 0) + 1;
  return {
    runId,
    listed: results.listed,
    rows: written.rows,
    failures: failures.length,
    failureCodes,
    parts: written.parts,
    published: publish,
    removedParts: updated.removed.length,
    rewrittenParts: updated.rewritten.length,
    modelId: model?.modelId ?? null,
    engine: model?.engine ?? null,
  };
}

/** The run's vector rows into parts of at most `partRows` rows, numbered in shard order. */
async function writeParts(shards: ShardStream, runId: string, output: Storage, options: ReduceOptions) {
  const parts: string[] = [];
  let rows = 0;
  if (!shards.empty) {
    const metadata = partMetadata(await shards.metadata(), options.now ?? new Date());
    for await (const group of inGroups(shards.rows(), options.partRows)) {
      const key = partKey(runId, parts.length);
      const counted = countRows(group, (n) => (rows += n));
      await output.write(key, await encodeParquet(counted, { rowGroupRows: options.rowGroupRows, metadata }));
      parts.push(key);
    }
  }
  return { parts, rows };
}

/** A failed map's shards are read for their failure records only. */
async function failuresOnly(shards: ShardStream) {
  for await (const _ of shards.rows());
  return { parts: [], rows: 0 };
}

/**
 * What else `features/` holds once the run's parts are written: in a full run, every other part goes; in an
 * incremental run, this run's leftovers from an earlier attempt go, and older parts lose the paths it listed.
 */
async function updateDataset(
  output: Storage,
  request: ReduceRequest,
  parts: readonly string[],
  runPaths: readonly string[],
  options: ReduceOptions,
): Promise<{ removed: string[]; rewritten: string[] }> {
  const written = new Set(parts);
  const replaced: string[] = [];
  const older: StoredObject[] = [];
  for (const object of await listParts(output)) {
    if (written.has(object.key)) continue;
    if (request.mode === 'full' || partRunId(object.key) === request.runId) replaced.push(object.key);
    else older.push(object);
  }
  await output.remove(replaced);
  const outcome = await withoutReprocessed(output, older, new Set(runPaths), request.runId, options);
  const updated = { removed: [...replaced, ...outcome.removed], rewritten: outcome.rewritten };
  logger.info('dataset updated', updated);
  return updated;
}

/** One model and engine for the whole run, checked before anything is written: mixed vectors are no dataset. */
function runModel(batches: readonly SucceededBatch[]): Pick<SucceededBatch, 'modelId' | 'engine'> | undefined {
  const [first] = batches;
  const other = batches.find((batch) => batch.modelId !== first?.modelId || batch.engine !== first?.engine);
  if (first && other) {
    throw new RunArtifactError(
      `the run mixes vectors of ${first.modelId} (${first.engine}) and ${other.modelId} (${other.engine}), e.g. ${other.shard}`,
    );
  }
  return first;
}

function partMetadata(shard: ShardMetadata, now: Date): Record<string, string> {
  return {
    [partMetadataKeys.runId]: shard.runId,
    [partMetadataKeys.modelId]: shard.modelId,
    [partMetadataKeys.engine]: shard.engine,
    [partMetadataKeys.preprocessing]: shard.preprocessing,
    [partMetadataKeys.createdAt]: now.toISOString(),
  };
}

async function* countRows<T>(chunks: AsyncIterable<T[]>, count: (n: number) => void): AsyncGenerator<T[]> {
  for await (const chunk of chunks) {
    count(chunk.length);
    yield chunk;
  }
}

/**
 * The run's shards in order, read ahead while the writer works: their vector rows as a stream, their
 * failure records and (for an incremental run's rewrite only: a full run may list millions) their paths
 * collected on the way.
 */
class ShardStream {
  readonly failures: FailureRecord[] = [];
  readonly paths: string[] = [];
  private readonly output: Storage;
  private readonly runId: string;
  private readonly batches: readonly SucceededBatch[];
  private readonly options: { concurrency: number; collectPaths: boolean };
  private expected: ShardMetadata | undefined;

  constructor(
    output: Storage,
    runId: string,
    batches: readonly SucceededBatch[],
    options: { concurrency: number; collectPaths: boolean },
  ) {
    this.output = output;
    this.runId = runId;
    this.batches = batches;
    this.options = options;
  }

  get empty(): boolean {
    return this.batches.length === 0;
  }

  /** The first shard's metadata, which every other shard of the run must share. */
  async metadata(): Promise<ShardMetadata> {
    const [first] = this.batches;
    if (!first) throw new RangeError('the run has no shard');
    this.expected ??= decodeShard(await this.output.read(first.shard)).metadata;
    return this.expected;
  }

  async *rows(): AsyncGenerator<DatasetRow[]> {
    const decoded = pMapIterable(this.batches, async (batch) => ({ batch, ...decodeShard(await this.output.read(batch.shard)) }), {
      concurrency: this.options.concurrency,
      backpressure: this.options.concurrency,
    });
    for await (const { batch, metadata, rows } of decoded) {
      this.check(batch, metadata);
      const vectors: DatasetRow[] = [];
      for (const row of rows) {
        if (this.options.collectPaths) this.paths.push(row.path);
        const { features, failure, sha256, ...source } = row;
        if (failure) this.failures.push({ path: row.path, code: failure.code, message: failure.message });
        else if (features && sha256 !== null) vectors.push({ ...source, sha256, features });
        else throw new RunArtifactError(`${this.output.locationOf(batch.shard)}: ${row.path} has neither a vector with its hash nor a failure`);
      }
      yield vectors;
    }
  }

  private check(batch: SucceededBatch, metadata: ShardMetadata): void {
    const where = this.output.locationOf(batch.shard);
    if (metadata.runId !== this.runId) throw new RunArtifactError(`${where} belongs to run ${metadata.runId}, not ${this.runId}`);
    this.expected ??= metadata;
    for (const field of ['modelId', 'engine', 'preprocessing'] as const) {
      if (metadata[field] !== this.expected[field]) {
        throw new RunArtifactError(`${where} has ${field} ${metadata[field]}, other shards of the run ${this.expected[field]}`);
      }
    }
  }
}

/**
 * Older parts without the paths this run re-processed: untouched when they hold none, removed when they
 * hold nothing else, otherwise rewritten in place (same key, same order, same metadata plus a note of the
 * rewrite). Only the `path` column is read to decide.
 */
async function withoutReprocessed(
  output: Storage,
  older: readonly StoredObject[],
  reprocessed: ReadonlySet<string>,
  runId: string,
  options: ReduceOptions,
): Promise<{ removed: string[]; rewritten: string[] }> {
  const removed: string[] = [];
  const rewritten: string[] = [];
  if (reprocessed.size === 0) return { removed, rewritten };
  const scanned = pMapIterable(
    older,
    async (object) => {
      const part = await openPart(output, object);
      const paths = await readPartPaths(part);
      return { part, hits: paths.filter((path) => reprocessed.has(path)).length, rows: paths.length };
    },
    { concurrency: options.readConcurrency },
  );
  for await (const { part, hits, rows } of scanned) {
    if (hits === 0) continue;
    if (hits === rows) {
      await output.remove([part.key]);
      removed.push(part.key);
      continue;
    }
    const metadata = {
      ...Object.fromEntries(Object.entries(partKeyValues(part)).filter(([key]) => key !== 'ARROW:schema')),
      [partMetadataKeys.rewrittenBy]: runId,
      [partMetadataKeys.rewrittenAt]: (options.now ?? new Date()).toISOString(),
    };
    const kept = keptRows(part, reprocessed);
    await output.write(part.key, await encodeParquet(kept, { rowGroupRows: options.rowGroupRows, metadata }));
    rewritten.push(part.key);
  }
  return { removed, rewritten };
}

async function* keptRows(part: PartFile, reprocessed: ReadonlySet<string>): AsyncGenerator<DatasetRow[]> {
  for await (const group of readPartRowGroups(part, ['path', 'label', 'size', 'etag', 'sha256', 'features'])) {
    yield group
      .filter((row) => !reprocessed.has(row.path as string))
      .map((row) => ({
        path: row.path as string,
        label: row.label as string,
        size: Number(row.size),
        etag: (row.etag as string | null | undefined) ?? null,
        sha256: row.sha256 as string,
        features: Float32Array.from(row.features as number[]),
      }));
  }
}
