/**
 * Why a listed input produced no vector. Stable codes: reports, dashboards and retries branch on them.
 *
 * Each code has a kind, which decides what it does to a run:
 * - `skipped`: not an image at all (a hidden file, an S3 folder marker); counted apart, never a failure;
 * - `bad-input`: this one file cannot give a vector (empty, corrupt, unsupported, too large, an unusable name);
 *   recorded and reported, and the run's good images are published all the same;
 * - `systemic`: the pipeline could not do its work (a read failed, a batch failed after its retries); the run's
 *   tolerated failure percentage applies to these only.
 */
export const failureCodes = {
  /** A name starting with `.`, or inside such a folder: system files, partial downloads. */
  HIDDEN: 'a hidden file or folder (name starting with "."), skipped',
  /** A zero-byte S3 key ending in `/`, which the S3 console creates for a folder. */
  FOLDER_MARKER: 'an S3 folder marker, skipped',
  /** A file name that is not valid UTF-8: it cannot be a path in the dataset. */
  BAD_NAME: 'the file name is not valid UTF-8: rename it',
  /** Zero bytes. */
  EMPTY: 'the object has no bytes',
  /** Not a raster format this build decodes: text, SVG, BMP, JPEG 2000, HEIC (HEVC)... */
  UNSUPPORTED_FORMAT: 'not a raster image format that can be decoded',
  /** A recognised format whose data is damaged or truncated. */
  CORRUPT: 'the image data is damaged or truncated',
  /** More pixels or bytes than the configured limits: refused before decoding. */
  TOO_LARGE: 'the image exceeds the pixel or size limit',
  /** The object could not be read (deleted since the listing, access denied). */
  READ_FAILED: 'the object could not be read',
  /** Its whole batch failed after every retry (recorded by the reducer from the map's failed results). */
  BATCH_FAILED: 'the batch holding this item failed',
} as const;

export type FailureCode = keyof typeof failureCodes;

export type FailureKind = 'skipped' | 'bad-input' | 'systemic';

export const failureKinds: Readonly<Record<FailureCode, FailureKind>> = {
  HIDDEN: 'skipped',
  FOLDER_MARKER: 'skipped',
  BAD_NAME: 'bad-input',
  EMPTY: 'bad-input',
  UNSUPPORTED_FORMAT: 'bad-input',
  CORRUPT: 'bad-input',
  TOO_LARGE: 'bad-input',
  READ_FAILED: 'systemic',
  BATCH_FAILED: 'systemic',
};

export interface Failure {
  code: FailureCode;
  message: string;
}

/** A listed input that produced no vector: where it is, a stable code, and what went wrong. */
export interface FailureRecord extends Failure {
  path: string;
}

/** How many failures of each code: what a step's result reports (extract per batch, reduce per run). */
export function countFailureCodes(failures: Iterable<Failure>): Partial<Record<FailureCode, number>> {
  const counts: Partial<Record<FailureCode, number>> = {};
  for (const { code } of failures) counts[code] = (counts[code] ?? 0) + 1;
  return counts;
}

/**
 * Why a listed key is not an image to extract, or undefined for a key to extract. One rule for every way a run
 * finds its inputs: `featurize run` and `watch` over a folder, the map's S3 listing, and the upload trigger.
 */
export function skipReason(key: string): Extract<FailureCode, 'HIDDEN' | 'FOLDER_MARKER'> | undefined {
  if (key.endsWith('/')) return 'FOLDER_MARKER';
  if (key.split('/').some((segment) => segment.startsWith('.'))) return 'HIDDEN';
  return undefined;
}

/**
 * Why a listed key gives no vector before anything is read: skipped (skipReason), or a name that is not UTF-8
 * (the filesystem listing marks such names with U+FFFD, see fs-storage.ts; a name holding U+FFFD itself is as
 * unusable a path). Undefined for a key to read.
 */
export function unreadableKeyCode(key: string): Extract<FailureCode, 'HIDDEN' | 'FOLDER_MARKER' | 'BAD_NAME'> | undefined {
  return skipReason(key) ?? (key.includes('\uFFFD') ? 'BAD_NAME' : undefined);
}

/** The failures that count against a run's tolerated failure percentage: those of the pipeline, not of a file. */
export function isSystemic(failure: Pick<Failure, 'code'>): boolean {
  return failureKinds[failure.code] === 'systemic';
}
