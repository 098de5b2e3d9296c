/**
 * What `featurize inspect` reads of a dataset, as data: the schema, the row count, the vectors' length, the file
 * metadata, the rows per label and the first rows, read back from the Parquet parts with hyparquet (the dataset
 * module's ranged reads: the footers, the label column and one row group, never whole parts). `inspect` prints it;
 * the smoke test (tools/smoke/) checks a deployment's dataset on it.
 */
import { type ParquetRow, parquetSchema, type SchemaTree } from 'hyparquet';
import {
  listParts,
  openPart,
  partKeyValues,
  readPartRowGroups,
  readPartVectorGroups,
  type VectorRowGroup,
} from '../functions/shared/dataset/feature-parts.ts';
import { ConfigError } from '../functions/shared/errors.ts';
import { featuresPrefix } from '../functions/shared/run-layout.ts';
import type { Storage } from '../functions/shared/storage/storage.ts';

export interface DatasetSummary {
  /** Where the parts are: `<output>features/`. */
  location: string;
  parts: number;
  bytes: number;
  /** Each column and its type as a data engineer reads it: `string`, `int64`, `list<float>`, `(nullable)`. */
  schema: { name: string; type: string }[];
  rows: number;
  /** The vectors' lengths in the first part's first row group (one value for a sound dataset). */
  vectorLengths: number[];
  /** The first part's file metadata (`featurize.*`), Arrow's own keys left out. */
  metadata: [string, string][];
  /** Rows per label, over every part. */
  labels: Map<string, number>;
  /** The first rows of the first part, and which part that is. */
  firstPart: string;
  firstRows: ParquetRow[];
}

/** Reads the summary of the dataset under `storage`'s `features/`; no part there is a ConfigError. */
export async function summarizeDataset(storage: Storage): Promise<DatasetSummary> {
  const objects = await listParts(storage);
  if (objects.length === 0) throw new ConfigError(`no Parquet parts under ${storage.locationOf(featuresPrefix)}`);
  const parts = await Promise.all(objects.map((object) => openPart(storage, object)));

  const labels = new Map<string, number>();
  for (const part of parts) {
    for await (const rows of readPartRowGroups(part, ['label'])) {
      for (const { label } of rows) labels.set(String(label), (labels.get(String(label)) ?? 0) + 1);
    }
  }
  const first = parts[0]!;
  const firstGroup: VectorRowGroup | undefined = (await readPartVectorGroups(first, ['path', 'label']).next()).value ?? undefined;
  const firstRows: ParquetRow[] = firstGroup?.rows.map((row, i) => ({ ...row, features: firstGroup.vectors.vector(i) })) ?? [];
  return {
    location: storage.locationOf(featuresPrefix),
    parts: parts.length,
    bytes: objects.reduce((sum, object) => sum + object.size, 0),
    schema: parquetSchema(first.metadata).children.map((column) => ({ name: column.element.name, type: describeColumn(column) })),
    rows: parts.reduce((sum, part) => sum + Number(part.metadata.num_rows), 0),
    vectorLengths: [...new Set(firstRows.map((row) => (row.features as ArrayLike<number>).length))],
    metadata: Object.entries(partKeyValues(first)).filter(([key]) => !key.startsWith('ARROW:')),
    labels,
    firstPart: first.key,
    firstRows,
  };
}

/** A column as a data engineer reads it: `string`, `int64`, `list<float>`, and whether it may be null. */
function describeColumn(column: SchemaTree): string {
  const leaf = (tree: SchemaTree): SchemaTree => (tree.children.length === 0 ? tree : leaf(tree.children[0]!));
  const type = (element: SchemaTree['element']) =>
    element.logical_type?.type === 'STRING' || element.converted_type === 'UTF8' ? 'string' : String(element.type).toLowerCase();
  const element = column.element;
  const described = column.children.length === 0 ? type(element) : `list<${type(leaf(column).element)}>`;
  return `${described}${element.repetition_type === 'REQUIRED' ? '' : ' (nullable)'}`;
}
