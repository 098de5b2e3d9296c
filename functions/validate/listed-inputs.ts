/**
 * What the run was asked to process, found again without the map: the input prefix listed anew (a full run)
 * or the manifest of new keys read (an incremental run). Locations as the extract function records them, streamed:
 * the validator counts and hashes them (path-digest.ts) rather than holding them. (A manifest is one JSON document,
 * parsed whole: the upload trigger writes one per batch of new uploads, far smaller than a full listing.)
 */
import { z } from 'zod';
import { RunArtifactError } from '../shared/errors.ts';
import { parseJsonDocument } from '../shared/json-document.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import type { StorageLocation } from '../shared/storage/storage.ts';

export interface InputSource {
  input: StorageLocation;
  /** The JSON manifest ([{ Key, Size, Etag }], keys relative to the input bucket) of an incremental run. */
  manifest: { bucket: string; key: string } | null;
}

const manifestSchema = z.array(z.looseObject({ Key: z.string().min(1) }));

export async function* listedInputs(source: InputSource): AsyncGenerator<string> {
  // Keys relative to the bucket, as the map's item reader gives them to the extract function.
  const bucket = openStorage({ bucket: source.input.bucket });
  if (source.manifest === null) {
    for await (const object of bucket.list(source.input.prefix)) yield bucket.locationOf(object.key);
    return;
  }
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
