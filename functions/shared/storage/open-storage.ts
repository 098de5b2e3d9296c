import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { FsStorage } from './fs-storage.ts';
import { S3Storage } from './s3-storage.ts';
import { normalizePrefix, type Storage, type StorageLocation } from './storage.ts';

/** A storage for a location as the state machine passes it: an S3 bucket, or locally an absolute directory. */
export function openStorage(location: StorageLocation): Storage {
  const prefix = normalizePrefix(location.prefix);
  if (isAbsolute(location.bucket)) return new FsStorage(resolve(location.bucket, prefix));
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(location.bucket)) {
    throw new ConfigError(`not an S3 bucket name nor an absolute directory: ${JSON.stringify(location.bucket)}`);
  }
  return new S3Storage(location.bucket, prefix);
}

/**
 * A user's URI as a location: `s3://bucket/prefix` or a filesystem path (relative to `cwd`).
 * The directory of a filesystem path plays the bucket; its prefix is empty.
 */
export function parseStorageUri(uri: string, cwd = process.cwd()): Required<StorageLocation> {
  if (uri.startsWith('s3://')) {
    const [bucket = '', ...rest] = uri.slice('s3://'.length).split('/');
    if (bucket === '') throw new ConfigError(`no bucket in ${JSON.stringify(uri)}: expected s3://bucket/prefix`);
    return { bucket, prefix: normalizePrefix(rest.join('/')) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new ConfigError(`unsupported URI scheme in ${JSON.stringify(uri)}: use s3://bucket/prefix or a local path`);
  }
  return { bucket: resolve(cwd, uri), prefix: '' };
}

/** An object's URI (`s3://bucket/key` or a file path): a storage rooted at its folder, and its name there. */
export function openObjectUri(uri: string, cwd = process.cwd()): { storage: Storage; key: string } {
  const slash = uri.lastIndexOf('/');
  const key = uri.slice(slash + 1);
  const folder = slash < 0 ? '.' : uri.slice(0, slash);
  if (key === '' || (uri.startsWith('s3://') && !folder.slice('s3://'.length).length)) {
    throw new ConfigError(`not the URI of an object: ${JSON.stringify(uri)}: expected s3://bucket/key or a file path`);
  }
  return { storage: openStorage(parseStorageUri(folder, cwd)), key };
}
