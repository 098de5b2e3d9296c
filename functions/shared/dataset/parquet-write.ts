/**
 * Writing a Parquet part file from Arrow columns with parquet-wasm (arrow-rs compiled to WebAssembly), with
 * the settings of the feature parts: zstd (the dataset's codec, read by DuckDB, pyarrow, Spark and Athena),
 * and a dictionary for the label column only (paths and floats are nearly all distinct).
 */
import { Field, Float32, List, makeData, makeVector, RecordBatch, Schema, Struct, Table, tableToIPC, type Vector } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';

/** `rows` vectors of `width` float32 values each, stored back to back in `values`, as a list<float32> column. */
export function float32ListVector(values: Float32Array, width: number): Vector<List<Float32>> {
  const rows = width === 0 ? 0 : values.length / width;
  if (!Number.isInteger(rows)) throw new RangeError(`${values.length} values are not rows of ${width}`);
  const valueOffsets = Int32Array.from({ length: rows + 1 }, (_, i) => i * width);
  return makeVector(
    makeData({
      type: new List(new Field('element', new Float32(), false)),
      length: rows,
      nullCount: 0,
      valueOffsets,
      child: makeData({ type: new Float32(), length: values.length, data: values }),
    }),
  );
}

export interface ParquetOptions {
  /** Key-value metadata of the file (run id, model id, ...). */
  metadata: Record<string, string>;
  /** Columns that may hold nulls; every other column is declared required. */
  nullable?: readonly string[];
  rowGroupRows?: number;
}

/** Columns (same length, in the order given) to the bytes of one Parquet file. */
export function encodeParquet(columns: Record<string, Vector>, options: ParquetOptions): Uint8Array {
  const entries = Object.entries(columns);
  const length = entries[0]?.[1].length ?? 0;
  const nullable = new Set(options.nullable ?? []);
  const fields = entries.map(([name, vector]) => new Field(name, vector.type, nullable.has(name)));
  const schema = new Schema(fields);
  const data = makeData({
    type: new Struct(fields),
    length,
    nullCount: 0,
    children: entries.map(([name, vector]) => {
      if (vector.length !== length || vector.data.length !== 1) {
        throw new RangeError(`column ${name}: expected one chunk of ${length} rows`);
      }
      return vector.data[0]!;
    }),
  });
  const properties = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setColumnDictionaryEnabled('label', true)
    .setMaxRowGroupSize(options.rowGroupRows ?? 8192)
    .setKeyValueMetadata(new Map(Object.entries(options.metadata)))
    .build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(new Table(schema, [new RecordBatch(schema, data)]), 'stream')), properties);
}
