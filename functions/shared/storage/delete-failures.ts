/**
 * What the per-key errors of an S3 DeleteObjects answer mean. In quiet mode S3 answers 200 and lists only the keys
 * it could not delete, each with its own error code
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html); the SDK retries whole requests only,
 * never these (aws/aws-sdk-java#1307; InternalError per key is seen in practice, go-to-k/cls3#171).
 */
import type { _Error as S3KeyError } from '@aws-sdk/client-s3';

export interface DeleteFailure {
  /** Relative to the storage's root. */
  key: string;
  code: string;
  message: string;
}

export interface DeleteFailures {
  /** Worth sending again: a transient code (InternalError, SlowDown...), or one this code does not know. */
  retry: DeleteFailure[];
  /** Refusals that retrying cannot change (AccessDenied...): the caller must be told at once. */
  refused: DeleteFailure[];
}

/** Codes saying the key is already gone: deleting it is done (some S3-compatible stores report these). */
const alreadyGone = new Set(['NoSuchKey', 'NotFound']);

/**
 * Per-key errors, sorted into what to retry and what is refused. `refusals`: the codes a read of the same object
 * would also be refused with (s3-storage.ts's per-object errors), so that one list decides both. `prefix` is
 * taken off S3's keys.
 */
export function sortDeleteFailures(errors: readonly S3KeyError[], prefix: string, refusals: ReadonlySet<string>): DeleteFailures {
  const sorted: DeleteFailures = { retry: [], refused: [] };
  for (const error of errors) {
    const failure = { key: (error.Key ?? '').slice(prefix.length), code: error.Code ?? 'UnknownError', message: error.Message ?? '' };
    if (alreadyGone.has(failure.code)) continue;
    (refusals.has(failure.code) ? sorted.refused : sorted.retry).push(failure);
  }
  return sorted;
}

/** A few of the failures, with where they are and why, for an error message. */
export function describeDeleteFailures(failures: readonly DeleteFailure[], locationOf: (key: string) => string, shown = 5): string {
  const listed = failures.slice(0, shown).map((f) => `${locationOf(f.key)} (${f.code}${f.message ? `: ${f.message}` : ''})`);
  return listed.join('; ') + (failures.length > shown ? `; and ${failures.length - shown} more` : '');
}
