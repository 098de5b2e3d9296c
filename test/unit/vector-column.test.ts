import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Field, Float32, List, makeTable, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { openPart, readPartRowGroups, readPartVectorGroups } from '../../functions/shared/dataset/feature-parts.ts';
import { encodeParquet } from '../../functions/shared/dataset/parquet-writer.ts';
import { RunArtifactError } from '../../functions/shared/errors.ts';
import type { DatasetRow } from '../../functions/shared/shards/shard-file.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import { literal, query } from '../support/duckdb.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('vector-column', []);

async function opened(name: string, bytes: Uint8Array) {
  await writeFile(join(stores.dir, name), bytes);
  const storage = openStorage({ bucket: stores.dir });
  return openPart(storage, { key: name, size: bytes.byteLength });
}

/** Every row's vector as the reader gives it, and as hyparquet's own assembly of the same column does. */
async function bothWays(name: string, bytes: Uint8Array, column = 'features') {
  const part = await opened(name, bytes);
  const flat: number[][] = [];
  const groups: number[] = [];
  const lengths: (number | undefined)[] = [];
  for await (const { rows, vectors } of readPartVectorGroups(part, ['id'], column)) {
    expect(rows).toHaveLength(vectors.rows);
    lengths.push(vectors.uniformLength());
    groups.push(vectors.rows);
    for (let row = 0; row < vectors.rows; row++) flat.push(Array.from(vectors.vector(row)));
  }
  const assembled: number[][] = [];
  for await (const rows of readPartRowGroups(part, [column])) {
    // A null list reads as no values; a null element as NaN.
    for (const row of rows) assembled.push(((row[column] as (number | null)[] | null) ?? []).map((value) => value ?? Number.NaN));
  }
  return { flat, assembled, groups, lengths };
}

/** Vectors with what a list column may hold: null lists, empty lists, null elements, long and short rows. */
const awkward: ((number | null)[] | null)[] = Array.from({ length: 40 }, (_, i) => {
  if (i % 11 === 3) return null;
  if (i % 13 === 5) return [];
  return Array.from({ length: 1 + ((i * 37) % 300) }, (_, j) => (j % 17 === 4 && i % 2 ? null : i * 1000 + j + 0.25));
});

function awkwardTable(): Table {
  const features = vectorFromArray(awkward, new List(new Field('element', new Float32(), true)));
  return makeTable({ id: Int32Array.from(awkward.keys()) }).assign(new Table({ features }));
}

describe('readPartVectorGroups', () => {
  it("gives back the reducer's vectors exactly, row group by row group, rows cut across pages", async () => {
    const rows: DatasetRow[] = Array.from({ length: 25 }, (_, i) => ({
      path: `/data/Kiwi/${i}.jpg`,
      label: 'Kiwi',
      size: i,
      etag: null,
      sha256: String(i).padStart(64, '0'),
      features: Float32Array.from({ length: 1280 }, (_, j) => Math.fround(Math.sin(i * 1280 + j)) * (j % 5 ? 1 : 0)),
    }));
    const bytes = await encodeParquet(
      (async function* () {
        yield rows;
      })(),
      { rowGroupRows: 10, metadata: {} },
    );
    const part = await opened('ours.parquet', bytes);
    const paths: string[] = [];
    const vectors: Float32Array[] = [];
    for await (const group of readPartVectorGroups(part, ['path'])) {
      expect(group.vectors.uniformLength()).toBe(1280);
      for (const [i, row] of group.rows.entries()) {
        paths.push(row.path as string);
        vectors.push(group.vectors.vector(i));
      }
    }
    expect(paths).toEqual(rows.map((row) => row.path));
    expect(vectors).toEqual(rows.map((row) => row.features));
  });

  it.each([
    ['V1 data pages, plain', WriterVersion.V1, false],
    ['V1 data pages, dictionary', WriterVersion.V1, true],
    ['V2 data pages, plain', WriterVersion.V2, false],
    ['V2 data pages, dictionary', WriterVersion.V2, true],
  ])('reads nullable lists as hyparquet assembles them: %s', async (name, version, dictionary) => {
    const properties = new WriterPropertiesBuilder()
      .setWriterVersion(version)
      .setCompression(Compression.ZSTD)
      .setDictionaryEnabled(dictionary)
      .setMaxRowGroupSize(15)
      .setDataPageSizeLimit(256)
      .build();
    const bytes = writeParquet(WasmTable.fromIPCStream(tableToIPC(awkwardTable(), 'stream')), properties);
    const { flat, assembled, groups, lengths } = await bothWays(`${name}.parquet`, bytes);
    expect(groups).toEqual([15, 15, 10]);
    // Vectors of many lengths: no row group has one length for all.
    expect(lengths).toEqual([undefined, undefined, undefined]);
    expect(flat).toEqual(assembled);
    expect(flat.map((values) => values.length)).toEqual(awkward.map((values) => values?.length ?? 0));
  });

  it('reads what DuckDB writes (another writer, its own page and level layout)', async () => {
    const path = join(stores.dir, 'duckdb.parquet');
    await query(
      `COPY (SELECT i AS id, CASE WHEN i % 7 = 3 THEN NULL ELSE list_transform(range(1 + i % 50), j -> ` +
        `CASE WHEN j % 9 = 4 THEN NULL ELSE (i * 100 + j)::FLOAT END) END AS features FROM range(300) t(i)) ` +
        `TO ${literal(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 128)`,
    );
    const { flat, assembled } = await bothWays('duckdb.parquet', new Uint8Array(await readFile(path)));
    expect(flat).toHaveLength(300);
    expect(flat).toEqual(assembled);
  });

  it('names the part when the column is not a list of floats', async () => {
    const bytes = writeParquet(WasmTable.fromIPCStream(tableToIPC(awkwardTable(), 'stream')));
    const part = await opened('ids.parquet', bytes);
    await expect(readPartVectorGroups(part, [], 'id').next()).rejects.toThrow(RunArtifactError);
    await expect(readPartVectorGroups(part, [], 'id').next()).rejects.toThrow(
      /ids\.parquet, row group 0: column id is not a list of FLOAT/,
    );
  });
});
