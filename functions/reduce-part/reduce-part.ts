/**
 * One group of a run's shards to one staged part: streams the group's shards (in key order, read ahead while
 * the writer works) into a Parquet part at the key the plan gave it (runs/<runId>/parts/), and writes the
 * group's failure records and counts under runs/<runId>/reduce/ for FinishReduce, and its share of the report's
 * sample of the run's vectors (row-sample.ts). Nothing under `features/`
 * changes here (write, audit, publish). Knows nothing of Lambda.
 *
 * Memory holds one part's bytes and its failure records, whatever the run's size. Staged parts and the
 * reduce's own objects carry the intermediate tag: the bucket's lifecycle expires them, published or not.
 * Idempotent: a retried child writes the same part and objects again, with the same rows.
 */
import type { RecordBatch } from 'apache-arrow';
import { pMapIterable } from 'p-map';
import type { ReduceGroup, ReducePartStats } from '../../statemachine/contracts.ts';
import { partMetadataKeys } from '../shared/dataset/feature-parts.ts';
import { encodeParquetBatches } from '../shared/dataset/parquet-writer.ts';
import { inSample, writeRowSample } from '../shared/dataset/row-sample.ts';
import { RunArtifactError } from '../shared/errors.ts';
import { countFailureCodes, type FailureRecord } from '../shared/failures.ts';
import { ScatterAccumulator } from '../shared/pca/scatter-accumulator.ts';
import { groupFailuresKey, intermediateTags, partMomentsKey, reduceStatsKey } from '../shared/run-layout.ts';
import { batchVectors, type DatasetRow, datasetRows, readShardVectors, type ShardMetadata } from '../shared/shards/shard-file.ts';
import type { Storage } from '../shared/storage/storage.ts';

export interface ReduceGroupRequest {
  runId: string;
  group: ReduceGroup;
  /** Where the images are: their keys become the paths the part metadata bounds. */
  input: Storage;
  output: Storage;
  /** When the run started (its execution): recorded in the part, see publish-plan.ts. */
  startedAt: string;
  /**
   * The run fits PCA: the part's scatter moments (mean and Σ(x − x̄)(x − x̄)ᵀ, float64) are accumulated from the
   * vectors on their way to the writer and written beside its stats, for Pca to merge (scatter-accumulator.ts).
   */
  moments?: boolean;
}

export interface ReduceOptions {
  rowGroupRows: number;
  readConcurrency: number;
  now?: Date;
}

export async function reduceGroup(request: ReduceGroupRequest, options: ReduceOptions): Promise<ReducePartStats> {
  const { runId, group, output } = request;
  const shards = new ShardStream(output, runId, group, options.readConcurrency);
  let rows = 0;
  if (group.part === null) {
    // No vector in the group: its shards still hold the failure records.
    for await (const _ of shards.batches());
  } else {
    // Assigned in the callback below: typed by a cast, so that the check after it is not narrowed to `undefined`.
    let moments = undefined as ScatterAccumulator | undefined;
    const sample: DatasetRow[] = [];
    const bytes = await encodeParquetBatches(
      eachChunk(shards.batches(), (batch) => {
        rows += batch.numRows;
        // Copied: the sample is kept until the part is written; a view would keep its shard's whole buffer.
        for (const row of datasetRows(batch, (path) => inSample(path, group.sampleShare))) {
          sample.push({ ...row, features: row.features.slice() });
        }
        if (!request.moments || batch.numRows === 0) return;
        const vectors = batchVectors(batch);
        moments ??= new ScatterAccumulator(vectors[0]!.length);
        moments.add(vectors);
      }),
      { rowGroupRows: options.rowGroupRows, metadata: partMetadata(request, options.now ?? new Date()) },
    );
    await output.write(group.part, bytes, { tags: intermediateTags });
    if (moments) await output.write(partMomentsKey(runId, group.index), moments.toBytes(), { tags: intermediateTags });
    await writeRowSample(output, runId, group, sample);
  }
  const failureRecords = shards.failures.length > 0 ? groupFailuresKey(runId, group.index) : null;
  if (failureRecords) {
    const lines = shards.failures.map((failure) => `${JSON.stringify(failure)}\n`).join('');
    await output.write(failureRecords, lines, { tags: intermediateTags });
  }
  const stats: ReducePartStats = {
    runId,
    index: group.index,
    part: group.part,
    rows,
    failures: shards.failures.length,
    failureCodes: countFailureCodes(shards.failures),
    failureRecords,
    modelId: group.modelId,
    engine: group.engine,
    preprocessing: group.preprocessing,
  };
  // Last: FinishReduce takes a group's stats as the sign that its part and failure records are complete.
  await output.write(reduceStatsKey(runId, group.index), JSON.stringify(stats), { tags: intermediateTags });
  return stats;
}

function partMetadata({ runId, group, input, startedAt }: ReduceGroupRequest, now: Date): Record<string, string> {
  return {
    [partMetadataKeys.runId]: runId,
    [partMetadataKeys.modelId]: group.modelId,
    [partMetadataKeys.engine]: group.engine,
    [partMetadataKeys.preprocessing]: group.preprocessing,
    [partMetadataKeys.createdAt]: now.toISOString(),
    [partMetadataKeys.runStartedAt]: startedAt,
    [partMetadataKeys.pathMin]: input.locationOf(group.keys.first),
    [partMetadataKeys.pathMax]: input.locationOf(group.keys.last),
  };
}

async function* eachChunk<T>(chunks: AsyncIterable<T>, seen: (chunk: T) => void): AsyncGenerator<T> {
  for await (const chunk of chunks) {
    seen(chunk);
    yield chunk;
  }
}

/**
 * The group's shards in order, read ahead while the writer works: their vector rows as a stream of record batches
 * (the shards' own buffers), their failure records collected on the way.
 */
class ShardStream {
  readonly failures: FailureRecord[] = [];
  private readonly output: Storage;
  private readonly runId: string;
  private readonly group: ReduceGroup;
  private readonly concurrency: number;

  constructor(output: Storage, runId: string, group: ReduceGroup, concurrency: number) {
    this.output = output;
    this.runId = runId;
    this.group = group;
    this.concurrency = concurrency;
  }

  /** The shards' vector rows, in the dataset's columns; their failure records are collected on the way. */
  async *batches(): AsyncGenerator<RecordBatch> {
    const decoded = pMapIterable(this.group.shards, async (shard) => ({ shard, ...readShardVectors(await this.output.read(shard)) }), {
      concurrency: this.concurrency,
      backpressure: this.concurrency,
    });
    for await (const { shard, metadata, batches, failures, malformed, incomplete } of decoded) {
      const where = this.output.locationOf(shard);
      if (malformed !== undefined) throw new RunArtifactError(`${where}: ${malformed}`);
      this.check(shard, metadata);
      this.failures.push(...failures);
      if (incomplete !== undefined) throw new RunArtifactError(`${where}: ${incomplete} has neither a vector with its hash nor a failure`);
      yield* batches;
    }
  }

  /** A shard must be what the map's results say it is: of this run, its model, engine and preprocessing. */
  private check(shard: string, metadata: ShardMetadata): void {
    const where = this.output.locationOf(shard);
    if (metadata.runId !== this.runId) throw new RunArtifactError(`${where} belongs to run ${metadata.runId}, not ${this.runId}`);
    for (const field of ['modelId', 'engine', 'preprocessing'] as const) {
      if (metadata[field] !== this.group[field]) {
        throw new RunArtifactError(`${where} has ${field} ${metadata[field]}, its batch's result says ${this.group[field]}`);
      }
    }
  }
}
