/**
 * Storage behind one small interface, so the same code reads images and writes shards on the local
 * filesystem and on S3 (AWS, MinIO, fauxqs...). A storage is rooted at a location; keys are relative to it.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ObjectReadError } from '../errors.ts';

export interface StoredObject {
  /** Key relative to the storage root, `/`-separated. */
  key: string;
  size: number;
  /** S3 ETag without quotes; absent on the filesystem. */
  etag?: string;
  lastModified?: Date;
  /** S3 storage class (STANDARD, GLACIER...); absent on the filesystem. */
  storageClass?: string;
}

export interface Storage {
  /** Where this storage is rooted: `s3://bucket/prefix/` or an absolute directory. */
  readonly root: string;
  /** Every object under `prefix` (relative to the root), in key order. */
  list(prefix?: string, options?: ListOptions): AsyncIterable<StoredObject>;
  /** The object's bytes. Throws ObjectReadError (missing, forbidden) or StorageUnavailableError. */
  read(key: string): Promise<Uint8Array>;
  /**
   * Bytes [start, end) of the object, as read(): lets a Parquet reader fetch a footer or one column of a
   * large part without downloading the whole object.
   */
  readRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /**
   * The object's bytes as a stream of chunks, for objects too large to hold (a map's result files, listings):
   * memory holds a chunk, not the object. Errors as read(), also when they come mid-stream.
   */
  readStream(key: string): AsyncIterable<Uint8Array>;
  /**
   * Creates or replaces the object. A body given as chunks is written as they come (memory holds a chunk, not
   * the object): a file concatenated from others. Throws StorageUnavailableError.
   */
  write(key: string, body: WriteBody, options?: WriteOptions): Promise<void>;
  /**
   * Copies `fromKey` to `toKey` (created or replaced) without the bytes passing through this process where the
   * store can avoid it: one server-side CopyObject on S3, a clone or a copy on the filesystem. The copy carries
   * no tags. Throws ObjectReadError when the source cannot be read (missing, forbidden) or S3 refuses the copy,
   * StorageUnavailableError otherwise.
   */
  copy(fromKey: string, toKey: string): Promise<void>;
  /** Removes the objects; missing ones are ignored. */
  remove(keys: string[]): Promise<void>;
  /** The object's full location: `s3://bucket/key` or an absolute path. */
  locationOf(key: string): string;
}

export interface ListOptions {
  /** Only keys after this one (relative to the root, UTF-8 byte order), as S3's StartAfter. */
  startAfter?: string;
}

export type WriteBody = Uint8Array | string | AsyncIterable<Uint8Array>;

export interface WriteOptions {
  /** S3 object tags (lifecycle rules filter on them); the filesystem has no tags and ignores them. */
  tags?: Record<string, string>;
}

/**
 * Where a storage is rooted, as the state machine passes it: an S3 bucket name and a key prefix.
 * Locally, `bucket` may also be an absolute directory (the local runner's stand-in for a bucket).
 */
export interface StorageLocation {
  bucket: string;
  prefix?: string;
}

/** The prefix in its canonical form: no leading `/`, one trailing `/` unless empty. */
export function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** S3 orders keys by their UTF-8 bytes; the filesystem listing, and every comparison of paths here, follow it. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The last-but-one path segment: the image's folder, which is its label (as in the original job). */
export function parentFolderName(location: string): string {
  const segments = location.split('/').filter((s) => s !== '');
  return segments.length >= 2 ? (segments[segments.length - 2] ?? '') : '';
}

/**
 * The object's lines (UTF-8, without their `\n` or `\r\n`), one at a time, through node:readline over
 * readStream(): a JSON Lines file of any size is read in the memory of its longest line.
 */
export async function* readLines(storage: Storage, key: string): AsyncGenerator<string> {
  const lines = createInterface({ input: Readable.from(storage.readStream(key)), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    yield* lines;
  } finally {
    lines.close();
  }
}

/** The object's bytes, or undefined when it does not exist (or cannot be read); the store being down still throws. */
export async function readIfPresent(storage: Storage, key: string): Promise<Uint8Array | undefined> {
  try {
    return await storage.read(key);
  } catch (error) {
    if (error instanceof ObjectReadError) return undefined;
    throw error;
  }
}
