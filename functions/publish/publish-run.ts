/**
 * Publishes a run that passed validation: copies its audited parts from runs/<runId>/parts/ into features/,
 * then takes out of features/ what they replace (publish-plan.ts: other runs' parts in a full run; the images
 * the run re-processed, from older parts, in an incremental one). Knows nothing of Lambda.
 *
 * New rows first, then removals: every copy is in place before any part is rewritten or removed, so an image is
 * never missing from features/. In between, a reader may find an image the run re-processed twice (its old row
 * and its new one), never zero times. A rewrite replaces its part in one write (an S3 PUT, a rename on disk).
 *
 * Idempotent: copies overwrite the same keys with the same bytes, removed parts are gone, rewritten parts no
 * longer hold the run's paths; so a retry after an interruption finishes the job, and one after a success
 * changes nothing. The staged parts stay where they are: they are what the validator audited, the source a
 * retry copies from, and their intermediate tag lets the bucket's lifecycle expire them.
 */
import pMap from 'p-map';
import type { PublishResult, RunMode } from '../../statemachine/contracts.ts';
import {
  listParts,
  openPart,
  type PartFile,
  partKeyValues,
  partMetadataKeys,
  readPartPaths,
  readPartRowGroups,
} from '../shared/dataset/feature-parts.ts';
import { type DatasetRow, encodeParquet } from '../shared/dataset/parquet-writer.ts';
import { planPublish } from '../shared/dataset/publish-plan.ts';
import { RunArtifactError } from '../shared/errors.ts';
import { readFailureRecords } from '../shared/failures-file.ts';
import { logger } from '../shared/observability.ts';
import { stagedPartsPrefix } from '../shared/run-layout.ts';
import type { Storage, StoredObject } from '../shared/storage/storage.ts';

export interface PublishRequest {
  runId: string;
  output: Storage;
  mode: RunMode;
  /** The run's audited staged parts, keys relative to the output location (the validation report's `parts`). */
  parts: readonly string[];
}

export interface PublishOptions {
  /** Rows per row group of a rewritten part: the reducer's. */
  rowGroupRows: number;
  /** Parts copied, or read for their paths, at once. */
  readConcurrency: number;
  now?: Date;
}

export async function publishRun(request: PublishRequest, options: PublishOptions): Promise<PublishResult> {
  const started = performance.now();
  const { runId, output, mode } = request;
  const staged = await requireStaged(output, runId, request.parts);
  const reprocessed = mode === 'incremental' ? await runPaths(output, runId, staged, options.readConcurrency) : new Set<string>();
  const plan = await planPublish(output, { runId, mode, staged: request.parts }, reprocessed, options.readConcurrency);

  await pMap(request.parts, (key, i) => output.copy(key, plan.published[i]!), { concurrency: options.readConcurrency });
  logger.info('run parts copied into features/', { runId, parts: plan.published.length });

  await output.remove(plan.replaced);
  const removed = [...plan.replaced];
  const rewritten: string[] = [];
  for await (const { part, fate } of plan.older) {
    if (fate === 'removed') {
      await output.remove([part.key]);
      removed.push(part.key);
    } else if (fate === 'rewritten') {
      await output.write(part.key, await rewrite(part, reprocessed, runId, options));
      rewritten.push(part.key);
    }
  }
  logger.info('features/ updated', { runId, mode, removed, rewritten });
  return {
    runId,
    mode,
    parts: plan.published,
    removedParts: removed.length,
    rewrittenParts: rewritten.length,
    millis: Math.round(performance.now() - started),
  };
}

/**
 * The staged parts, checked to be all there before anything changes: a run published long after its
 * validation may find them expired by the lifecycle rule.
 */
async function requireStaged(output: Storage, runId: string, parts: readonly string[]): Promise<StoredObject[]> {
  const present = new Map((await listParts(output, stagedPartsPrefix(runId))).map((object) => [object.key, object]));
  const missing = parts.filter((key) => !present.has(key));
  if (missing.length > 0) {
    throw new RunArtifactError(
      `run ${runId}: ${missing.length} of its audited parts are gone from ${output.locationOf(stagedPartsPrefix(runId))} ` +
        `(expired or removed), e.g. ${missing[0]}; nothing was published: run its images again`,
    );
  }
  return parts.map((key) => present.get(key)!);
}

/** Every image the run re-processed: its rows (the `path` column of its parts) and its failure records. */
async function runPaths(output: Storage, runId: string, staged: readonly StoredObject[], concurrency: number): Promise<Set<string>> {
  const paths = new Set<string>();
  await pMap(
    staged,
    async (object) =>
      (await readPartPaths(await openPart(output, object))).forEach((path) => {
        paths.add(path);
      }),
    {
      concurrency,
    },
  );
  for (const failure of await readFailureRecords(output, runId)) paths.add(failure.path);
  return paths;
}

/** The part without the re-processed rows: same order, same metadata plus a note of the rewrite. */
async function rewrite(part: PartFile, reprocessed: ReadonlySet<string>, runId: string, options: PublishOptions): Promise<Uint8Array> {
  const metadata = {
    ...partKeyValues(part),
    [partMetadataKeys.rewrittenBy]: runId,
    [partMetadataKeys.rewrittenAt]: (options.now ?? new Date()).toISOString(),
  };
  return encodeParquet(keptRows(part, reprocessed), { rowGroupRows: options.rowGroupRows, metadata });
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
