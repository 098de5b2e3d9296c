/**
 * `featurize index <dataset>`: builds or brings up to date the dataset's nearest-neighbour index
 * (`<output>/index/`, functions/shared/vectors/vector-index.ts) under the index's lease, from a listing of features/
 * taken under the dataset's, so that it never reads features/ halfway through a publish nor keeps runs from
 * publishing while it builds (functions/shared/vectors/index-under-lease.ts).
 */
import { totalmem } from 'node:os';
import type { Command } from 'commander';
import { s3EndpointOption, useS3Endpoint } from '../options.ts';

/** Adds `index` to the program. */
export function addIndexCommand(program: Command): void {
  program
    .command('index')
    .description("build or update the dataset's nearest-neighbour index (LanceDB, in <dataset>/index/) to match features/")
    .argument('<dataset>', 'output location of `featurize run`: folder or s3://bucket/prefix')
    .addOption(s3EndpointOption())
    .action(indexDataset);
}

async function indexDataset(dataset: string, options: { s3Endpoint?: string }): Promise<void> {
  useS3Endpoint(options.s3Endpoint);
  const [{ openStorage, parseStorageUri }, { updateIndexUnderLease }, { indexPrefix }, { describeIndexUpdate }] = await Promise.all([
    import('../../functions/shared/storage/open-storage.ts'),
    import('../../functions/shared/vectors/index-under-lease.ts'),
    import('../../functions/shared/run-layout.ts'),
    import('../index-summary.ts'),
  ]);
  const storage = openStorage(parseStorageUri(dataset));
  // The machine's memory, or the container's limit where one is set (Node reports a huge number where none is).
  const machineMemoryMiB = Math.min(totalmem(), process.constrainedMemory() || Number.POSITIVE_INFINITY) / 2 ** 20;
  const update = await updateIndexUnderLease(storage, 'index', { machineMemoryMiB });
  process.stdout.write(`${describeIndexUpdate(update, storage.locationOf(indexPrefix))}\n`);
}
