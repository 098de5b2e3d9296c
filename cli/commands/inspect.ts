/**
 * `featurize inspect <dataset>`: what the original PySpark job's "load saved data and validate" step showed,
 * read back from the Parquet parts with hyparquet (the dataset module's ranged reads: the footers, the label
 * column and one row group, never whole parts): the schema, the row count, the vectors' length, the file
 * metadata, the rows per label and the first rows.
 */
import type { Command } from 'commander';
import type { ParquetRow, SchemaTree } from 'hyparquet';
import { ConfigError } from '../../functions/shared/errors.ts';
import { s3EndpointOption, useS3Endpoint } from '../options.ts';

const shownRows = 5;
const shownValues = 4;

/** Adds `inspect` to the program (as a `.command()`, so it inherits the program's error and output settings). */
export function addInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('show the schema, row count, vector length, rows per label and first rows of a dataset')
    .argument('<dataset>', 'output location of `featurize run`: folder or s3://bucket/prefix')
    .addOption(s3EndpointOption())
    .action(inspect);
}

async function inspect(dataset: string, options: { s3Endpoint?: string }): Promise<void> {
  useS3Endpoint(options.s3Endpoint);
  const [
    { parquetSchema },
    { listParts, openPart, partKeyValues, readPartRowGroups },
    { openStorage, parseStorageUri },
    { featuresPrefix },
    { pcaSummaries, pcaSummaryLines },
  ] = await Promise.all([
    import('hyparquet'),
    import('../../functions/shared/dataset/feature-parts.ts'),
    import('../../functions/shared/storage/open-storage.ts'),
    import('../../functions/shared/run-layout.ts'),
    import('../../functions/shared/pca/pca-summary.ts'),
  ]);
  const storage = openStorage(parseStorageUri(dataset));
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
  const firstGroup: ParquetRow[] = (await readPartRowGroups(first, ['path', 'label', 'features']).next()).value ?? [];
  const lengths = new Set(firstGroup.map((row) => (row.features as ArrayLike<number>).length));

  const rows = parts.reduce((sum, part) => sum + Number(part.metadata.num_rows), 0);
  const bytes = objects.reduce((sum, object) => sum + object.size, 0);
  const metadata = Object.entries(partKeyValues(first)).filter(([key]) => !key.startsWith('ARROW:'));
  const lines = [
    `dataset   ${storage.locationOf(featuresPrefix)} (${parts.length} part${parts.length === 1 ? '' : 's'}, ${(bytes / 1e6).toFixed(1)} MB)`,
    'schema',
    ...parquetSchema(first.metadata).children.map((column) => `  ${column.element.name.padEnd(14)} ${describeColumn(column)}`),
    `rows      ${rows}`,
    `vectors   ${[...lengths].join(' or ')} float32 each`,
    ...metadata.map(([key, value], i) => `${i === 0 ? 'metadata' : '        '}  ${key}: ${value}`),
    `labels    ${labels.size}`,
    ...[...labels].sort(([a], [b]) => a.localeCompare(b)).map(([label, count]) => `  ${label.padEnd(30)} ${String(count).padStart(7)}`),
    `first rows (of ${first.key})`,
    ...firstGroup.slice(0, shownRows).map((row) => {
      const values = Array.from(row.features as ArrayLike<number>)
        .slice(0, shownValues)
        .map((v) => v.toFixed(4));
      return `  ${String(row.path)} | ${String(row.label)} | [${values.join(', ')}, …]`;
    }),
    ...pcaSummaryLines(await pcaSummaries(storage)),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
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
