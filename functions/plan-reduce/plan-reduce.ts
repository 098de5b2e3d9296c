/**
 * The first step of the reduce fan-out: reads the Distributed Map's results (a line at a time, map-results.ts),
 * cuts the run's succeeded batches, in key order, into the fewest groups of at most `partRows` vectors (a group
 * never splits a batch), as even as the batches allow, and writes them as the plan `runs/<runId>/reduce/plan.json`,
 * one JSON array item per group: the ReduceParts map reads it (ItemReader s3:getObject, JSON) and compacts each
 * group into one staged part in a child of its own (functions/reduce-part). The items of failed and never-run batches, which no shard holds,
 * go to `runs/<runId>/reduce/batch-failures.jsonl` for FinishReduce. Knows nothing of Lambda.
 *
 * Each group also gets the share of the run's rows its part samples for the report (row-sample.ts), and a range of the input's keys (after the previous group's last key, through its own last; the
 * first from the start, the last to the end), which its child lists anew for the validation's accounting.
 *
 * Its memory holds one small record per succeeded batch (shard key, counts, first and last key), never a row.
 * Idempotent: the same map results give the same plan, the same part keys.
 */
import type { PlanReduceResult, ReduceGroup } from '../../statemachine/contracts.ts';
import { sampleShare } from '../shared/dataset/row-sample.ts';
import { RunArtifactError } from '../shared/errors.ts';
import { batchFailuresKey, intermediateTags, partKey, reducePlanKey, stagedPartsPrefix } from '../shared/run-layout.ts';
import { compareKeys, normalizePrefix, type Storage } from '../shared/storage/storage.ts';
import { readMapResults, type SucceededBatch } from './map-results.ts';

export interface PlanReduceRequest {
  runId: string;
  output: Storage;
  /** The output location's bucket and key prefix: the map's manifest names result files by full key, and so does the plan. */
  outputLocation: { bucket: string; prefix: string };
}

export interface PlanReduceOptions {
  partRows: number;
  /** ReduceParts children running at once: at least this many groups when each keeps `minRowsPerPart` rows (default 1). */
  parallelism?: number;
}

/**
 * The fewest rows a group gets for the sake of parallelism alone: below it a child's fixed costs (starting, reading
 * its shards' footers, listing its range) outweigh what a second core saves, and the dataset would gain small files.
 */
export const minRowsPerPart = 1_000;

/**
 * At most this many shards in a group: a group is one child's input, which Step Functions limits to 256 KiB
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum input or output size for
 * a task, state, or execution"). 1,000 shard keys of at most ~130 bytes (an 80-character run id) stay under
 * it; only batches of fewer than partRows / 1,000 vectors on average (25 by default) reach this cap first.
 */
export const maxShardsPerGroup = 1000;

export async function planReduce(request: PlanReduceRequest, options: PlanReduceOptions): Promise<PlanReduceResult> {
  const startedMs = Date.now();
  const { runId, output, outputLocation } = request;
  const results = await readMapResults(output, outputLocation.prefix, runId);
  const model = runModel(results.succeeded);

  const groups: ReduceGroup[] = [];
  const share = sampleShare(results.succeeded.reduce((sum, batch) => sum + batch.vectors, 0));
  let parts = 0;
  let listedThrough: string | null = null;
  for (const batches of batchGroups(results.succeeded, options.partRows, options.parallelism ?? 1)) {
    const rows = batches.reduce((sum, batch) => sum + batch.vectors, 0);
    const [first] = batches as [SucceededBatch];
    const last = batches
      .map((batch) => batch.keys.last)
      .sort(compareKeys)
      .at(-1)!;
    // Ranges that only grow, so that they tile the keys even if two groups' keys interleaved.
    const through: string = listedThrough === null || compareKeys(last, listedThrough) > 0 ? last : listedThrough;
    groups.push({
      index: groups.length,
      // Every item failed: the shards still hold the failure records, and no part is written.
      part: rows === 0 ? null : partKey(runId, parts++, stagedPartsPrefix(runId)),
      shards: batches.map((batch) => batch.shard),
      rows,
      keys: { first: first.keys.first, last },
      listRange: { after: listedThrough, through },
      sampleShare: share,
      modelId: first.modelId,
      engine: first.engine,
      preprocessing: first.preprocessing,
    });
    listedThrough = through;
  }
  // The last group lists to the end of the input: the groups' ranges tile every key.
  const lastGroup = groups.at(-1);
  if (lastGroup) lastGroup.listRange.through = null;
  await output.write(reducePlanKey(runId), JSON.stringify(groups), { tags: intermediateTags });
  await output.write(batchFailuresKey(runId), results.failures.map((failure) => `${JSON.stringify(failure)}\n`).join(''), {
    tags: intermediateTags,
  });

  return {
    runId,
    plan: { bucket: outputLocation.bucket, key: normalizePrefix(outputLocation.prefix) + reducePlanKey(runId) },
    groups: groups.length,
    listed: results.listed,
    batchFailures: results.failures.length,
    modelId: model?.modelId ?? null,
    engine: model?.engine ?? null,
    extractMillis: {
      batches: results.succeeded.reduce((sum, batch) => sum + batch.millis.total, 0),
      inference: results.succeeded.reduce((sum, batch) => sum + batch.millis.inference, 0),
    },
    startedMs,
  };
}

/**
 * Consecutive batches in the fewest groups of at most `partRows` vectors (a part never splits a batch), of even
 * size: the largest part sets how long the reduce's slowest child takes (30,000 vectors make two parts of 15,000,
 * not 25,000 and 5,000). At least `parallelism` groups while each keeps `minRowsPerPart` vectors: locally 11,795
 * vectors on two workers make two parts, reduced and audited on both cores, not one on one. Each part covers a
 * range of paths, which its metadata records (featurize.path_min/max): the publisher then judges most parts
 * against a run's scope without reading them. A group ends before the batch that would take the run's vectors up
 * to it past its even share's end.
 */
function* batchGroups(batches: readonly SucceededBatch[], partRows: number, parallelism: number): Generator<SucceededBatch[]> {
  const total = batches.reduce((sum, batch) => sum + batch.vectors, 0);
  const groups = Math.max(1, Math.ceil(total / partRows), Math.min(parallelism, Math.floor(total / minRowsPerPart)));
  let group: SucceededBatch[] = [];
  let vectors = 0;
  let before = 0;
  // Where the group being filled should end; with no vector at all, only the shard cap cuts.
  const evenEndAfter = (vectorsBefore: number) =>
    total === 0 ? Number.POSITIVE_INFINITY : ((Math.round((vectorsBefore * groups) / total) + 1) * total) / groups;
  let evenEnd = evenEndAfter(0);
  for (const batch of batches) {
    const full = vectors + batch.vectors > partRows || before + vectors + batch.vectors > evenEnd;
    if (group.length > 0 && (full || group.length === maxShardsPerGroup)) {
      yield group;
      before += vectors;
      // The next group's share ends at the even boundary after the one this group's end is nearest.
      evenEnd = evenEndAfter(before);
      group = [];
      vectors = 0;
    }
    group.push(batch);
    vectors += batch.vectors;
  }
  if (group.length > 0) yield group;
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
