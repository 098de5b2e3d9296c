/** Why an input produced no vector. Stable codes: reports, dashboards and retries branch on them. */
export const failureCodes = {
  /** Zero bytes (also S3 "folder" markers). */
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
