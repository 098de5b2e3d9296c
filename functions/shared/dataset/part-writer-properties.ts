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

/**
 * Data pages of at most 48 KiB (arrow-rs's default is 1 MiB): 10 rows of 1,280 floats each. hyparquet, which reads
 * every part back (the audit, publishing's rewrite, PCA, the index, exact search), decodes a page's levels into a
 * JavaScript array of one element per value, and V8 makes an array of 16,380 elements or more a slow dictionary:
 * with 1 MiB pages (260,000 values) reading a 5,850-row part took 0.6–1.5 s, with these 0.25–0.5 s. The files are
 * 4 % larger (zstd compresses each page on its own); 64 KiB pages (16,640 values) are as slow as 1 MiB ones.
 */
const dataPageBytes = 48 * 1024;

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
      .setDataPageSizeLimit(dataPageBytes)
      .setKeyValueMetadata(new Map(Object.entries(options.metadata).filter(([key]) => key !== arrowSchemaKey)))
      .build()
  );
}
