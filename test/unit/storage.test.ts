import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectReadError, StorageUnavailableError } from '../../functions/shared/errors.ts';
import { unreadableKeyCode } from '../../functions/shared/failures.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { openObjectUri, openStorage, parseStorageUri } from '../../functions/shared/storage/open-storage.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import { parentFolderName, readLines, type Storage } from '../../functions/shared/storage/storage.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('storage-contract', ['contract']);

const implementations: [string, () => Storage][] = [
  ['filesystem', () => new FsStorage(stores.dir)],
  ['S3 (fauxqs)', () => new S3Storage('contract', 'root/prefix')],
];

describe.each(implementations)('%s storage', (_, make) => {
  it('writes, reads back and lists keys (spaces, unicode) in S3 byte order, relative to its root', async () => {
    const storage = make();
    const keys = ['b/2.jpg', 'a/Apple Red 1/ünïcødé & co.jpg', 'a/Z.jpg', 'b/10.jpg'];
    for (const key of keys) await storage.write(key, `bytes of ${key}`);
    await storage.write('elsewhere.txt', 'x');

    const listed = [];
    for await (const object of storage.list('a')) listed.push(object);
    expect(listed.map((o) => o.key)).toEqual(['a/Apple Red 1/ünïcødé & co.jpg', 'a/Z.jpg']);
    expect(listed[1]!.size).toBe(Buffer.byteLength('bytes of a/Z.jpg'));
    // The Distributed Map's listObjectsV2 items carry LastModified.
    expect(Date.now() - listed[1]!.lastModified!.getTime()).toBeLessThan(10 * 60_000);

    const all = [];
    for await (const object of storage.list()) all.push(object.key);
    expect(all).toEqual(['a/Apple Red 1/ünïcødé & co.jpg', 'a/Z.jpg', 'b/10.jpg', 'b/2.jpg', 'elsewhere.txt']);

    expect(Buffer.from(await storage.read('a/Apple Red 1/ünïcødé & co.jpg')).toString()).toBe('bytes of a/Apple Red 1/ünïcødé & co.jpg');
  });

  it('lists in whole-key byte order where a folder and a file share a name start, and from after a key', async () => {
    const storage = make();
    // '-' (0x2d) and '.' sort before '/' (0x2f), '0' after it: `ranges/a-b/x` comes before `ranges/a/x`.
    const keys = ['ranges/a/x.jpg', 'ranges/a-b/x.jpg', 'ranges/a.jpg', 'ranges/a/y/z.jpg', 'ranges/a0/x.jpg', 'ranges/b.jpg'];
    for (const key of keys) await storage.write(key, 'x');
    const listed = async (startAfter?: string) => {
      const found = [];
      for await (const object of storage.list('ranges', startAfter === undefined ? {} : { startAfter })) found.push(object.key);
      return found;
    };
    const ordered = ['ranges/a-b/x.jpg', 'ranges/a.jpg', 'ranges/a/x.jpg', 'ranges/a/y/z.jpg', 'ranges/a0/x.jpg', 'ranges/b.jpg'];
    expect(await listed()).toEqual(ordered);
    for (const [i, key] of ordered.entries()) expect(await listed(key)).toEqual(ordered.slice(i + 1));
    // A key that is not there, inside a folder, starts the listing after where it would be.
    expect(await listed('ranges/a/w')).toEqual(ordered.slice(2));
    expect(await listed('ranges/a/y')).toEqual(ordered.slice(3));
    expect(await listed('ranges/c')).toEqual([]);
  });

  it('replaces an object on a second write', async () => {
    const storage = make();
    await storage.write('same/key.bin', new Uint8Array([1, 2, 3]));
    await storage.write('same/key.bin', new Uint8Array([4]));
    expect([...(await storage.read('same/key.bin'))]).toEqual([4]);
    const listed = [];
    for await (const object of storage.list('same')) listed.push(object);
    expect(listed).toHaveLength(1);
  });

  it('stores objects larger than one multipart part intact', async () => {
    const storage = make();
    const big = new Uint8Array(11 * 1024 * 1024).map((_, i) => i % 251);
    await storage.write('big/object.bin', big);
    expect(Buffer.compare(Buffer.from(await storage.read('big/object.bin')), Buffer.from(big))).toBe(0);
  });

  it('reads a byte range of an object, clipped at its end', async () => {
    const storage = make();
    await storage.write(
      'range/object.bin',
      new Uint8Array(100).map((_, i) => i),
    );
    expect([...(await storage.readRange('range/object.bin', 10, 14))]).toEqual([10, 11, 12, 13]);
    expect([...(await storage.readRange('range/object.bin', 97, 120))]).toEqual([97, 98, 99]);
    expect(await storage.readRange('range/object.bin', 5, 5)).toHaveLength(0);
    await expect(storage.readRange('range/missing.bin', 0, 4)).rejects.toMatchObject({ name: 'ObjectReadError', notFound: true });
  });

  it('streams an object in chunks far smaller than the object, which together are the object', async () => {
    const storage = make();
    const big = new Uint8Array(11 * 1024 * 1024).map((_, i) => i % 241);
    await storage.write('stream/object.bin', big);
    const chunks: Uint8Array[] = [];
    for await (const chunk of storage.readStream('stream/object.bin')) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(10);
    expect(Math.max(...chunks.map((chunk) => chunk.byteLength))).toBeLessThanOrEqual(1024 * 1024);
    expect(Buffer.compare(Buffer.concat(chunks), Buffer.from(big))).toBe(0);
    await expect(Array.fromAsync(storage.readStream('stream/missing.bin'))).rejects.toMatchObject({
      name: 'ObjectReadError',
      notFound: true,
    });
  });

  it('reads an object a line at a time: \\n or \\r\\n, a last line without its end, lines across chunks', async () => {
    const storage = make();
    const long = 'x'.repeat(200_000);
    await storage.write('lines/file.jsonl', `{"a":1}\r\n${long}\n\nlast ünïcødé`);
    expect(await Array.fromAsync(readLines(storage, 'lines/file.jsonl'))).toEqual(['{"a":1}', long, '', 'last ünïcødé']);
    await expect(Array.fromAsync(readLines(storage, 'lines/missing.jsonl'))).rejects.toMatchObject({ name: 'ObjectReadError' });
  });

  it('reports a missing object as an ObjectReadError (notFound), not as the store being down', async () => {
    const error = await make()
      .read('no/such/key.jpg')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectReadError);
    expect(error).toMatchObject({ notFound: true, key: 'no/such/key.jpg' });
  });

  it('lists nothing under a prefix that does not exist', async () => {
    const listed = [];
    for await (const object of make().list('nothing-here')) listed.push(object);
    expect(listed).toEqual([]);
  });

  it('copies an object to another key (spaces, +, unicode), replacing what was there and leaving the source', async () => {
    const storage = make();
    const from = 'staged/Apple Red 1/ünï+code & co.bin';
    const to = 'published/Apple Red 1/ünï+code & co.bin';
    const bytes = new Uint8Array(1000).map((_, i) => (i * 7) % 256);
    await storage.write(from, bytes);
    await storage.write(to, 'an older object at the target');

    await storage.copy(from, to);

    expect(Buffer.compare(Buffer.from(await storage.read(to)), Buffer.from(bytes))).toBe(0);
    expect(Buffer.compare(Buffer.from(await storage.read(from)), Buffer.from(bytes))).toBe(0);
    expect((await Array.fromAsync(storage.list('published'))).map((o) => [o.key, o.size])).toEqual([[to, 1000]]);
  });

  it('copies objects larger than one multipart part intact', async () => {
    const storage = make();
    const big = new Uint8Array(11 * 1024 * 1024).map((_, i) => i % 253);
    await storage.write('copy-big/from.bin', big);
    await storage.copy('copy-big/from.bin', 'copy-big/to.bin');
    expect(Buffer.compare(Buffer.from(await storage.read('copy-big/to.bin')), Buffer.from(big))).toBe(0);
  });

  it('reports a missing copy source as an ObjectReadError (notFound) and creates nothing', async () => {
    const storage = make();
    const error = await storage.copy('copy-missing/from.bin', 'copy-missing/to.bin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectReadError);
    expect(error).toMatchObject({ notFound: true, key: 'copy-missing/from.bin' });
    expect(await Array.fromAsync(storage.list('copy-missing'))).toEqual([]);
  });

  it('removes objects and ignores missing ones', async () => {
    const storage = make();
    await storage.write('gone/1', 'x');
    await storage.remove(['gone/1', 'gone/never-existed']);
    const listed = [];
    for await (const object of storage.list('gone')) listed.push(object);
    expect(listed).toEqual([]);
  });
});

describe('filesystem storage listing', () => {
  it('lists files whose names are not UTF-8, under folders whose names are not either, each under a key of its own', async () => {
    const root = join(stores.dir, 'not-utf8');
    // Latin-1 names, as an old camera card or a Windows share gives them: 'café' and 'Crème' with single bytes.
    const folder = Buffer.concat([Buffer.from(`${root}/Cr`), Buffer.from([0xe8]), Buffer.from('me')]);
    await mkdir(folder, { recursive: true });
    await writeFile(Buffer.concat([folder, Buffer.from('/caf'), Buffer.from([0xe9]), Buffer.from('.jpg')]), 'one');
    await writeFile(Buffer.concat([folder, Buffer.from('/caf'), Buffer.from([0xe8]), Buffer.from('.jpg')]), 'two');
    await mkdir(join(root, 'Kiwi'));
    await writeFile(join(root, 'Kiwi', 'fine.jpg'), 'three');

    const keys = (await Array.fromAsync(new FsStorage(root).list())).map((object) => object.key);

    expect(keys).toEqual(['Cr\uFFFDE8me/caf\uFFFDE8.jpg', 'Cr\uFFFDE8me/caf\uFFFDE9.jpg', 'Kiwi/fine.jpg']);
    expect(keys.filter((key) => unreadableKeyCode(key) === 'BAD_NAME')).toHaveLength(2);
  });

  it('follows symbolic links to files and to folders, a link cycle walked once', async () => {
    const root = join(stores.dir, 'links');
    await mkdir(join(root, 'Kiwi'), { recursive: true });
    await writeFile(join(root, 'Kiwi', 'a.jpg'), 'a');
    const elsewhere = join(stores.dir, 'links-elsewhere');
    await mkdir(join(elsewhere, 'Lemon'), { recursive: true });
    await writeFile(join(elsewhere, 'Lemon', 'b.jpg'), 'b');
    await symlink(join(elsewhere, 'Lemon'), join(root, 'Lemon'));
    await symlink(join(elsewhere, 'Lemon', 'b.jpg'), join(root, 'Kiwi', 'b-link.jpg'));
    await symlink(root, join(root, 'Kiwi', 'loop'));

    const keys = (await Array.fromAsync(new FsStorage(root).list())).map((object) => object.key);

    expect(keys).toEqual(['Kiwi/a.jpg', 'Kiwi/b-link.jpg', 'Lemon/b.jpg']);
  });

  it('lists folders of hundreds of files (stat in chunks) in key order, each with its own size, from any key on', async () => {
    const root = join(stores.dir, 'many');
    const expected: { key: string; size: number }[] = [];
    for (const folder of ['Apple', 'Banana']) {
      await mkdir(join(root, folder), { recursive: true });
      for (let i = 0; i < 150; i++) {
        const key = `${folder}/${String(i).padStart(3, '0')}.jpg`;
        // Sizes differ file to file, so a size paired with the wrong key shows.
        await writeFile(join(root, key), 'x'.repeat(i + (folder === 'Apple' ? 1 : 200)));
        expected.push({ key, size: i + (folder === 'Apple' ? 1 : 200) });
      }
    }
    const listed = async (startAfter?: string) =>
      (await Array.fromAsync(new FsStorage(root).list('', startAfter ? { startAfter } : {}))).map(({ key, size }) => ({ key, size }));

    expect(await listed()).toEqual(expected);
    expect(await listed('Apple/100.jpg')).toEqual(expected.slice(101));
  });

  it('lists nothing for a folder that does not exist, but fails loudly on one it cannot read', async () => {
    expect(await Array.fromAsync(new FsStorage(join(stores.dir, 'nowhere')).list())).toEqual([]);
    const file = join(stores.dir, 'a-file-not-a-folder');
    await writeFile(file, 'x');
    await expect(Array.fromAsync(new FsStorage(file).list())).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});

describe('S3 storage', () => {
  it('returns ETags without quotes and full s3:// locations', async () => {
    const storage = new S3Storage('contract', 'etags');
    await storage.write('x/y.jpg', 'abc');
    const [object] = await Array.fromAsync(storage.list());
    expect(object!.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(storage.locationOf('x/y.jpg')).toBe('s3://contract/etags/x/y.jpg');
  });

  it('sends object tags with the upload itself, so lifecycle rules can expire intermediates', async () => {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ endpoint: stores.s3.endpoint, forcePathStyle: true });
    const tagging: (string | undefined)[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        tagging.push((args.request as { headers: Record<string, string> }).headers['x-amz-tagging']);
        return next(args);
      },
      { step: 'finalizeRequest' },
    );
    const storage = new S3Storage('contract', 'tags', client);
    await storage.write('runs/r/shards/b.arrow', 'x', { tags: { 'featurize:intermediate': 'true' } });
    await storage.write('runs/r/report.json', '{}');
    expect(tagging).toEqual(['featurize%3Aintermediate=true', undefined]);
    expect(Buffer.from(await storage.read('runs/r/shards/b.arrow')).toString()).toBe('x');
  });

  it("copies server-side, one CopyObject without the source's tags, so an intermediate tag does not follow into the dataset", async () => {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ endpoint: stores.s3.endpoint, forcePathStyle: true });
    const requests: { method: string; headers: Record<string, string>; body: unknown }[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { method: string; headers: Record<string, string>; body: unknown };
        requests.push({ method: request.method, headers: { ...request.headers }, body: request.body });
        return next(args);
      },
      { step: 'finalizeRequest' },
    );
    const storage = new S3Storage('contract', 'copy-tags', client);
    await storage.write('runs/r/parts/part-r-00000.parquet', 'staged', { tags: { 'featurize:intermediate': 'true' } });
    requests.length = 0;

    await storage.copy('runs/r/parts/part-r-00000.parquet', 'features/part-r-00000.parquet');

    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: 'PUT',
      headers: {
        'x-amz-copy-source': 'contract/copy-tags/runs/r/parts/part-r-00000.parquet',
        'x-amz-tagging-directive': 'REPLACE',
      },
    });
    expect(requests[0]!.headers['x-amz-tagging']).toBeUndefined();
    expect(Buffer.from(await storage.read('features/part-r-00000.parquet')).toString()).toBe('staged');
  });

  it('turns an unreachable endpoint into StorageUnavailableError (the batch is retried)', async () => {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const unreachable = new S3Client({ endpoint: 'http://127.0.0.1:9', forcePathStyle: true, maxAttempts: 1 });
    const storage = new S3Storage('contract', '', unreachable);
    await expect(storage.read('a.jpg')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(storage.write('a.jpg', 'x')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(storage.copy('a.jpg', 'b.jpg')).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});

describe('locations', () => {
  it('parses s3:// URIs and local paths', () => {
    expect(parseStorageUri('s3://bucket/some/prefix')).toEqual({ bucket: 'bucket', prefix: 'some/prefix/' });
    expect(parseStorageUri('s3://bucket')).toEqual({ bucket: 'bucket', prefix: '' });
    expect(parseStorageUri('out', '/home/me')).toEqual({ bucket: '/home/me/out', prefix: '' });
    expect(() => parseStorageUri('s3:///x')).toThrow(/no bucket/);
    expect(() => parseStorageUri('gs://bucket/x')).toThrow(/unsupported URI scheme/);
  });

  it('opens a directory as filesystem storage and a bucket name as S3 storage', () => {
    expect(openStorage({ bucket: '/data/images', prefix: 'a' })).toBeInstanceOf(FsStorage);
    expect(openStorage({ bucket: 'my-bucket', prefix: 'a' }).root).toBe('s3://my-bucket/a/');
    expect(() => openStorage({ bucket: 'Not A Bucket' })).toThrow(/not an S3 bucket name/);
  });

  it('opens an object URI as the storage of its folder and its name there', () => {
    const s3Object = openObjectUri('s3://bucket/out/pca/r1/model.json');
    expect([s3Object.storage.root, s3Object.key]).toEqual(['s3://bucket/out/pca/r1/', 'model.json']);
    const file = openObjectUri('models/model.json', '/home/me');
    expect(file.storage.locationOf(file.key)).toBe('/home/me/models/model.json');
    expect(() => openObjectUri('s3://bucket')).toThrow(/not the URI of an object/);
    expect(() => openObjectUri('s3://bucket/out/')).toThrow(/not the URI of an object/);
  });

  it('takes the label from the parent folder, as the original job did', () => {
    expect(parentFolderName('s3://fruits/images/Apple Red 1/3_100.jpg')).toBe('Apple Red 1');
    expect(parentFolderName('/data/fruits/Kiwi/1.jpg')).toBe('Kiwi');
    expect(parentFolderName('s3://fruits/top.jpg')).toBe('fruits');
  });
});
