/**
 * `featurize evaluate <dataset> [--json]`: how well the dataset's vectors separate its labels, by exact
 * k-nearest-neighbour classification (functions/shared/vectors/knn-evaluation.ts).
 */
import type { Command } from 'commander';
import { ConfigError } from '../../functions/shared/errors.ts';
import { s3EndpointOption, useS3Endpoint } from '../options.ts';

/** Adds `evaluate` to the program. */
export function addEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('k-nearest-neighbour accuracy of the vectors for their labels: 1-NN top-1, a 5-NN vote, per label, confusions')
    .argument('<dataset>', 'output location of `featurize run`: folder or s3://bucket/prefix')
    .option('--json', 'print the result as one JSON object')
    .addOption(s3EndpointOption())
    .action(evaluate);
}

async function evaluate(dataset: string, options: { json?: boolean; s3Endpoint?: string }): Promise<void> {
  useS3Endpoint(options.s3Endpoint);
  const [{ openStorage, parseStorageUri }, { readDatasetVectors }, { evaluateKnn, voteK }] = await Promise.all([
    import('../../functions/shared/storage/open-storage.ts'),
    import('../../functions/shared/vectors/dataset-vectors.ts'),
    import('../../functions/shared/vectors/knn-evaluation.ts'),
  ]);
  const vectors = await readDatasetVectors(openStorage(parseStorageUri(dataset)));
  const result = await evaluateKnn(vectors);
  if (!result) throw new ConfigError(`${dataset} has too few images to evaluate: it needs two with different content`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const percent = (share: number) => `${(share * 100).toFixed(1)} %`;
  const against = result.mode === 'split' ? 'Test images against Training ones' : 'each image against all others, copies left out';
  const lines = [
    `mode      ${result.mode} (${against}), exact cosine search, model ${vectors.source.modelId}`,
    `images    ${result.images}`,
    `top-1     ${percent(result.top1)}   (nearest neighbour's label)`,
    `vote-${voteK}    ${percent(result.vote5)}   (majority of the ${voteK} nearest)`,
    'per label                          images   top-1',
    ...Object.entries(result.perLabel).map(
      ([label, { images, top1 }]) => `  ${label.padEnd(30)} ${String(images).padStart(7)} ${percent(top1).padStart(8)}`,
    ),
    result.confusions.length === 0 ? 'confusions none' : "most confused (label → nearest neighbour's label)",
    ...result.confusions.map((c) => `  ${c.label} → ${c.predicted}: ${c.images}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
