import { parquetMetadata, readOffsetIndex } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { encodeParquet, encodeParquetBatches, inGroups } from '../../functions/shared/dataset/parquet-writer.ts';
import { StorageUnavailableError } from '../../functions/shared/errors.ts';
import { type DatasetRow, encodeShard, readShardVectors } from '../../functions/shared/shards/shard-file.ts';

async function* chunksOf<T>(chunks: T[][], pulled: { count: number } = { count: 0 }) {
  for (const chunk of chunks) {
    pulled.count++;
    yield chunk;
  }
}

const row = (i: number): DatasetRow => ({
  path: `/data/Kiwi/${i}.jpg`,
  label: 'Kiwi',
  size: 100 + i,
  etag: null,
  sha256: String(i).padStart(64, '0'),
  features: new Float32Array(4).fill(i),
});

describe('inGroups', () => {
  it('cuts uneven chunks into consecutive groups of at most the size, with no empty group', async () => {
    const groups: number[][] = [];
    for await (const group of inGroups(chunksOf([[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]), 4)) {
      groups.push((await Array.fromAsync(group)).flat());
    }
    expect(groups).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9]]);
  });

  it('yields no group for a stream without rows', async () => {
    expect(await Array.fromAsync(inGroups(chunksOf<number>([[], []]), 4))).toEqual([]);
  });

  it('reads no further ahead than the chunk the current group needs', async () => {
    const pulled = { count: 0 };
    const groups = inGroups(
      chunksOf(
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        pulled,
      ),
      2,
    );
    const first = (await groups.next()).value!;
    expect(await Array.fromAsync(first)).toEqual([[1, 2]]);
    expect(pulled.count).toBe(1);
  });
});

describe('encodeParquet', () => {
  it("writes the same bytes from a shard's record batches (the reducer's way) as from its rows", async () => {
    const rows = Array.from({ length: 30 }, (_, i) => row(i));
    const failed = new Set([0, 7, 8, 29]);
    const shard = encodeShard(
      rows.map((r, i) =>
        failed.has(i) ? { ...r, features: null, failure: { code: 'CORRUPT', message: 'bad' } } : { ...r, failure: null },
      ),
      4,
      { runId: 'r', batchId: 'b', modelId: 'm', engine: 'e', preprocessing: 'p' },
    );
    const options = { rowGroupRows: 10, metadata: { 'featurize.run_id': 'r' } };
    const { batches } = readShardVectors(shard);
    expect(batches.map((batch) => batch.numRows)).toEqual([6, 20]);
    const fromBatches = await encodeParquetBatches(
      (async function* () {
        yield* batches;
      })(),
      options,
    );
    const fromRows = await encodeParquet(chunksOf([rows.filter((_, i) => !failed.has(i))]), options);
    expect(Buffer.from(fromBatches).equals(Buffer.from(fromRows))).toBe(true);
  });

  it('rethrows the error of a failing source as it was, so that Step Functions can retry on its name', async () => {
    async function* failing() {
      yield [row(1)];
      throw new StorageUnavailableError('cannot read s3://fruits/runs/r/shards/b.arrow: SlowDown');
    }
    const error = await encodeParquet(failing(), { rowGroupRows: 10, metadata: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
  });

  it("keeps each data page of a model's vectors under the 16,380 values V8 holds in a fast array (hyparquet's levels)", async () => {
    const vectorRow = (i: number): DatasetRow => ({ ...row(i), features: new Float32Array(1280).fill(i / 100) });
    const bytes = await encodeParquet(chunksOf([Array.from({ length: 200 }, (_, i) => vectorRow(i))]), {
      rowGroupRows: 100,
      metadata: {},
    });
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const metadata = parquetMetadata(file);
    const valuesPerPage = metadata.row_groups.flatMap((group) => {
      const chunk = group.columns.find((column) => column.meta_data?.path_in_schema[0] === 'features')!;
      const index = readOffsetIndex({ view: new DataView(file, Number(chunk.offset_index_offset), chunk.offset_index_length!), offset: 0 });
      const firstRows = [...index.page_locations.map((page) => Number(page.first_row_index)), Number(group.num_rows)];
      return firstRows.slice(1).map((end, i) => (end - firstRows[i]!) * 1280);
    });
    expect(valuesPerPage.length).toBeGreaterThan(2);
    expect(Math.max(...valuesPerPage)).toBeLessThan(16_380);
    expect(valuesPerPage.reduce((sum, values) => sum + values, 0)).toBe(200 * 1280);
  });

  it('refuses to write a part without rows', async () => {
    await expect(encodeParquet(chunksOf<DatasetRow>([[]]), { rowGroupRows: 10, metadata: {} })).rejects.toThrow(/at least one row/);
  });
});
