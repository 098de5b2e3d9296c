/**
 * Publishes a run that passed validation into features/. Knows nothing of Lambda.
 *
 * Under the output's lease (publish-lease.ts), so that runs on one output take turns:
 *  1. a publish an earlier process left half-done is finished first (publish-journal.ts);
 *  2. the plan is made against features/ as it is now (publish-plan.ts): the rows this run replaces (its scope),
 *     the rows newer runs published meanwhile (kept), a file this pipeline did not write (refused);
 *  3. parts to write anew (older parts without the replaced rows; the run's own without paths a newer run has)
 *     are written under runs/<runId>/rewrites/;
 *  4. the journal, then the copies into features/, then the removals, then the commit record.
 *
 * Idempotent: a run whose commit record exists is published already, and publishing it again changes nothing
 * (an old run published late cannot undo newer ones). The staged parts stay where they are: they are what the
 * validator audited, and their intermediate tag lets the bucket's lifecycle expire them.
 */
import { basename } from 'node:path';
import pMap from 'p-map';
import type { PublishResult, RunScope } from '../../statemachine/contracts.ts';
import {
  type DescribedPart,
  describePart,
  listParts,
  partKeyValues,
  partMetadataKeys,
  readPartPaths,
  readPartVectorGroups,
} from '../shared/dataset/feature-parts.ts';
import { encodeParquet } from '../shared/dataset/parquet-writer.ts';
import { commitPublish, finishPendingPublish, type PublishJournal, readPublishRecord } from '../shared/dataset/publish-journal.ts';
import { type LeaseStore, leaseOwner, withLease } from '../shared/dataset/publish-lease.ts';
import { type PartRewrite, planPublish, readDataset } from '../shared/dataset/publish-plan.ts';
import { PublishRefusedError, RunArtifactError } from '../shared/errors.ts';
import { readFailureRecords } from '../shared/failures-file.ts';
import { logger } from '../shared/observability.ts';
import { intermediateTags, rewritesPrefix, stagedPartsPrefix } from '../shared/run-layout.ts';
import { type DatasetRow, datasetScalarColumns } from '../shared/shards/shard-file.ts';
import { compareKeys, type Storage } from '../shared/storage/storage.ts';

export interface PublishRequest {
  runId: string;
  output: Storage;
  scope: RunScope;
  /** The run's audited staged parts, keys relative to the output location (the validation report's `parts`). */
  parts: readonly string[];
  lease: LeaseStore;
}

export interface PublishOptions {
  /** Rows per row group of a rewritten part: the reducer's. */
  rowGroupRows: number;
  /** Parts copied, or read for their paths, at once. */
  readConcurrency: number;
  leaseMs: number;
  now?: Date;
}

export async function publishRun(request: PublishRequest, options: PublishOptions): Promise<PublishResult> {
  const started = performance.now();
  const { runId, output } = request;
  const result = (journal: PublishJournal, repaired: string | null = null): PublishResult => ({
    runId,
    kind: journal.kind,
    parts: journal.published,
    removedParts: journal.removals.length,
    rewrittenParts: journal.rewrittenParts,
    newerParts: journal.newerParts.length,
    repaired,
    millis: Math.round(performance.now() - started),
  });
  const done = await readPublishRecord(output, runId);
  if (done) return result(done);
  const staged = await requireStaged(output, runId, request.parts);

  return withLease(request.lease, leaseOwner(runId), options.leaseMs, async (lease) => {
    const repaired = await finishPendingPublish(output, lease, options.readConcurrency);
    if (repaired?.runId === runId) return result(repaired);
    const [first] = staged;
    const plan = await planPublish(
      output,
      {
        runId,
        startedAt: first.runStartedAt,
        scope: request.scope,
        modelId: first.modelId,
        staged,
        covered: request.scope.kind === 'incremental' ? await coveredPaths(output, runId, staged, options.readConcurrency) : [],
      },
      await readDataset(output, options.readConcurrency),
      { concurrency: options.readConcurrency, rewriteKey: (key) => `${rewritesPrefix(runId)}${basename(key)}` },
    );
    for (const rewrite of [...plan.rewrites.own, ...plan.rewrites.older]) {
      lease.check();
      await output.write(rewrite.to, await rewritePart(rewrite, runId, options), { tags: intermediateTags });
    }
    const committed = await commitPublish(
      output,
      {
        runId,
        kind: request.scope.kind,
        published: plan.published,
        copies: plan.copies,
        removals: plan.removals,
        rewrittenParts: plan.rewrites.older.length,
        newerParts: plan.newerParts,
        startedAt: (options.now ?? new Date()).toISOString(),
      },
      lease,
      options.readConcurrency,
    );
    logger.info('features/ updated', { runId, kind: request.scope.kind, removals: plan.removals, rewritten: plan.rewrites.older.length });
    return result(committed, repaired?.runId ?? null);
  });
}

/**
 * The staged parts, described and checked to be all there before anything changes: a run published long after
 * its validation may find them expired by the lifecycle rule. A run without any has nothing to publish.
 */
async function requireStaged(output: Storage, runId: string, parts: readonly string[]): Promise<[DescribedPart, ...DescribedPart[]]> {
  if (parts.length === 0) throw new PublishRefusedError(`run ${runId} made no vectors: nothing to publish, features/ is left as it was`);
  const folder = stagedPartsPrefix(runId);
  const present = new Map((await listParts(output, folder)).map((object) => [object.key, object]));
  const missing = parts.filter((key) => !present.has(key));
  if (missing.length > 0) {
    throw new RunArtifactError(
      `run ${runId}: ${missing.length} of its audited parts are gone from ${output.locationOf(folder)} ` +
        `(expired or removed), e.g. ${missing[0]}; nothing was published: run its images again`,
    );
  }
  const described = await Promise.all(parts.map((key) => describePart(output, present.get(key)!, folder)));
  const unreadable = parts.find((_, i) => !described[i]);
  if (unreadable) throw new RunArtifactError(`${output.locationOf(unreadable)} is not a part this run staged`);
  return described as [DescribedPart, ...DescribedPart[]];
}

/** Every path an incremental run covered: its rows and its failure records (skipped files included). */
async function coveredPaths(output: Storage, runId: string, staged: readonly DescribedPart[], concurrency: number): Promise<string[]> {
  const paths = (await pMap(staged, (part) => readPartPaths(part.file), { concurrency })).flat();
  for (const failure of await readFailureRecords(output, runId)) paths.push(failure.path);
  return paths.sort(compareKeys);
}

/** The part without the rows the rewrite drops: same order, same metadata plus a note of the rewrite. */
async function rewritePart(rewrite: PartRewrite, runId: string, options: PublishOptions): Promise<Uint8Array> {
  const metadata = {
    ...partKeyValues(rewrite.source.file),
    [partMetadataKeys.rewrittenBy]: runId,
    [partMetadataKeys.rewrittenAt]: (options.now ?? new Date()).toISOString(),
  };
  return encodeParquet(keptRows(rewrite.source, rewrite.keep), { rowGroupRows: options.rowGroupRows, metadata });
}

async function* keptRows(part: DescribedPart, keep: (path: string) => boolean): AsyncGenerator<DatasetRow[]> {
  for await (const { rows, vectors } of readPartVectorGroups(part.file, datasetScalarColumns)) {
    yield rows.flatMap((row, index) =>
      keep(row.path as string)
        ? [
            {
              path: row.path as string,
              label: row.label as string,
              size: Number(row.size),
              etag: (row.etag as string | null | undefined) ?? null,
              sha256: row.sha256 as string,
              features: vectors.vector(index),
            },
          ]
        : [],
    );
  }
}
