/**
 * Reading Parquet part files through the Storage interface with hyparquet, a slice of rows at a time.
 * Only the footer and the column chunks asked for are fetched (byte-range reads), and at most `maxRows`
 * rows are decoded at once, so a part of any size is read in bounded memory.
 */
import { zstdDecompressSync } from 'node:zlib';
import { parquetMetadataAsync, parquetScan, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import type { Storage, StoredObject } from '../storage/storage.ts';

/** The key-value metadata the reducer writes in each part (and the PCA step carries into its parts). */
export const partMetadataKeys = {
  runId: 'featurize.run_id',
  modelId: 'featurize.model_id',
  engine: 'featurize.engine',
  preprocessing: 'featurize.preprocessing',
} as const;

/** hyparquet decodes snappy itself; the dataset's parts are zstd, which Node's zlib decodes (Node >= 22.15). */
const compressors = { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) };

/** A part file: its key relative to the storage root and its size in bytes (from the listing). */
export type PartFile = Pick<StoredObject, 'key' | 'size'>;

export interface PartFooter {
  rows: number;
  /** The file's key-value metadata (run id, model id, ...), without Arrow's serialized schema. */
  metadata: Record<string, string>;
}

/** The Parquet files directly in `folder` (all, or those whose name matches), in key order. */
export async function listParts(storage: Storage, folder: string, name = /\.parquet$/): Promise<PartFile[]> {
  const parts: PartFile[] = [];
  for await (const object of storage.list(folder)) {
    const relative = object.key.slice(folder.length);
    if (!relative.includes('/') && name.test(relative)) parts.push(object);
  }
  return parts;
}

export async function readFooter(storage: Storage, part: PartFile): Promise<PartFooter> {
  return footerOf(await parquetMetadataAsync(asyncBufferOf(storage, part)));
}

export interface RowSlice<C extends string> {
  /** Index of the slice's first row in the file. */
  rowStart: number;
  rowCount: number;
  columns: Record<C, ArrayLike<unknown>>;
}

/**
 * The chosen columns of one part, in row order, in slices of at most `maxRows` rows. Values are as hyparquet
 * decodes them: strings, numbers, and a list column as one array of numbers per row.
 */
export async function* readRowSlices<C extends string>(
  storage: Storage,
  part: PartFile,
  columns: readonly C[],
  maxRows = 1024,
): AsyncGenerator<RowSlice<C>> {
  const scan = await parquetScan({ file: asyncBufferOf(storage, part), columns: [...columns], compressors });
  for (const range of scan.ranges) {
    for (let rowStart = range.rowStart; rowStart < range.rowEnd; rowStart += maxRows) {
      const rowEnd = Math.min(rowStart + maxRows, range.rowEnd);
      const decoded = await Promise.all(columns.map((column) => scan.readColumn({ column, rowStart, rowEnd })));
      const slice = {} as Record<C, ArrayLike<unknown>>;
      columns.forEach((column, i) => (slice[column] = decoded[i]!));
      yield { rowStart, rowCount: rowEnd - rowStart, columns: slice };
    }
  }
}

/** Footer first (hyparquet's first read covers it), then only the byte ranges of the chunks a read needs. */
function asyncBufferOf(storage: Storage, part: PartFile): AsyncBuffer {
  return {
    byteLength: part.size,
    slice: async (start, end = part.size) => {
      const bytes = await storage.readRange(part.key, start, end);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

function footerOf(metadata: FileMetaData): PartFooter {
  const keyValues = (metadata.key_value_metadata ?? []).filter((kv) => kv.key !== 'ARROW:schema');
  return {
    rows: Number(metadata.num_rows),
    metadata: Object.fromEntries(keyValues.map((kv) => [kv.key, kv.value ?? ''])),
  };
}
