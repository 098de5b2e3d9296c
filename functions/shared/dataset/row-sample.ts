/**
 * The report's sample of a run's vectors, drawn where each part is written (ReducePart, from the rows on their way
 * to the writer), so that the report reads a few thousand vectors, never the run's millions.
 *
 * A row is sampled when its path's rank (the first 32 bits of the path's SHA-256, as a share of 2³²) is below
 * the run's share, which PlanReduce sets from the run's rows: the same images every run, and the same sample
 * however the run is cut into parts. The share expects 1.5 times `sampleVectors` rows (fewer than `sampleVectors`
 * has a probability under e⁻¹⁶⁰, Chernoff's bound), and the report keeps the `sampleVectors` lowest-ranked: a
 * uniform sample of that size.
 */
import { createHash } from 'node:crypto';
import type { ReduceGroup } from '../../../statemachine/contracts.ts';
import { RunArtifactError } from '../errors.ts';
import { intermediateTags, rowSampleIndex, rowSampleKey, rowSamplesPrefix } from '../run-layout.ts';
import { type DatasetRow, datasetRows, encodeShard, readShardVectors } from '../shards/shard-file.ts';
import type { Storage } from '../storage/storage.ts';

/** Vectors the report analyses at most (exact search costs their number squared). */
export const sampleVectors = 2000;

/** The share of a run of `runRows` rows that its parts sample. */
export function sampleShare(runRows: number): number {
  return Math.min(1, (1.5 * sampleVectors) / Math.max(1, runRows));
}

/** A path's place in [0, 1): rows below the run's share are sampled, and the lowest kept. */
function pathRank(path: string): number {
  return createHash('sha256').update(path).digest().readUInt32BE(0) / 2 ** 32;
}

/** Whether the row at `path` is in the sample of a run whose share is `share`. */
export function inSample(path: string, share: number): boolean {
  return pathRank(path) < share;
}

/** Writes the sampled rows of one group's part (an Arrow file of the shards' layout), when there are any. */
export async function writeRowSample(
  output: Storage,
  runId: string,
  group: Pick<ReduceGroup, 'index' | 'modelId' | 'engine' | 'preprocessing'>,
  rows: readonly DatasetRow[],
): Promise<void> {
  if (rows.length === 0) return;
  const { modelId, engine, preprocessing } = group;
  const bytes = encodeShard(
    rows.map((row) => ({ ...row, failure: null })),
    rows[0]!.features.length,
    { runId, batchId: `sample-${group.index}`, modelId, engine, preprocessing },
  );
  await output.write(rowSampleKey(runId, group.index), bytes, { tags: intermediateTags });
}

/** The run's `size` lowest-ranked sampled rows, over every part's sample. */
export async function readRunSample(output: Storage, runId: string, size: number): Promise<DatasetRow[]> {
  const ranked: { rank: number; row: DatasetRow }[] = [];
  for await (const object of output.list(rowSamplesPrefix(runId))) {
    if (rowSampleIndex(runId, object.key) === undefined) continue;
    // The rows' vectors stay views over the file's bytes: copying each (fresh memory, a page fault per 4 KiB) cost
    // the report 0.1 s of its 0.85.
    const { batches, malformed, incomplete } = readShardVectors(await output.read(object.key));
    const problem = malformed ?? (incomplete === undefined ? undefined : `${incomplete} has no vector with its hash`);
    if (problem !== undefined) throw new RunArtifactError(`${output.locationOf(object.key)}: ${problem}`);
    for (const batch of batches) for (const row of datasetRows(batch)) ranked.push({ rank: pathRank(row.path), row });
  }
  return ranked
    .sort((a, b) => a.rank - b.rank || (a.row.path < b.row.path ? -1 : a.row.path > b.row.path ? 1 : 0))
    .slice(0, size)
    .map(({ row }) => row);
}
