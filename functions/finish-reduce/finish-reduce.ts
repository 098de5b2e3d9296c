/**
 * The last step of the reduce fan-out: reads only the groups' stats objects (runs/<runId>/reduce/stats/, a
 * listing streamed in group order), checks that every group of the plan has its stats, writes the run's failure
 * records (`runs/<runId>/failures.jsonl`: the groups' records in group order, then the failed batches' items)
 * by streaming the files one after the other, removes staged parts an earlier attempt wrote beyond this one's,
 * and returns the run's ReduceResult, as one reducer returned it before the fan-out. Knows nothing of Lambda.
 *
 * Memory holds the part keys and the failure files' keys, one per group at most; never a row or a record.
 */
import { type FinishReduceEvent, type ReduceResult, reducePartStatsSchema } from '../../statemachine/contracts.ts';
import { listParts } from '../shared/dataset/feature-parts.ts';
import { RunArtifactError } from '../shared/errors.ts';
import type { FailureCode } from '../shared/failures.ts';
import { parseJsonDocument } from '../shared/json-document.ts';
import { logger } from '../shared/observability.ts';
import {
  batchFailuresKey,
  failuresKey,
  partMomentsIndex,
  partMomentsPrefix,
  reduceStatsPrefix,
  rowSampleIndex,
  rowSamplesPrefix,
  stagedPartsPrefix,
} from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';

export interface FinishReduceRequest {
  output: Storage;
  plan: FinishReduceEvent['plan'];
}

export async function finishReduce({ output, plan }: FinishReduceRequest): Promise<ReduceResult> {
  const { runId } = plan;
  const parts: string[] = [];
  const failureFiles: string[] = [];
  const failureCodes: Partial<Record<FailureCode, number>> = {};
  const staleStats: string[] = [];
  const withPart = new Set<number>();
  let rows = 0;
  let failures = 0;
  let groups = 0;
  for await (const object of output.list(reduceStatsPrefix(runId))) {
    const where = output.locationOf(object.key);
    const stats = parseJsonDocument(reducePartStatsSchema, await output.read(object.key), where, {
      expected: "a reduce group's stats",
      error: RunArtifactError,
    });
    if (stats.runId !== runId) throw new RunArtifactError(`${where} belongs to run ${stats.runId}, not ${runId}`);
    if (stats.index >= plan.groups) {
      // Written by an earlier attempt whose plan had more groups.
      staleStats.push(object.key);
      continue;
    }
    if (stats.index !== groups) throw new RunArtifactError(`the stats of reduce group ${groups} of ${plan.groups} are missing`);
    groups++;
    rows += stats.rows;
    failures += stats.failures;
    for (const [code, count] of Object.entries(stats.failureCodes) as [FailureCode, number][]) {
      failureCodes[code] = (failureCodes[code] ?? 0) + count;
    }
    if (stats.part) {
      parts.push(stats.part);
      withPart.add(stats.index);
    }
    if (stats.failureRecords) failureFiles.push(stats.failureRecords);
  }
  if (groups !== plan.groups) throw new RunArtifactError(`the stats of reduce group ${groups} of ${plan.groups} are missing`);

  await output.write(failuresKey(runId), concatenated(output, [...failureFiles, batchFailuresKey(runId)]));
  // Every item of a failed or never-run batch is recorded as BATCH_FAILED (plan-reduce/map-results.ts).
  if (plan.batchFailures > 0) failureCodes.BATCH_FAILED = (failureCodes.BATCH_FAILED ?? 0) + plan.batchFailures;
  await removeLeftovers(output, runId, parts, staleStats, withPart);

  return {
    runId,
    listed: plan.listed,
    rows,
    failures: failures + plan.batchFailures,
    failureCodes,
    parts,
    groups: plan.groups,
    modelId: plan.modelId,
    engine: plan.engine,
    millis: Math.max(0, Date.now() - plan.startedMs),
    extractMillis: plan.extractMillis,
  };
}

/** The files' bytes one after the other, a chunk at a time. */
async function* concatenated(output: Storage, keys: readonly string[]): AsyncGenerator<Uint8Array> {
  for (const key of keys) yield* output.readStream(key);
}

/**
 * Staged parts, stats, part moments and samples an earlier attempt wrote beyond this one's (its map results had
 * more rows): afterwards the moments objects are exactly one per part of this attempt, all that Pca merges, and the
 * samples of no other rows than this attempt's reach the report.
 */
async function removeLeftovers(
  output: Storage,
  runId: string,
  parts: readonly string[],
  staleStats: readonly string[],
  withPart: ReadonlySet<number>,
): Promise<void> {
  const written = new Set(parts);
  const leftovers = (await listParts(output, stagedPartsPrefix(runId))).map((object) => object.key).filter((key) => !written.has(key));
  for await (const object of output.list(partMomentsPrefix(runId))) {
    if (!withPart.has(partMomentsIndex(runId, object.key) ?? -1)) leftovers.push(object.key);
  }
  for await (const object of output.list(rowSamplesPrefix(runId))) {
    if (!withPart.has(rowSampleIndex(runId, object.key) ?? -1)) leftovers.push(object.key);
  }
  if (leftovers.length + staleStats.length === 0) return;
  await output.remove([...leftovers, ...staleStats]);
  logger.info('staged parts of an earlier attempt removed', { leftovers, staleStats });
}
