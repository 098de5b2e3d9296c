/**
 * What a run covers, as rows of the dataset (statemachine/contracts.ts, RunScope): every path under a location
 * prefix (a full or scoped run), or exactly the run's own paths (an incremental run). Publishing replaces the
 * dataset's rows within the scope and keeps every other row.
 *
 * A prefix covers a contiguous range of paths: the strings starting with `p/` are exactly those in [`p/`, `p0`)
 * (`0` follows `/`), so the bounds of a part's paths tell whether all, none or some of its rows are in scope
 * without reading them. Paths compare as S3 orders keys, by their UTF-8 bytes (compareKeys).
 */
import { openStorage } from '../storage/open-storage.ts';
import { compareKeys, type StorageLocation } from '../storage/storage.ts';

/** The location prefix of every path of an input location: `s3://bucket/prefix/` or `/abs/folder/`. */
export function locationPrefix(location: StorageLocation): string {
  const root = openStorage(location).root;
  return root.endsWith('/') ? root : `${root}/`;
}

export function inPrefix(path: string, prefix: string): boolean {
  return path.startsWith(prefix);
}

/** The first string after every string starting with `prefix`, which ends in `/`: the same with `0` instead. */
function prefixEnd(prefix: string): string {
  return `${prefix.slice(0, -1)}0`;
}

/** Where paths from `min` to `max` lie against the prefix: all inside it, all outside, or some of each. */
export function rangeAgainstPrefix(min: string, max: string, prefix: string): 'inside' | 'outside' | 'straddles' {
  const end = prefixEnd(prefix);
  if (compareKeys(max, prefix) < 0 || compareKeys(min, end) >= 0) return 'outside';
  if (compareKeys(min, prefix) >= 0 && compareKeys(max, end) < 0) return 'inside';
  return 'straddles';
}

/** Whether any of `sorted` (ascending by compareKeys) lies in [min, max]. */
export function anyInRange(sorted: readonly string[], min: string, max: string): boolean {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareKeys(sorted[middle]!, min) < 0) low = middle + 1;
    else high = middle;
  }
  return low < sorted.length && compareKeys(sorted[low]!, max) <= 0;
}

/** What a run does to the dataset, in words: its kind and the rows it replaces (the report, the CLI's summary). */
export function describeScope(scope: { kind: string; prefix?: string | undefined }): string {
  return scope.kind === 'incremental'
    ? 'incremental run: adds the images of its manifest, replacing their older rows'
    : `${scope.kind} run: replaces every row under ${scope.prefix} and keeps every other row`;
}
