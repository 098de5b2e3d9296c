/**
 * A column of vectors (a Parquet LIST of FLOAT: a part's `features`, a PCA partition's `pca`) decoded flat, one
 * row group's column chunk at a time. hyparquet decodes every page (its header, the codec through the part's
 * compressors, the levels, PLAIN or dictionary values); only the cutting into rows is done here, from the
 * repetition levels, into one Float32Array, where hyparquet's readers would assemble a JavaScript array of numbers
 * per row: 7.5 million numbers in growing arrays for a 5,850-row part, kept for a row group, and their garbage.
 * That part's audit in a fresh process took 0.82–0.85 s of CPU instead of 1.24–1.27 s (three alternating runs).
 *
 * Levels as the Parquet format defines them, for a list one level deep: a repetition level of 0 starts a row; a
 * value is present where the definition level is the column's maximum, and one below it (when the element is
 * optional) marks a null element, kept here as NaN so that the row keeps its length and no check takes it for a
 * number; lower levels are an empty or a null list: a row without values.
 */
import { type ColumnChunk, type Compressors, type DecodedArray, type FileMetaData, parquetSchema, type SchemaTree } from 'hyparquet';
import { parquetHeader, readPage } from 'hyparquet/src/column.js';
import { convert, convertWithDictionary, DEFAULT_PARSERS } from 'hyparquet/src/convert.js';
import { decompressPage, readDataPage, readDataPageV2 } from 'hyparquet/src/datapage.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel } from 'hyparquet/src/schema.js';

type ColumnDecoder = Parameters<typeof readDataPage>[2];

/** One row group's vectors: row i's values are `values.subarray(offsets[i], offsets[i + 1])`. */
export class VectorColumn {
  readonly values: Float32Array;
  readonly offsets: Int32Array;

  constructor(values: Float32Array, offsets: Int32Array) {
    this.values = values;
    this.offsets = offsets;
  }

  get rows(): number {
    return this.offsets.length - 1;
  }

  /** The length every row's vector has (0 for none), or undefined when they differ. */
  uniformLength(): number | undefined {
    const length = this.rows > 0 ? this.offsets[1]! : 0;
    for (let row = 1; row <= this.rows; row++) if (this.offsets[row] !== row * length) return undefined;
    return length;
  }

  /** Row `row`'s vector: a view of `values`, empty for a null or empty list. */
  vector(row: number): Float32Array {
    return this.values.subarray(this.offsets[row], this.offsets[row + 1]);
  }
}

/** Where a row group's vector column lies in the file, and how to decode it. */
export interface VectorChunk {
  start: number;
  end: number;
  rows: number;
  /** Its level count (the metadata's `num_values`): one value at most for each. */
  levels: number;
  decoder: ColumnDecoder;
}

/** The chunk of `column` in row group `group`; a column that is not a list of FLOAT is a TypeError naming it. */
export function vectorChunk(metadata: FileMetaData, group: number, column: string, compressors: Compressors): VectorChunk {
  const schemaPath = listLeafPath(metadata, column);
  const pathInSchema = schemaPath.slice(1).map((node) => node.element.name);
  const leaf = schemaPath.at(-1)!.element;
  if (leaf.type !== 'FLOAT' || getMaxRepetitionLevel(schemaPath) !== 1) {
    throw new TypeError(`column ${column} is not a list of FLOAT (${pathInSchema.join('.')} is ${leaf.type})`);
  }
  const rowGroup = metadata.row_groups[group]!;
  const chunk = rowGroup.columns.find((candidate: ColumnChunk) => candidate.meta_data?.path_in_schema.join('.') === pathInSchema.join('.'));
  const meta = chunk?.meta_data;
  if (!meta) throw new TypeError(`row group ${group} has no column chunk for ${pathInSchema.join('.')}`);
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  return {
    start,
    end: start + Number(meta.total_compressed_size),
    rows: Number(rowGroup.num_rows),
    levels: Number(meta.num_values),
    decoder: { pathInSchema, type: leaf.type, element: leaf, schemaPath, codec: meta.codec, parsers: DEFAULT_PARSERS, compressors },
  };
}

/** Decodes a chunk's bytes (`chunk.start` to `chunk.end` of the file) into its rows' vectors. */
export function decodeVectorChunk(bytes: Uint8Array, chunk: VectorChunk): VectorColumn {
  const { decoder } = chunk;
  const maxDefinition = getMaxDefinitionLevel(decoder.schemaPath);
  const nullElement = decoder.element.repetition_type === 'OPTIONAL' ? maxDefinition - 1 : -1;
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  const offsets = new Int32Array(chunk.rows + 1);
  const values = new Float32Array(chunk.levels);
  const column = decoder.pathInSchema.join('.');
  let levels = 0;
  let rows = 0;
  let count = 0;
  let dictionary: DecodedArray | undefined;

  while (reader.offset < bytes.byteLength) {
    const header = parquetHeader(reader);
    if (header.type === 'DICTIONARY_PAGE') {
      dictionary = convert(readPage(reader, header, decoder, undefined, undefined, 0).data!, decoder);
      continue;
    }
    const compressed = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
    reader.offset += header.compressed_page_size;
    let page: ReturnType<typeof readDataPage>;
    let encoding: string;
    if (header.type === 'DATA_PAGE' && header.data_page_header) {
      const uncompressed = decompressPage(compressed, Number(header.uncompressed_page_size), decoder.codec, decoder.compressors);
      page = readDataPage(uncompressed, header.data_page_header, decoder);
      encoding = header.data_page_header.encoding;
    } else if (header.type === 'DATA_PAGE_V2' && header.data_page_header_v2) {
      page = readDataPageV2(compressed, header, decoder);
      encoding = header.data_page_header_v2.encoding;
    } else {
      throw new TypeError(`${column} has a page of type ${header.type}`);
    }
    const data = convertWithDictionary(page.dataPage, dictionary, encoding as never, decoder) as ArrayLike<number>;
    const repetition = page.repetitionLevels;
    const definition = page.definitionLevels?.length ? page.definitionLevels : undefined;
    levels += repetition.length;
    if (levels > chunk.levels) throw new RangeError(`${column} holds more levels than its metadata's ${chunk.levels}`);
    if (definition === undefined) {
      // No nulls and no empty lists (hyparquet leaves the levels out then): a value for every level.
      if (data.length !== repetition.length)
        throw new RangeError(`${column} has a page of ${repetition.length} levels and ${data.length} values`);
      for (let i = 0; i < repetition.length; i++) if (repetition[i] === 0) rows = rowStart(offsets, rows, count + i, column);
      values.set(data, count);
      count += data.length;
      continue;
    }
    let next = 0;
    for (let i = 0; i < repetition.length; i++) {
      if (repetition[i] === 0) rows = rowStart(offsets, rows, count, column);
      if (definition[i] === maxDefinition) values[count++] = data[next++]!;
      else if (definition[i] === nullElement) values[count++] = Number.NaN;
    }
    if (next !== data.length) throw new RangeError(`${column} has a page with ${data.length} values for ${next} defined levels`);
  }
  if (rows !== chunk.rows) throw new RangeError(`${column} holds ${rows} rows of its row group's ${chunk.rows}`);
  offsets[rows] = count;
  return new VectorColumn(values.subarray(0, count), offsets);
}

/** Records a row starting at value `at`; the row count after it. */
function rowStart(offsets: Int32Array, rows: number, at: number, column: string): number {
  if (rows === offsets.length - 1) throw new RangeError(`${column} holds more rows than its row group's ${rows}`);
  offsets[rows] = at;
  return rows + 1;
}

/** The schema path from the root to the list's leaf (`column` / `list` / `element`, whatever the writer named them). */
function listLeafPath(metadata: FileMetaData, column: string): SchemaTree[] {
  const root = parquetSchema(metadata);
  const top = root.children.find((child) => child.element.name === column);
  if (!top) throw new TypeError(`no column ${column}`);
  const path = [root, top];
  while (path.at(-1)!.children.length === 1) path.push(path.at(-1)!.children[0]!);
  if (path.at(-1)!.children.length > 1) throw new TypeError(`column ${column} is a group, not a list of FLOAT`);
  return path;
}
