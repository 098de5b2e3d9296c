import { constants, type Dirent } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { ObjectReadError, StorageUnavailableError } from '../errors.ts';
import { normalizePrefix, type Storage, type StoredObject } from './storage.ts';

const perObjectErrors = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/** Storage on the local filesystem, rooted at an absolute directory. */
export class FsStorage implements Storage {
  readonly root: string;

  constructor(rootDir: string) {
    this.root = rootDir;
  }

  async *list(prefix = ''): AsyncIterable<StoredObject> {
    const base = join(this.root, normalizePrefix(prefix));
    let entries: Dirent[];
    try {
      entries = await readdir(base, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw new StorageUnavailableError(`cannot list ${base}: ${(error as Error).message}`, { cause: error });
    }
    const keys = entries
      .filter((e) => e.isFile())
      .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'))
      .sort(compareKeys);
    for (const key of keys) {
      const info = await stat(join(this.root, key)).catch(() => undefined);
      if (info) yield { key, size: info.size, lastModified: info.mtime };
    }
  }

  async read(key: string): Promise<Uint8Array> {
    try {
      return await readFile(this.locationOf(key));
    } catch (error) {
      throw classify(error, key, `read ${key}`);
    }
  }

  async readRange(key: string, start: number, end: number): Promise<Uint8Array> {
    try {
      const handle = await open(this.locationOf(key), 'r');
      try {
        const bytes = new Uint8Array(Math.max(0, end - start));
        const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, start);
        return bytes.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw classify(error, key, `read ${key}`);
    }
  }

  /** Writes to a temporary sibling and renames it, so a reader never sees half an object. */
  async write(key: string, body: Uint8Array | string): Promise<void> {
    const target = this.locationOf(key);
    const temporary = temporarySibling(target);
    try {
      await mkdir(dirname(target), { recursive: true });
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(body);
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new StorageUnavailableError(`cannot write ${target}: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * A copy-on-write clone where the filesystem has them (btrfs, XFS, APFS), a plain copy elsewhere; made under a
   * temporary name and renamed into place, like write(), so a reader never sees half an object.
   */
  async copy(fromKey: string, toKey: string): Promise<void> {
    const target = this.locationOf(toKey);
    const temporary = temporarySibling(target);
    try {
      await mkdir(dirname(target), { recursive: true });
      await copyFile(this.locationOf(fromKey), temporary, constants.COPYFILE_FICLONE);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw classify(error, fromKey, `copy ${fromKey} to ${toKey}`);
    }
  }

  async remove(keys: string[]): Promise<void> {
    await Promise.all(keys.map((key) => rm(this.locationOf(key), { force: true })));
  }

  locationOf(key: string): string {
    return join(this.root, key);
  }
}

/** S3 orders keys by their UTF-8 bytes; the filesystem listing follows the same order. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function temporarySibling(target: string): string {
  return `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.partial`;
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException)?.code === code;
}

/** `action` names what failed, objects included: `read a/b.jpg`, `copy a to b`. */
function classify(error: unknown, key: string, action: string): Error {
  const code = (error as NodeJS.ErrnoException)?.code ?? '';
  if (perObjectErrors.has(code)) {
    return new ObjectReadError(key, `cannot ${action}: ${code}`, { notFound: code === 'ENOENT', cause: error });
  }
  return new StorageUnavailableError(`cannot ${action}: ${(error as Error).message}`, { cause: error });
}
