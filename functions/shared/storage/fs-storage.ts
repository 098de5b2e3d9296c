import { constants, createReadStream, readFile as readFileWithCallback } from 'node:fs';
import { copyFile, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { ObjectReadError, StorageUnavailableError } from '../errors.ts';
import { compareKeys, type ListOptions, normalizePrefix, type Storage, type StoredObject, type WriteBody } from './storage.ts';

/**
 * A whole file, through fs.readFile's callback form: the same calls (open, fstat, read, close), but fs/promises'
 * readFile drives them through FileHandle: 131–159 µs of CPU per image-sized file here against 84–121, each of six
 * alternating pairs 27–61 µs apart (3,000 Fruits-360 images, 8 at once), some 0.5 % of an image's extraction.
 */
const readWholeFile = promisify(readFileWithCallback);

/** Files a listing stats at once. */
const statsAtOnce = 64;

const perObjectErrors = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/** Storage on the local filesystem, rooted at an absolute directory. */
export class FsStorage implements Storage {
  readonly root: string;

  constructor(rootDir: string) {
    this.root = rootDir;
  }

  /**
   * Every file under `prefix`, walked one folder at a time with names as bytes: a name that is not UTF-8 is kept
   * (escaped, see keyOfName), never dropped, and a folder that cannot be read is an error, never an empty listing.
   * Only a prefix that does not exist lists nothing, as an S3 prefix with no objects does. Files come in key order
   * as the walk reaches them (memory holds one folder's names per level), folders wholly before `startAfter`
   * unread, so a listing of a range stops early and costs its range, as S3's does.
   */
  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<StoredObject> {
    const base = join(this.root, normalizePrefix(prefix));
    const keyBase = normalizePrefix(relative(this.root, base).split(sep).join('/'));
    try {
      for await (const files of inChunks(walk(Buffer.from(base), keyBase, options.startAfter), statsAtOnce)) {
        // Issued together: awaited one by one, each stat wakes libuv's pool on its own (50 µs of CPU a file on a VM).
        // In chunks, not kept 64 in flight by p-map's pMapIterable: that listed 11,795 files with 1.5 times the CPU.
        const infos = await Promise.all(files.map((file) => stat(file.path).catch(() => undefined)));
        for (const [i, file] of files.entries()) {
          const info = infos[i];
          if (info) yield { key: file.key, size: info.size, lastModified: info.mtime };
        }
      }
    } catch (error) {
      if (isErrno(error, 'ENOENT') && String((error as NodeJS.ErrnoException).path) === base) return;
      throw new StorageUnavailableError(`cannot list ${base}: ${(error as Error).message}`, { cause: error });
    }
  }

  async read(key: string): Promise<Uint8Array> {
    try {
      return await readWholeFile(this.locationOf(key));
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

  async *readStream(key: string): AsyncIterable<Uint8Array> {
    try {
      yield* createReadStream(this.locationOf(key));
    } catch (error) {
      throw classify(error, key, `read ${key}`);
    }
  }

  /** Writes to a temporary sibling and renames it, so a reader never sees half an object. */
  async write(key: string, body: WriteBody): Promise<void> {
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

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A file or folder name as a key segment: the name itself when it is UTF-8; otherwise each byte that is not part
 * of a valid UTF-8 sequence becomes U+FFFD followed by its two hex digits (`caf\xe9.jpg` -> `caf\uFFFDE9.jpg`).
 * Such a key names its file uniquely but cannot be read back under it: the extract function records it as
 * BAD_NAME (functions/shared/failures.ts), so the file is accounted for instead of silently missing.
 */
export function keyOfName(name: Buffer): string {
  try {
    return strictUtf8.decode(name);
  } catch {
    let key = '';
    let start = 0;
    while (start < name.length) {
      const length = validSequenceLength(name, start);
      key +=
        length > 0
          ? name.subarray(start, start + length).toString('utf8')
          : `\uFFFD${name[start]!.toString(16).toUpperCase().padStart(2, '0')}`;
      start += Math.max(length, 1);
    }
    return key;
  }
}

/** Bytes of the valid UTF-8 sequence at `start`, or 0 when the byte there does not begin one. */
function validSequenceLength(bytes: Buffer, start: number): number {
  const first = bytes[start]!;
  const length =
    first < 0x80 ? 1 : first >= 0xc2 && first < 0xe0 ? 2 : first >= 0xe0 && first < 0xf0 ? 3 : first >= 0xf0 && first < 0xf5 ? 4 : 0;
  if (length === 0 || start + length > bytes.length) return 0;
  try {
    strictUtf8.decode(bytes.subarray(start, start + length));
    return length;
  } catch {
    return 0;
  }
}

/**
 * Files under `dir`, depth first. Symbolic links are followed, to files and to folders alike (a folder reached
 * twice, a link cycle, is walked once): an image behind a link is an image of the folder.
 */
/**
 * The files under `dir` in key order: each folder's entries sorted by their keys, a folder's as `name/` (every
 * key under it starts so, and no sibling's key does), so that visiting them in that order gives the files in
 * the order of their whole keys. Folders whose keys all sort at or before `startAfter` are skipped unread.
 */
async function* walk(
  dir: Buffer,
  keyPrefix: string,
  startAfter: string | undefined,
  seen = new Set<string>(),
): AsyncGenerator<{ key: string; path: Buffer }> {
  seen.add(await realpath(dir));
  const entries: { key: string; path: Buffer; folder: boolean }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
    const path = Buffer.concat([dir, Buffer.from(sep), entry.name]);
    const key = `${keyPrefix}${keyOfName(entry.name)}`;
    const kind = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
    if (kind?.isDirectory()) entries.push({ key: `${key}/`, path, folder: true });
    else if (kind?.isFile()) entries.push({ key, path, folder: false });
  }
  entries.sort((a, b) => compareKeys(a.key, b.key));
  for (const entry of entries) {
    if (!entry.folder) {
      if (startAfter === undefined || compareKeys(entry.key, startAfter) > 0) yield entry;
      continue;
    }
    const whollyBefore = startAfter !== undefined && compareKeys(entry.key, startAfter) < 0 && !startAfter.startsWith(entry.key);
    if (!whollyBefore && !seen.has(await realpath(entry.path))) yield* walk(entry.path, entry.key, startAfter, seen);
  }
}

async function* inChunks<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
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
