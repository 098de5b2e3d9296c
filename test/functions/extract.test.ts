import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/extract/handler.ts';
import { failureCodes } from '../../functions/shared/failures.ts';
import type { ShardRow } from '../../functions/shared/shards/shard-file.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import type { BatchEvent, ExtractBatchResult } from '../../statemachine/contracts.ts';
import fixture from '../events/extract-batch.json' with { type: 'json' };
import { tagsOfPuts } from '../support/s3-server.ts';
import { decodeShard } from '../support/shard-rows.ts';
import { edgeCasesDir, sampleDir, sampleKeys } from '../support/shared-data.ts';
import { useTestStores } from '../support/stores.ts';

const context = { functionName: 'extract', awsRequestId: 'test' } as Context;
const invoke = (event: unknown) => handler(event as BatchEvent, context) as Promise<ExtractBatchResult>;

const stores = useTestStores('extract', ['fruits']);

async function shardRows(result: ExtractBatchResult, outputDir = stores.dir): Promise<ShardRow[]> {
  return decodeShard(await readFile(join(outputDir, result.shard))).rows;
}

function batchEvent(keys: readonly string[], input: { bucket: string }, output: { bucket: string; prefix?: string }, runId = 'test-run') {
  return { Items: keys.map((Key) => ({ Key })), BatchInput: { runId, input, output } };
}

describe('extract handler', () => {
  it('turns every edge case into a 1280-vector or a failure record with a code, and completes the batch', async () => {
    const keys = (await readdir(edgeCasesDir)).sort();
    expect(keys).toHaveLength(72);
    const result = await invoke(batchEvent(keys, { bucket: edgeCasesDir }, { bucket: stores.dir, prefix: 'edge' }));
    const rows = decodeShard(await readFile(join(stores.dir, 'edge', result.shard))).rows;

    expect(rows.map((row) => row.path)).toEqual(keys.map((key) => join(edgeCasesDir, key)));
    for (const row of rows) {
      if (row.features) {
        expect(row.failure, row.path).toBeNull();
        expect(row.features).toHaveLength(1280);
        expect(
          row.features.every((v) => Number.isFinite(v) && v >= 0 && v <= 6),
          row.path,
        ).toBe(true);
      } else {
        expect(Object.keys(failureCodes), row.path).toContain(row.failure?.code);
        expect(row.failure?.message.length, row.path).toBeGreaterThan(5);
      }
    }
    expect(result).toMatchObject({ items: 72, vectors: result.items - result.failures });
    const byName = (name: string) => rows.find((row) => row.path.endsWith(`/${name}`));
    expect(byName('made_zero_bytes.jpg')?.failure?.code).toBe('EMPTY');
    expect(byName('huge_65536x65536_1bit.png')?.failure?.code).toBe('TOO_LARGE');
    expect(byName('made_name with spaces & ünïcødé.jpeg')?.features).toHaveLength(1280);
    expect(byName('cmyk_with_icc_profile.jpg')?.features).toHaveLength(1280);
    expect(Object.values(result.failureCodes).reduce((a, b) => a + b, 0)).toBe(result.failures);
  });

  it('gives the same vectors and labels for 100 Fruits-360 images through S3 (fauxqs) as through the filesystem', async () => {
    const keys = await sampleKeys(4, 25);
    expect(keys).toHaveLength(100);
    await stores.s3.upload('fruits', sampleDir, keys, 'images/');

    const local = await invoke(batchEvent(keys, { bucket: sampleDir }, { bucket: stores.dir, prefix: 'fs' }));
    // Items as the map's listObjectsV2 reader gives them: full keys, sizes, quoted ETags.
    const listed = await Array.fromAsync(new S3Storage('fruits').list('images'));
    const remote = await invoke({
      Items: listed.map((o) => ({ Key: o.key, Size: o.size, Etag: `"${o.etag}"` })),
      BatchInput: { runId: 'test-run', input: { bucket: 'fruits' }, output: { bucket: 'fruits', prefix: 'datasets/s3' } },
    });
    expect(local).toMatchObject({ items: 100, vectors: 100, failures: 0 });
    expect(remote).toMatchObject({ items: 100, vectors: 100, failures: 0 });

    const localRows = decodeShard(await readFile(join(stores.dir, 'fs', local.shard))).rows;
    const remoteRows = decodeShard(await new S3Storage('fruits', 'datasets/s3').read(remote.shard)).rows;
    // fauxqs lists in its own order, not S3's byte order: pair the rows by key.
    const localByKey = new Map(localRows.map((row) => [row.path.slice(sampleDir.length + 1), row]));
    const remoteKeys = remoteRows.map((row) => row.path.slice('s3://fruits/images/'.length));
    expect(remoteKeys.toSorted()).toEqual(keys.toSorted());
    remoteRows.forEach((row, i) => {
      const twin = localByKey.get(remoteKeys[i]!)!;
      expect(row.label).toBe(twin.label);
      expect(row.label).toBe(remoteKeys[i]!.split('/')[0]);
      expect(row.sha256).toBe(twin.sha256);
      expect(row.etag).toMatch(/^[0-9a-f]{32}$/);
      expect(Buffer.from(row.features!.buffer).equals(Buffer.from(twin.features!.buffer)), row.path).toBe(true);
    });
  });

  it('labels each vector with its parent folder', async () => {
    const keys = await sampleKeys(3, 2);
    const result = await invoke(batchEvent(keys, { bucket: sampleDir }, { bucket: stores.dir, prefix: 'labels' }));
    const rows = await shardRows(result, join(stores.dir, 'labels'));
    expect(rows.map((row) => row.label)).toEqual(keys.map((key) => key.split('/')[0]));
    expect(new Set(rows.map((row) => row.label)).size).toBe(3);
  });

  it('leaves one shard, with the same rows, when a batch is retried', async () => {
    const keys = await sampleKeys(2, 3);
    const event = batchEvent(keys, { bucket: sampleDir }, { bucket: stores.dir, prefix: 'retry' }, 'retried-run');
    const first = await invoke(event);
    const second = await invoke(event);
    expect(second.shard).toBe(first.shard);
    const shards = await readdir(join(stores.dir, 'retry', 'runs', 'retried-run', 'shards'));
    expect(shards).toEqual([first.shard.split('/').pop()]);
    expect((await shardRows(second, join(stores.dir, 'retry'))).map((row) => row.path)).toHaveLength(6);
  });

  it('records an object deleted since the listing as READ_FAILED and keeps going', async () => {
    const keys = [...(await sampleKeys(1, 2)), 'Apple Red 1/deleted-since-listing.jpg'];
    const result = await invoke(batchEvent(keys, { bucket: sampleDir }, { bucket: stores.dir, prefix: 'missing' }));
    expect(result).toMatchObject({ items: 3, vectors: 2, failures: 1, failureCodes: { READ_FAILED: 1 } });
  });

  it('records hidden files, S3 folder markers and names that are not UTF-8 without reading them, beside the images', async () => {
    // None of these exist: reading one would record READ_FAILED, and a folder marker is no image even when it does.
    const skipped = ['Apple Red 1/.DS_Store', '.thumbnails/Apple Red 1/x.jpg', 'Apple Red 1/', 'Apple Red 1/caf\uFFFDE9.jpg'];
    const keys = [...(await sampleKeys(1, 1)), ...skipped];
    const result = await invoke(batchEvent(keys, { bucket: sampleDir }, { bucket: stores.dir, prefix: 'skipped' }));

    expect(result).toMatchObject({ items: 5, vectors: 1, failures: 4, failureCodes: { HIDDEN: 2, FOLDER_MARKER: 1, BAD_NAME: 1 } });
    const rows = await shardRows(result, join(stores.dir, 'skipped'));
    expect(rows.map((row) => [row.path.slice(sampleDir.length + 1), row.failure?.code ?? 'vector'])).toEqual([
      [keys[0], 'vector'],
      ['Apple Red 1/.DS_Store', 'HIDDEN'],
      ['.thumbnails/Apple Red 1/x.jpg', 'HIDDEN'],
      ['Apple Red 1/', 'FOLDER_MARKER'],
      ['Apple Red 1/caf\uFFFDE9.jpg', 'BAD_NAME'],
    ]);
  });

  it('refuses an object larger than the byte limit from its listed size, without reading it', async () => {
    const result = await invoke({
      Items: [{ Key: 'Apple Red 1/not-really-there.jpg', Size: 10 * 1024 ** 3 }],
      BatchInput: { runId: 'big', input: { bucket: sampleDir }, output: { bucket: stores.dir, prefix: 'big' } },
    });
    expect(result.failureCodes).toEqual({ TOO_LARGE: 1 });
  });

  it('fails the whole batch when its shard cannot be written, so Step Functions retries it', async () => {
    const event = batchEvent(await sampleKeys(1, 1), { bucket: sampleDir }, { bucket: 'no-such-bucket' });
    const error = await invoke(event).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'StorageUnavailableError' });
    expect((error as Error).message).toContain('s3://no-such-bucket/runs/test-run/shards/');
  });

  it('accepts the ItemBatcher event shape with S3 listing fields and quoted ETags', async () => {
    const [kiwi, lemon] = ['Kiwi/36_100.jpg', 'Lemon/322_100.jpg'];
    await stores.s3.upload('fruits', sampleDir, [kiwi!, lemon!], 'images/');
    const result = await invoke(fixture);
    expect(result).toMatchObject({ runId: fixture.BatchInput.runId, items: 2, vectors: 2 });
    const rows = decodeShard(await new S3Storage('fruits', 'datasets/mobilenet-v2').read(result.shard)).rows;
    expect(rows.map((row) => row.etag)).toEqual(['0e2d7b5cbd8e4f7c0a5a6f4e1f2b3c4d', '5c1a2b3c4d5e6f708192a3b4c5d6e7f8']);
  });

  it('tags the shard it writes to S3 as intermediate, for the bucket lifecycle rule', async () => {
    let result: ExtractBatchResult | undefined;
    const tagged = await tagsOfPuts(async () => (result = await invoke(fixture)));
    expect(tagged.get(`/fruits/datasets/mobilenet-v2/${result!.shard}`)).toBe('featurize%3Aintermediate=true');
  });

  it.each([
    [{}, /Items: /],
    [{ Items: [], BatchInput: fixture.BatchInput }, /Items: /],
    [{ Items: [{ Key: 3 }], BatchInput: fixture.BatchInput }, /Items\[0\]\.Key/],
    [{ Items: fixture.Items, BatchInput: { ...fixture.BatchInput, runId: '../etc' } }, /BatchInput\.runId/],
  ])('rejects a malformed event with InvalidEventError naming the field (%#)', async (event, pattern) => {
    const error = await invoke(event).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'InvalidEventError' });
    expect((error as Error).message).toMatch(pattern);
  });
});
