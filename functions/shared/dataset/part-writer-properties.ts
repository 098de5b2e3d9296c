/**
 * How every Parquet part of an output is written (staged by the reducer, rewritten by the publisher, reduced
 * into features-pca/ by the PCA step), so that one reader configuration reads them all: zstd (decoded by
 * DuckDB, pyarrow, Spark, Athena, and by hyparquet here through Node's zlib), a dictionary for the label column
 * only.
 */
import { Compression, type WriterProperties, WriterPropertiesBuilder } from 'parquet-wasm';

export interface PartWriterOptions {
  rowGroupRows: number;
  /** The file's key-value metadata; a source part's may be passed as it is (see below). */
  metadata: Record<string, string>;
}

/** Written by the writer for the columns it writes: one copied from a source part would describe other columns. */
const arrowSchemaKey = 'ARROW:schema';

export function partWriterProperties(options: PartWriterOptions): WriterProperties {
  return (
    new WriterPropertiesBuilder()
      .setCompression(Compression.ZSTD)
      // Paths, hashes and floats are nearly all distinct: a dictionary would only be built to be dropped.
      .setDictionaryEnabled(false)
      .setColumnDictionaryEnabled('label', true)
      .setMaxRowGroupSize(options.rowGroupRows)
      .setKeyValueMetadata(new Map(Object.entries(options.metadata).filter(([key]) => key !== arrowSchemaKey)))
      .build()
  );
}
