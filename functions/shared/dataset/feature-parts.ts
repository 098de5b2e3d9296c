/**
 * The dataset: Parquet parts under `features/`, one row per image that has a vector (and the same parts as
 * staged under `runs/<runId>/parts/` before publishing). The reducer writes them (parquet-wasm); the validator
 * and the publisher's incremental rewrite read them back with hyparquet, an independent implementation,
 * through ranged reads: a footer or the `path` column of a 90 MB part costs a few hundred kilobytes, not the
 * part.
 *
 * Columns: path, label, sha256 (UTF8), size (INT64), etag (UTF8, nullable), features (LIST of FLOAT,
 * `featureLength` per row). Key-value metadata: the keys of `partMetadataKeys`.
 */
import { zstdDecompressSync } from 'node:zlib';
import { type AsyncBuffer, type FileMetaData, type ParquetRow, parquetMetadataAsync, parquetRead } from 'hyparquet';
import { FeaturizeError, RunArtifactError } from '../errors.ts';
import { featuresPrefix } from '../run-layout.ts';
import type { Storage, StoredObject } from '../storage/storage.ts';

/** File key-value metadata of a part: which run, model and engine produced its vectors, and how. */
export const partMetadataKeys = {
  runId: 'featurize.run_id',
  modelId: 'featurize.model_id',
  engine: 'featurize.engine',
  preprocessing: 'featurize.preprocessing',
  createdAt: 'featurize.created_at',
  /** Set on an older part rewritten (when an incremental run is published) without the images it re-processed. */
  rewrittenBy: 'featurize.rewritten_by_run',
  rewrittenAt: 'featurize.rewritten_at',
} as const;

export interface PartFile {
  key: string;
  metadata: FileMetaData;
  file: AsyncBuffer;
}

/** hyparquet decodes snappy itself; the parts are zstd, which Node's zlib decodes (Node >= 22.15). */
const compressors = { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) };

/**
 * Every Parquet object under `features/`: what `features/*.parquet` shows a reader. Or under another dataset
 * folder of the output (a partition of features-pca/), whose parts have the same layout.
 */
export async function listParts(storage: Storage, folder = featuresPrefix): Promise<StoredObject[]> {
  const parts: StoredObject[] = [];
  for await (const object of storage.list(folder)) if (object.key.endsWith('.parquet')) parts.push(object);
  return parts;
}

/** Opens a part: its footer only. A file that is not Parquet is a RunArtifactError naming it. */
export async function openPart(storage: Storage, object: StoredObject): Promise<PartFile> {
  const file: AsyncBuffer = {
    byteLength: object.size,
    slice: async (start, end = object.size) => {
      const bytes = await storage.readRange(object.key, start, end);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
  try {
    return { key: object.key, metadata: await parquetMetadataAsync(file), file };
  } catch (error) {
    if (error instanceof FeaturizeError) throw error;
    throw new RunArtifactError(`${storage.locationOf(object.key)} is not a readable Parquet file: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export function partKeyValues(part: PartFile): Record<string, string> {
  return Object.fromEntries((part.metadata.key_value_metadata ?? []).map(({ key, value }) => [key, value ?? '']));
}

/** The `path` column alone. */
export async function readPartPaths(part: PartFile): Promise<string[]> {
  const paths: string[] = [];
  await parquetRead({
    file: part.file,
    metadata: part.metadata,
    columns: ['path'],
    compressors,
    onComplete: (rows) =>
      rows.forEach((row) => {
        paths.push(row[0] as string);
      }),
  });
  return paths;
}

/** The part's rows one row group at a time, so that memory holds one row group, not the part. */
export async function* readPartRowGroups(part: PartFile, columns: readonly string[]): AsyncGenerator<ParquetRow[]> {
  let rowStart = 0;
  for (const group of part.metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: ParquetRow[] = [];
    await parquetRead({
      file: part.file,
      metadata: part.metadata,
      columns: [...columns],
      rowStart,
      rowEnd,
      rowFormat: 'object',
      compressors,
      onComplete: (read) => (rows = read),
    });
    yield rows;
    rowStart = rowEnd;
  }
}
