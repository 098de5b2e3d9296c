/**
 * What publishing a run does to `features/`, worked out under the output's lease (publish-lease.ts) against the
 * dataset as it is then, so that runs publishing one after the other, in whatever order, lose no row and never
 * hold a path twice. The rule, per path:
 *
 * - a row of a run started later than this one stays: it is newer than anything this run read;
 * - otherwise, a row within this run's scope (run-scope.ts) goes: this run covered that path, with a row of its
 *   own, a failure record, or by not finding it any more;
 * - every other row stays;
 * - this run's rows go in, but for a path a later-started run already published.
 *
 * Parts are judged by the bounds of their paths first and read (their `path` column) only where the bounds
 * cannot tell. A part this pipeline did not write is never touched: publishing refuses an output whose features/
 * holds one (PublishRefusedError naming it), as it refuses to mix vectors of two models.
 */
import { pMapIterable } from 'p-map';
import type { RunScope } from '../../../statemachine/contracts.ts';
import { PublishRefusedError, RunArtifactError } from '../errors.ts';
import { featuresPrefix, isPartialWrite, publishedPartKey } from '../run-layout.ts';
import { compareKeys, type Storage } from '../storage/storage.ts';
import { type DescribedPart, describePart, readPartPaths } from './feature-parts.ts';
import { anyInRange, inPrefix, rangeAgainstPrefix } from './run-scope.ts';

/** The run being published: its identity, what it covers, and its staged parts. */
export interface PublishingRun {
  runId: string;
  /** When it started (listed its inputs), ISO: of two runs' rows for one path, the later-started run's wins. */
  startedAt: string;
  scope: RunScope;
  modelId: string;
  /** Its staged parts, described (runs/<runId>/parts/). */
  staged: readonly DescribedPart[];
  /** Incremental runs: every path the run covered (rows and failure records), sorted by compareKeys. */
  covered: readonly string[];
}

/** A part written anew from another, keeping the rows `keep` accepts. */
export interface PartRewrite {
  source: DescribedPart;
  keep: (path: string) => boolean;
  /** Where it is written before publishing (runs/<runId>/rewrites/), and the key it is copied to. */
  to: string;
}

export interface PublishPlan {
  /** Older parts of features/ without the rows this run replaces: written to their staging key, copied over. */
  rewrites: { older: PartRewrite[]; own: PartRewrite[] };
  /** Objects copied into features/, in order: the run's parts (or their rewrites), then rewritten older parts. */
  copies: { from: string; to: string }[];
  /** Parts removed once every copy is in place: older parts whose every row the run replaces, leftovers. */
  removals: string[];
  /** The run's parts once published, keys in features/. */
  published: string[];
  /** Parts of later-started runs that keep paths this run also had. */
  newerParts: string[];
}

/**
 * Every part of features/, described; PublishRefusedError naming what this pipeline did not write. Half-written
 * copies a killed process left (isPartialWrite) are returned as debris, to be removed.
 */
export async function readDataset(output: Storage, concurrency: number): Promise<{ parts: DescribedPart[]; debris: string[] }> {
  const parts: DescribedPart[] = [];
  const debris: string[] = [];
  const foreign: string[] = [];
  const objects: Parameters<typeof describePart>[1][] = [];
  for await (const object of output.list(featuresPrefix)) {
    if (isPartialWrite(object.key)) debris.push(object.key);
    else objects.push(object);
  }
  for await (const [object, part] of pMapIterable(objects, async (object) => [object, await describePart(output, object)] as const, {
    concurrency,
  })) {
    if (part) parts.push(part);
    else foreign.push(object.key);
  }
  if (foreign.length > 0) {
    const named = foreign.slice(0, 5).map((key) => output.locationOf(key));
    throw new PublishRefusedError(
      `${output.locationOf(featuresPrefix)} holds ${foreign.length} file(s) this pipeline did not write: ${named.join(', ')}` +
        `${foreign.length > named.length ? ', …' : ''}. Publishing never removes what it did not write: move them out of features/, or choose another output`,
    );
  }
  return { parts, debris };
}

/** Whether `part` was made by a run started after `run` (ties broken by run id, so that two runs agree). */
function isNewer(part: Pick<DescribedPart, 'runStartedAt' | 'runId'>, run: Pick<PublishingRun, 'startedAt' | 'runId'>): boolean {
  return part.runStartedAt !== run.startedAt ? part.runStartedAt > run.startedAt : part.runId > run.runId;
}

/** Whether this run covers a path: under its prefix, or among its own paths. */
function covers(run: PublishingRun): (path: string) => boolean {
  if (run.scope.kind === 'incremental') {
    const covered = new Set(run.covered);
    return (path) => covered.has(path);
  }
  const { prefix } = run.scope;
  return (path) => inPrefix(path, prefix);
}

/** Whether the bounds of a part's paths rule out every covered path, all of them in, or neither. */
function boundsAgainstScope(run: PublishingRun, part: Pick<DescribedPart, 'pathMin' | 'pathMax'>): 'inside' | 'outside' | 'straddles' {
  if (run.scope.kind !== 'incremental') return rangeAgainstPrefix(part.pathMin, part.pathMax, run.scope.prefix);
  return anyInRange(run.covered, part.pathMin, part.pathMax) ? 'straddles' : 'outside';
}

export async function planPublish(
  output: Storage,
  run: PublishingRun,
  dataset: { parts: readonly DescribedPart[]; debris: readonly string[] },
  options: { concurrency: number; rewriteKey: (partKey: string) => string },
): Promise<PublishPlan> {
  const published = new Set(run.staged.map((part) => publishedPartKey(part.key)));
  const covered = covers(run);
  const astray = run.staged.find((part) => run.scope.kind !== 'incremental' && boundsAgainstScope(run, part) !== 'inside');
  if (astray && run.scope.kind !== 'incremental') {
    throw new RunArtifactError(`${output.locationOf(astray.key)} holds paths outside the run's scope ${run.scope.prefix}: not published`);
  }
  const removals = [...dataset.debris];
  const older: PartRewrite[] = [];
  const kept: DescribedPart[] = [];
  const newer: DescribedPart[] = [];
  const unread: DescribedPart[] = [];
  for (const part of dataset.parts) {
    if (part.runId === run.runId) {
      // Its own parts, from an earlier attempt: those it publishes are copied again, any other goes.
      if (!published.has(part.key)) removals.push(part.key);
    } else if (isNewer(part, run)) {
      newer.push(part);
    } else {
      const bounds = boundsAgainstScope(run, part);
      if (bounds === 'inside') removals.push(part.key);
      else if (bounds === 'outside') kept.push(part);
      else unread.push(part);
    }
  }
  const read = (parts: readonly DescribedPart[]) =>
    pMapIterable(parts, async (part) => ({ part, paths: await readPartPaths(part.file) }), { concurrency: options.concurrency });
  for await (const { part, paths } of read(unread)) {
    const hits = paths.filter(covered).length;
    if (hits === 0) kept.push(part);
    else if (hits === paths.length) removals.push(part.key);
    else {
      older.push({ source: part, keep: (path) => !covered(path), to: options.rewriteKey(part.key) });
      kept.push(part);
    }
  }

  // Paths a later-started run published within this run's scope: its rows stay, this run's for them do not.
  const taken: string[] = [];
  const newerParts: string[] = [];
  for await (const { part, paths } of read(newer.filter((part) => boundsAgainstScope(run, part) !== 'outside'))) {
    const mine = paths.filter(covered);
    if (mine.length > 0) newerParts.push(part.key);
    taken.push(...mine);
  }
  taken.sort(compareKeys);
  const takenSet = new Set(taken);
  const own: PartRewrite[] = [];
  const withoutTaken = run.staged.filter((part) => taken.length > 0 && anyInRange(taken, part.pathMin, part.pathMax));
  const emptied = new Set<string>();
  for await (const { part, paths } of read(withoutTaken)) {
    const hits = paths.filter((path) => takenSet.has(path)).length;
    if (hits === paths.length) emptied.add(part.key);
    else if (hits > 0) own.push({ source: part, keep: (path) => !takenSet.has(path), to: options.rewriteKey(part.key) });
  }

  checkOneModel(output, run, [...kept, ...newer]);
  const ownRewrites = new Map(own.map((rewrite) => [rewrite.source.key, rewrite.to]));
  const publishing = run.staged.filter((part) => !emptied.has(part.key));
  return {
    rewrites: { older, own },
    copies: [
      ...publishing.map((part) => ({ from: ownRewrites.get(part.key) ?? part.key, to: publishedPartKey(part.key) })),
      ...older.map((rewrite) => ({ from: rewrite.to, to: rewrite.source.key })),
    ],
    // A part this run emptied entirely that an earlier attempt had copied goes too.
    removals: [...removals, ...[...emptied].map(publishedPartKey).filter((key) => dataset.parts.some((part) => part.key === key))],
    published: publishing.map((part) => publishedPartKey(part.key)),
    newerParts,
  };
}

/** Vectors of two models are no dataset: every part that stays must come from the run's model. */
function checkOneModel(output: Storage, run: PublishingRun, staying: readonly DescribedPart[]): void {
  const other = staying.find((part) => part.modelId !== run.modelId);
  if (other) {
    throw new PublishRefusedError(
      `${output.locationOf(other.key)} holds vectors of ${other.modelId}, this run's are of ${run.modelId}: a dataset holds one model's ` +
        'vectors. Publish to another output, or rerun every input of the dataset with one model',
    );
  }
}
