/**
 * A shard: what one extraction batch produced, one row per input item, as an Arrow IPC file.
 * Arrow because the vectors stay a fixed-size list of float32 end to end (no JSON number round-trips), the
 * reducer streams shards straight into Parquet, and any Arrow reader (pyarrow, DuckDB) can open one.
 * A row holds either a vector or a failure (code and message), never both: every item is in exactly one place.
 * Also the dataset's rows as Arrow record batches, which shards are read into (the reducer, the report's sample)
 * and the Parquet writer takes: Arrow only, so that a step reading them loads no Parquet writer.
 */
import {
  type Data,
  Field,
  FixedSizeList,
  Float32,
  Int64,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import type { Failure, FailureCode, FailureRecord } from '../failures.ts';

/** What identifies a row's source image: the leading columns of shards and Parquet parts alike. */
export interface SourceFields {
  /** Full location of the source: `s3://bucket/key` or an absolute path. */
  path: string;
  /** The source's parent folder name. */
  label: string;
  /** Source size in bytes. */
  size: number;
  /** S3 ETag (unquoted), when the source is in S3. */
  etag: string | null;
  /** SHA-256 of the bytes read (hex); null when they could not be read. */
  sha256: string | null;
}

export interface ShardRow extends SourceFields {
  features: Float32Array | null;
  failure: Failure | null;
}

/** Recorded in the shard's schema metadata and carried into the Parquet file metadata. */
export interface ShardMetadata {
  runId: string;
  batchId: string;
  modelId: string;
  engine: string;
  preprocessing: string;
}

export function featuresType(featureLength: number): FixedSizeList<Float32> {
  return new FixedSizeList(featureLength, new Field('element', new Float32(), false));
}

/** The features column of a shard or a part: one fixed-size list per row, null where a row has no vector. */
export function featuresVector(
  rows: readonly { path: string; features: Float32Array | null }[],
  featureLength: number,
): Vector<FixedSizeList<Float32>> {
  const length = rows.length;
  const values = new Float32Array(length * featureLength);
  const validity = new Uint8Array(Math.ceil(length / 8));
  let nullCount = 0;
  rows.forEach((row, i) => {
    if (row.features) {
      if (row.features.length !== featureLength) {
        throw new RangeError(`${row.path}: ${row.features.length} features, expected ${featureLength}`);
      }
      values.set(row.features, i * featureLength);
      validity[i >> 3]! |= 1 << (i & 7);
    } else {
      nullCount++;
    }
  });
  return makeVector(
    makeData({
      type: featuresType(featureLength),
      length,
      nullCount,
      nullBitmap: validity,
      child: makeData({ type: new Float32(), length: length * featureLength, data: values }),
    }),
  );
}

export function sourceColumns(rows: readonly SourceFields[]) {
  return {
    path: vectorFromArray(
      rows.map((r) => r.path),
      new Utf8(),
    ),
    label: vectorFromArray(
      rows.map((r) => r.label),
      new Utf8(),
    ),
    size: vectorFromArray(
      rows.map((r) => BigInt(r.size)),
      new Int64(),
    ),
    etag: vectorFromArray(
      rows.map((r) => r.etag),
      new Utf8(),
    ),
    sha256: vectorFromArray(
      rows.map((r) => r.sha256),
      new Utf8(),
    ),
  };
}

/** One record batch of named columns; the `required` ones are declared non-nullable (REQUIRED in Parquet). */
export function recordBatchOf(
  columns: Record<string, Vector>,
  required: readonly string[],
  metadata: Record<string, string> = {},
): RecordBatch {
  const fields = Object.entries(columns).map(([name, vector]) => new Field(name, vector.type, !required.includes(name)));
  const schema = new Schema(fields, new Map(Object.entries(metadata)));
  const length = Object.values(columns)[0]?.length ?? 0;
  const data = makeData({
    type: new Struct(fields),
    length,
    nullCount: 0,
    children: Object.values(columns).map((vector) => vector.data[0]!),
  });
  return new RecordBatch(schema, data);
}

export function encodeShard(rows: readonly ShardRow[], featureLength: number, metadata: ShardMetadata): Uint8Array {
  const columns = {
    ...sourceColumns(rows),
    features: featuresVector(rows, featureLength),
    error_code: vectorFromArray(
      rows.map((r) => r.failure?.code ?? null),
      new Utf8(),
    ),
    error_message: vectorFromArray(
      rows.map((r) => r.failure?.message ?? null),
      new Utf8(),
    ),
  };
  return tableToIPC(new Table([recordBatchOf(columns, ['path', 'label', 'size'], { ...metadata })]), 'file');
}

/** The columns of a dataset row beside its vector: the source's fields and its hash. */
export const datasetScalarColumns = ['path', 'label', 'size', 'etag', 'sha256'] as const;

/** The columns of a dataset row, in the dataset's order: the source's fields, its hash, its vector. */
export const datasetColumns = [...datasetScalarColumns, 'features'] as const;

/** Dataset columns that are never null; `etag` is (objects outside S3 have none). */
export const requiredDatasetColumns = ['path', 'label', 'size', 'sha256', 'features'];

/** One row of the dataset: an image that has a vector. */
export interface DatasetRow extends SourceFields {
  sha256: string;
  features: Float32Array;
}

export function datasetBatch(rows: readonly DatasetRow[], featureLength: number): RecordBatch {
  return recordBatchOf({ ...sourceColumns(rows), features: featuresVector(rows, featureLength) }, requiredDatasetColumns);
}

/**
 * The rows of a batch of the dataset's columns whose path `keep` keeps, their vectors views over the batch's buffer
 * (`batchVectors`): valid while the batch is. A caller keeping rows past it copies their vectors.
 */
export function datasetRows(batch: RecordBatch, keep: (path: string) => boolean = () => true): DatasetRow[] {
  const rows: DatasetRow[] = [];
  const [path, label, size, etag, sha256] = datasetScalarColumns.map((name) => batch.getChild(name)!);
  const vectors = batchVectors(batch);
  for (let i = 0; i < batch.numRows; i++) {
    const rowPath: string = path!.get(i);
    if (!keep(rowPath)) continue;
    rows.push({
      path: rowPath,
      label: label!.get(i),
      size: Number(size!.get(i)),
      etag: etag!.get(i),
      sha256: sha256!.get(i),
      features: vectors[i]!,
    });
  }
  return rows;
}

/** A batch's vectors, as views over its buffer: valid while the batch is. */
export function batchVectors(batch: RecordBatch): Float32Array[] {
  const features = batch.getChild('features')!.data[0]! as Data<FixedSizeList<Float32>>;
  const length = features.type.listSize;
  // A slice of a batch slices its list's values too (apache-arrow's Data.slice): they begin at its first row.
  const values = features.children[0]!.values as Float32Array;
  return Array.from({ length: batch.numRows }, (_, i) => values.subarray(i * length, (i + 1) * length));
}

/** A shard as the reducer takes it: its vector rows in the dataset's columns, and its failure records. */
export interface ShardVectors {
  metadata: ShardMetadata;
  /**
   * The rows with a vector and its hash, as record batches of the dataset's columns over the shard's own buffers
   * (a run of consecutive rows each: failures cut them), never copied row by row.
   */
  batches: RecordBatch[];
  failures: FailureRecord[];
  /** Why the file is not a shard at all, when it is not: not Arrow, or a column missing. */
  malformed?: string;
  /** The first row with neither a vector and its hash nor a failure, by its path: the shard is not one we wrote. */
  incomplete?: string;
}

/** Every column of a shard. */
const shardColumns = [...datasetColumns, 'error_code', 'error_message'];

export function readShardVectors(bytes: Uint8Array): ShardVectors {
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (error) {
    return { metadata: {} as ShardMetadata, batches: [], failures: [], malformed: `not an Arrow IPC file: ${(error as Error).message}` };
  }
  const metadata = Object.fromEntries(table.schema.metadata) as unknown as ShardMetadata;
  const batches: RecordBatch[] = [];
  const failures: FailureRecord[] = [];
  const missing = shardColumns.filter((name) => !table.schema.fields.some((field) => field.name === name));
  if (missing.length > 0) return { metadata, batches, failures, malformed: `not a shard: no ${missing.join(', ')} column` };
  for (const batch of table.batches) {
    const column = (name: string) => batch.getChild(name) as Vector;
    const [path, sha256, features, code, message] = ['path', 'sha256', 'features', 'error_code', 'error_message'].map(column) as Vector[];
    const dataset = recordBatchOf(Object.fromEntries(datasetColumns.map((name) => [name, column(name)])), requiredDatasetColumns);
    // A row with a failure is a failure record even if it also holds a vector, as every reader of shards takes it.
    let runStart = 0;
    const endRun = (end: number) => {
      if (end > runStart) batches.push(runStart === 0 && end === batch.numRows ? dataset : dataset.slice(runStart, end));
      runStart = end + 1;
    };
    for (let i = 0; i < batch.numRows; i++) {
      const failureCode = code!.get(i) as FailureCode | null;
      if (!failureCode && features!.isValid(i) && sha256!.isValid(i)) continue;
      endRun(i);
      if (!failureCode) return { metadata, batches, failures, incomplete: path!.get(i) as string };
      failures.push({ path: path!.get(i) as string, code: failureCode, message: (message!.get(i) as string | null) ?? '' });
    }
    endRun(batch.numRows);
  }
  return { metadata, batches, failures };
}
