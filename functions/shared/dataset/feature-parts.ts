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
import { featuresPrefix, partRunId } from '../run-layout.ts';
import { compareKeys, type Storage, type StoredObject } from '../storage/storage.ts';
import { decodeVectorChunk, type VectorColumn, vectorChunk } from './vector-column.ts';

/** File key-value metadata of a part: which run, model and engine produced its vectors, and how. */
export const partMetadataKeys = {
  runId: 'featurize.run_id',
  modelId: 'featurize.model_id',
  engine: 'featurize.engine',
  preprocessing: 'featurize.preprocessing',
  createdAt: 'featurize.created_at',
  /** When the run that made the rows started (listed its inputs): of two runs, the later-started one's row wins. */
  runStartedAt: 'featurize.run_started_at',
  /** Bounds of the part's paths (UTF-8 byte order): every row's path lies within them. */
  pathMin: 'featurize.path_min',
  pathMax: 'featurize.path_max',
  /** Set on an older part rewritten (when an incremental run is published) without the images it re-processed. */
  rewrittenBy: 'featurize.rewritten_by_run',
  rewrittenAt: 'featurize.rewritten_at',
} as const;

/** A part as listed: its name, and what changes when it is rewritten (ETag on S3, mtime locally). */
export interface PartVersion {
  key: string;
  size: number;
  version: string;
}

export function partVersion(object: StoredObject): PartVersion {
  return { key: object.key, size: object.size, version: object.etag ?? object.lastModified?.toISOString() ?? '' };
}

export const sameVersion = (a: PartVersion, b: PartVersion) => a.key === b.key && a.size === b.size && a.version === b.version;

export interface PartFile {
  key: string;
  metadata: FileMetaData;
  file: AsyncBuffer;
}

/**
 * hyparquet decodes snappy itself; the parts are zstd, which Node's zlib decodes (Node >= 22.15): into one buffer of
 * the size the page's header gives (no more: a page inflating past it is refused, not held), handed over as it is.
 * zlib's default 16 KiB chunks, joined and then copied, cost a part's audit 0.1 s more, most of it in fresh memory.
 */
const compressors = {
  ZSTD: (input: Uint8Array, outputLength: number) => {
    const page = zstdDecompressSync(input, { chunkSize: Math.max(64, outputLength), maxOutputLength: Math.max(1, outputLength) });
    return new Uint8Array(page.buffer, page.byteOffset, page.byteLength);
  },
};

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
      // A range read into a buffer of its own is handed over as it is: a copy of a row group's megabytes per read.
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      return (whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) as ArrayBuffer;
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
    yield await readRows(part, columns, rowStart, rowEnd);
    rowStart = rowEnd;
  }
}

/** A row group's `columns` as rows, and its vectors read flat (vector-column.ts). */
export interface VectorRowGroup {
  /** One per row with the columns asked for; none when none were. */
  rows: ParquetRow[];
  vectors: VectorColumn;
}

/**
 * The part one row group at a time, as `readPartRowGroups` reads it, with the vectors (`features`, or the list of
 * floats named) apart and flat: what every reader of the vectors takes. A vector column that is not a list of
 * FLOAT, or that does not have the row group's rows, is a RunArtifactError naming the part.
 */
export async function* readPartVectorGroups(
  part: PartFile,
  columns: readonly string[],
  vectorColumn = 'features',
): AsyncGenerator<VectorRowGroup> {
  let rowStart = 0;
  for (const [index, group] of part.metadata.row_groups.entries()) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = columns.length > 0 ? await readRows(part, columns, rowStart, rowEnd) : [];
    const chunk = decodingPart(part, index, () => vectorChunk(part.metadata, index, vectorColumn, compressors));
    const bytes = new Uint8Array(await part.file.slice(chunk.start, chunk.end));
    const vectors = decodingPart(part, index, () => decodeVectorChunk(bytes, chunk));
    if (rows.length > 0 && rows.length !== vectors.rows) {
      throw new RunArtifactError(`${part.key}, row group ${index}: ${rows.length} rows, but vectors for ${vectors.rows}`);
    }
    yield { rows, vectors };
    rowStart = rowEnd;
  }
}

/** What decoding a part's bytes throws (they are corrupt, or not what the dataset holds) as a RunArtifactError naming it. */
function decodingPart<T>(part: PartFile, rowGroup: number, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    throw new RunArtifactError(`${part.key}, row group ${rowGroup}: ${(error as Error).message}`, { cause: error });
  }
}

async function readRows(part: PartFile, columns: readonly string[], rowStart: number, rowEnd: number): Promise<ParquetRow[]> {
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
  return rows;
}

/** A part as publishing plans with it: who wrote it, when that run started, the bounds of its paths. */
export interface DescribedPart {
  key: string;
  file: PartFile;
  runId: string;
  modelId: string;
  /** ISO time; '' for a part written before runs recorded it, which any run started since supersedes. */
  runStartedAt: string;
  /** Bounds of its paths (UTF-8 byte order), from its metadata, or read from its `path` column (older parts). */
  pathMin: string;
  pathMax: string;
}

/**
 * A part of `folder`, described; undefined for a file this pipeline did not write: a name that is not a part's,
 * not Parquet, or Parquet without this pipeline's metadata naming the same run as the file name.
 */
export async function describePart(storage: Storage, object: StoredObject, folder = featuresPrefix): Promise<DescribedPart | undefined> {
  const runId = partRunId(object.key, folder);
  if (runId === undefined) return undefined;
  let file: PartFile;
  try {
    file = await openPart(storage, object);
  } catch (error) {
    if (error instanceof RunArtifactError) return undefined;
    throw error;
  }
  const values = partKeyValues(file);
  const modelId = values[partMetadataKeys.modelId];
  if (values[partMetadataKeys.runId] !== runId || !modelId) return undefined;
  let pathMin = values[partMetadataKeys.pathMin];
  let pathMax = values[partMetadataKeys.pathMax];
  if (pathMin === undefined || pathMax === undefined) {
    const paths = (await readPartPaths(file)).sort(compareKeys);
    pathMin = paths[0] ?? '';
    pathMax = paths.at(-1) ?? '';
  }
  return { key: object.key, file, runId, modelId, runStartedAt: values[partMetadataKeys.runStartedAt] ?? '', pathMin, pathMax };
}
