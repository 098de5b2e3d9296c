/**
 * What the run was asked to process, found again without the map: the input prefix listed anew (a full run)
 * or the manifest of new keys read (an incremental run). Locations as the extract function records them.
 */
import { z } from 'zod';
import { RunArtifactError } from '../shared/errors.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import type { StorageLocation } from '../shared/storage/storage.ts';

export interface InputSource {
  input: StorageLocation;
  /** The JSON manifest ([{ Key, Size, Etag }], keys relative to the input bucket) of an incremental run. */
  manifest: { bucket: string; key: string } | null;
}

const manifestSchema = z.array(z.looseObject({ Key: z.string().min(1) }));

export async function listedInputs(source: InputSource): Promise<string[]> {
  // Keys relative to the bucket, as the map's item reader gives them to the extract function.
  const bucket = openStorage({ bucket: source.input.bucket });
  if (source.manifest === null) {
    const locations: string[] = [];
    for await (const object of bucket.list(source.input.prefix)) locations.push(bucket.locationOf(object.key));
    return locations;
  }
  const { bucket: manifestBucket, key } = source.manifest;
  const text = Buffer.from(await openStorage({ bucket: manifestBucket }).read(key)).toString('utf8');
  let parsed;
  try {
    parsed = manifestSchema.safeParse(JSON.parse(text));
  } catch (error) {
    throw new RunArtifactError(`manifest ${key} in ${manifestBucket} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!parsed.success) {
    throw new RunArtifactError(`manifest ${key} in ${manifestBucket} is not a list of { Key }: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data.map((item) => bucket.locationOf(item.Key));
}
