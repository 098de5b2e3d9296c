/**
 * `featurize inspect <dataset>`: what the original PySpark job's "load saved data and validate" step showed:
 * the schema, the row count, the vectors' length, the file metadata, the rows per label and the first rows
 * (read by dataset-summary.ts, which the smoke test checks a deployment's dataset with).
 */
import type { Command } from 'commander';
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
  const [{ summarizeDataset }, { openStorage, parseStorageUri }, { pcaSummaries, pcaSummaryLines }] = await Promise.all([
    import('../dataset-summary.ts'),
    import('../../functions/shared/storage/open-storage.ts'),
    import('../../functions/shared/pca/pca-summary.ts'),
  ]);
  const storage = openStorage(parseStorageUri(dataset));
  const summary = await summarizeDataset(storage);
  const lines = [
    `dataset   ${summary.location} (${summary.parts} part${summary.parts === 1 ? '' : 's'}, ${(summary.bytes / 1e6).toFixed(1)} MB)`,
    'schema',
    ...summary.schema.map((column) => `  ${column.name.padEnd(14)} ${column.type}`),
    `rows      ${summary.rows}`,
    `vectors   ${summary.vectorLengths.join(' or ')} float32 each`,
    ...summary.metadata.map(([key, value], i) => `${i === 0 ? 'metadata' : '        '}  ${key}: ${value}`),
    `labels    ${summary.labels.size}`,
    ...[...summary.labels]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([label, count]) => `  ${label.padEnd(30)} ${String(count).padStart(7)}`),
    `first rows (of ${summary.firstPart})`,
    ...summary.firstRows.slice(0, shownRows).map((row) => {
      const values = Array.from(row.features as ArrayLike<number>)
        .slice(0, shownValues)
        .map((v) => v.toFixed(4));
      return `  ${String(row.path)} | ${String(row.label)} | [${values.join(', ')}, …]`;
    }),
    ...pcaSummaryLines(await pcaSummaries(storage)),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
