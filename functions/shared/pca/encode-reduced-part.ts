/**
 * One part of a features-pca/ partition: `path` and `label` as in the features part it reduces, and `pca`,
 * a list of k float32 per row (an Arrow fixed-size list, as `features` is), written like every part.
 */
import { Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { type PartWriterOptions, partWriterProperties } from '../dataset/part-writer-properties.ts';
import { featuresVector, recordBatchOf } from '../shards/shard-file.ts';

export interface ReducedRows {
  paths: string[];
  labels: string[];
  /** k values per row, row after row. */
  values: Float32Array;
  k: number;
}

export function encodeReducedPart({ paths, labels, values, k }: ReducedRows, options: PartWriterOptions): Uint8Array {
  const rows = paths.map((path, i) => ({ path, features: values.subarray(i * k, (i + 1) * k) }));
  const batch = recordBatchOf(
    {
      path: vectorFromArray(paths, new Utf8()),
      label: vectorFromArray(labels, new Utf8()),
      pca: featuresVector(rows, k),
    },
    ['path', 'label', 'pca'],
  );
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(new Table([batch]), 'stream')), partWriterProperties(options));
}
