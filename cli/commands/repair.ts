/**
 * `featurize repair <output>`: finishes a publish that a killed process left half-done (publish-journal.ts), so
 * that the dataset holds no image twice until the next run. The next publish to the output does the same first;
 * this does it now. Takes the output's lease like a publish, so it never runs beside one.
 */
import type { Command } from 'commander';
import { s3EndpointOption, useS3Endpoint } from '../options.ts';

interface RepairOptions {
  s3Endpoint?: string;
}

export function addRepairCommand(program: Command): void {
  program
    .command('repair')
    .description('finish a publish that was interrupted (a killed process), so that features/ holds no image twice')
    .argument('<output>', 'the dataset location: folder or s3://bucket/prefix (what --out was)')
    .addOption(s3EndpointOption())
    .action(repair);
}

async function repair(outputUri: string, options: RepairOptions): Promise<void> {
  useS3Endpoint(options.s3Endpoint);
  const [
    { openStorage, parseStorageUri },
    { leaseSettings, reduceSettings },
    { leaseOwner, leaseStoreFor, withLease },
    { finishPendingPublish },
  ] = await Promise.all([
    import('../../functions/shared/storage/open-storage.ts'),
    import('../../functions/shared/config.ts'),
    import('../../functions/shared/dataset/publish-lease.ts'),
    import('../../functions/shared/dataset/publish-journal.ts'),
  ]);
  const output = openStorage(parseStorageUri(outputUri));
  const { leaseSeconds } = leaseSettings();
  const finished = await withLease(await leaseStoreFor(output), leaseOwner('repair'), leaseSeconds * 1000, (lease) =>
    finishPendingPublish(output, lease, reduceSettings().readConcurrency),
  );
  process.stdout.write(
    finished
      ? `featurize: finished the interrupted publish of run ${finished.runId} into ${output.root}: ` +
          `${finished.copies.length} part(s) in place, ${finished.removals.length} removed\n`
      : `featurize: nothing to repair at ${output.root}: no publish was interrupted\n`,
  );
}
