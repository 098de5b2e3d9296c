/**
 * The one rule for an input and an output location: neither may contain the other. Outputs written under the
 * input would be listed as images by the next run (and uploads there would start runs); an input inside the
 * output would be touched by what the pipeline writes. `featurize run`, `watch` and `start`, the CheckRun step and
 * the CDK app's settings all ask it.
 *
 * Folders are compared by their real paths (symbolic links resolved, dangling ones too), so that
 * `--out` through a link into the input is caught as surely as `--out input/out`.
 */
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { normalizePrefix, type StorageLocation } from './storage.ts';

export function separationProblem(input: StorageLocation, output: StorageLocation): string | undefined {
  const [a, b] = [canonical(input), canonical(output)];
  if (!(a.startsWith(b) || b.startsWith(a))) return undefined;
  return `the output ${b} and the input ${a} overlap (one contains the other): the pipeline would read its own outputs as images; choose an output outside the input`;
}

/** `s3://bucket/prefix/`, or a folder's real path with a trailing separator. */
function canonical(location: StorageLocation): string {
  if (!isAbsolute(location.bucket)) return `s3://${location.bucket}/${normalizePrefix(location.prefix)}`;
  const path = realPath(resolve(location.bucket, normalizePrefix(location.prefix)));
  return path.endsWith(sep) ? path : `${path}${sep}`;
}

/**
 * The real path of `path`; where it does not exist, of its nearest existing ancestor with the rest appended, a
 * dangling link followed to where it points (the folder a write through it would create).
 */
function realPath(path: string, linksLeft = 40): string {
  try {
    return realpathSync.native(path);
  } catch {
    const target = linkTarget(path);
    if (target !== undefined && linksLeft > 0) return realPath(resolve(dirname(path), target), linksLeft - 1);
    const parent = dirname(path);
    return parent === path ? path : join(realPath(parent, linksLeft), basename(path));
  }
}

function linkTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}
