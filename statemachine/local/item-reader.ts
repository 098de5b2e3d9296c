/**
 * The ItemReader: the Distributed Map's items, read from storage as Step Functions reads them from S3.
 *  - s3:listObjectsV2 `{ Bucket, Prefix }`: one item per object, shaped as AWS shapes them,
 *    `{ Etag: "\"…\"", Key, LastModified: <epoch seconds>, Size, StorageClass }`. A filesystem "bucket" has
 *    no ETag nor storage class, and its items leave them out rather than invent them.
 *  - s3:getObject `{ Bucket, Key }` with ReaderConfig.InputType JSON: the items of a JSON array.
 * Any failure to list or read is States.ItemReaderFailed, which the definition's Catch can handle.
 */

import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { StoredObject } from '../../functions/shared/storage/storage.ts';
import { type ItemReaderConfig, listObjectsResource } from './distributed-map-state.ts';
import { ItemReaderFailedError } from './errors.ts';
import type { Json, JsonObject } from './json.ts';

/** `parameters`: the reader's Parameters, evaluated against the Map state's input. */
export async function readItems(reader: ItemReaderConfig, parameters: JsonObject): Promise<Json[]> {
  const bucket = String(parameters.Bucket);
  try {
    const storage = openStorage({ bucket });
    if (reader.Resource === listObjectsResource) {
      const items: Json[] = [];
      for await (const object of storage.list(typeof parameters.Prefix === 'string' ? parameters.Prefix : '')) {
        items.push(listedItem(object));
      }
      return items;
    }
    const key = String(parameters.Key);
    const items = JSON.parse(Buffer.from(await storage.read(key)).toString('utf8')) as Json;
    if (!Array.isArray(items)) throw new ItemReaderFailedError(`${storage.locationOf(key)} is not a JSON array`);
    return items;
  } catch (error) {
    if (error instanceof ItemReaderFailedError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ItemReaderFailedError(`the ItemReader could not read from ${bucket}: ${reason}`, { cause: error });
  }
}

function listedItem(object: StoredObject): JsonObject {
  return {
    ...(object.etag !== undefined ? { Etag: `"${object.etag}"` } : {}),
    Key: object.key,
    ...(object.lastModified ? { LastModified: Math.floor(object.lastModified.getTime() / 1000) } : {}),
    Size: object.size,
    ...(object.storageClass !== undefined ? { StorageClass: object.storageClass } : {}),
  };
}
