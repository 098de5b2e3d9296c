/**
 * What the run was asked to process, found again without the map: the input prefix listed anew (a full or scoped
 * run; split in ranges of keys among the ReduceParts children, listedInputRange) or the manifest of new keys read
 * (an incremental run). Locations as the extract function records them, streamed:
 * the validator counts and hashes them (path-digest.ts) rather than holding them. (A manifest is one JSON document,
 * parsed whole: the upload trigger writes one per batch of new uploads, far smaller than a full listing.)
 */
import { z } from 'zod';
import { RunArtifactError } from '../errors.ts';
import { parseJsonDocument } from '../json-document.ts';
import { openStorage } from '../storage/open-storage.ts';
import { compareKeys, type StorageLocation } from '../storage/storage.ts';

export interface InputSource {
  input: StorageLocation;
  /** The JSON manifest ([{ Key, Size, Etag }], keys relative to the input bucket) of an incremental run. */
  manifest: { bucket: string; key: string } | null;
}

const manifestSchema = z.array(z.looseObject({ Key: z.string().min(1) }));

export async function* listedInputs(source: InputSource): AsyncGenerator<string> {
  if (source.manifest === null) {
    yield* listedInputRange(source.input, { after: null, through: null });
    return;
  }
  // Keys relative to the bucket, as the map's item reader gives them to the extract function.
  const bucket = openStorage({ bucket: source.input.bucket });
  const { bucket: manifestBucket, key } = source.manifest;
  const items = parseJsonDocument(
    manifestSchema,
    await openStorage({ bucket: manifestBucket }).read(key),
    `manifest ${key} in ${manifestBucket}`,
    {
      expected: 'a list of { Key }',
      error: RunArtifactError,
    },
  );
  for (const item of items) yield bucket.locationOf(item.Key);
}

/** Keys relative to the input bucket: those after `after` up to and including `through` (null: no bound). */
export interface KeyRange {
  after: string | null;
  through: string | null;
}

/**
 * The input prefix's objects in a range of keys, listed anew (S3's StartAfter, stopping past `through`): one
 * share of a listing that ranges tiling the key space split among the ReduceParts children.
 */
export async function* listedInputRange(input: StorageLocation, range: KeyRange): AsyncGenerator<string> {
  const bucket = openStorage({ bucket: input.bucket });
  const from = range.after === null ? {} : { startAfter: range.after };
  for await (const object of bucket.list(input.prefix, from)) {
    if (range.through !== null && compareKeys(object.key, range.through) > 0) return;
    yield bucket.locationOf(object.key);
  }
}
