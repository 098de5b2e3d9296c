/**
 * What publishing a run does to `features/`, in one place: the validator audits the dataset it leads to before
 * anything changes, and the publisher carries it out, working it out again then (another run may have published
 * in between).
 *
 * The run's staged parts are copied into features/ under their own names. Then:
 * - full run: features/ becomes exactly the run's parts; every other part goes, unread;
 * - incremental run: older parts stay, without the images the run re-processed (those it has a row or a
 *   failure record for): an older part holding none of them is kept as it is, one holding nothing else is
 *   removed, any other is rewritten without them. Only the `path` column is read to decide.
 * In both, a part of features/ named after the run that the run does not publish (left by an earlier attempt)
 * goes.
 */
import { pMapIterable } from 'p-map';
import type { RunMode } from '../../../statemachine/contracts.ts';
import { partRunId, publishedPartKey } from '../run-layout.ts';
import type { Storage, StoredObject } from '../storage/storage.ts';
import { listParts, openPart, type PartFile, readPartPaths } from './feature-parts.ts';

export interface PublishScope {
  runId: string;
  mode: RunMode;
  /** The run's staged parts, keys relative to the output location. */
  staged: readonly string[];
}

/** A part of features/ that an incremental run keeps, and what publishing does to it. */
export interface OlderPart {
  part: PartFile;
  paths: string[];
  fate: 'kept' | 'rewritten' | 'removed';
}

export interface PublishPlan {
  /** The run's parts once published, keys in features/, in the order of `staged`. */
  published: string[];
  /** Parts of features/ that go unread: every other part in a full run, the run's own leftovers in either. */
  replaced: string[];
  /** The other parts of features/ (an incremental run's older parts), each read for its paths as it is reached. */
  older: AsyncIterable<OlderPart>;
}

/**
 * Lists features/ and sorts its parts; the older parts are read lazily, `concurrency` at a time, so that the
 * publisher reads them only once the run's new parts are in place.
 */
export async function planPublish(
  output: Storage,
  scope: PublishScope,
  reprocessed: ReadonlySet<string>,
  concurrency: number,
): Promise<PublishPlan> {
  const published = scope.staged.map(publishedPartKey);
  const publishing = new Set(published);
  const replaced: string[] = [];
  const older: StoredObject[] = [];
  for (const object of await listParts(output)) {
    if (publishing.has(object.key)) continue;
    if (scope.mode === 'full' || partRunId(object.key) === scope.runId) replaced.push(object.key);
    else older.push(object);
  }
  return { published, replaced, older: readOlderParts(output, older, reprocessed, concurrency) };
}

async function* readOlderParts(
  output: Storage,
  older: readonly StoredObject[],
  reprocessed: ReadonlySet<string>,
  concurrency: number,
): AsyncGenerator<OlderPart> {
  yield* pMapIterable(
    older,
    async (object) => {
      const part = await openPart(output, object);
      const paths = await readPartPaths(part);
      const hits = paths.filter((path) => reprocessed.has(path)).length;
      const fate: OlderPart['fate'] = hits === 0 ? 'kept' : hits === paths.length ? 'removed' : 'rewritten';
      return { part, paths, fate };
    },
    { concurrency },
  );
}
