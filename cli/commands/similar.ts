/**
 * `featurize similar <image> --dataset <uri> [--k 10] [--json]`: the k images of the dataset most similar to an
 * image (functions/shared/vectors/similar-images.ts).
 */
import { type Command, Option } from 'commander';
import { positiveInteger, s3EndpointOption, useS3Endpoint } from '../options.ts';

/** Adds `similar` to the program. */
export function addSimilarCommand(program: Command): void {
  program
    .command('similar')
    .description(
      "the k images of a dataset most similar to an image (cosine of their vectors); another image's vector is made with the dataset's model",
    )
    .argument('<image>', 'an image file or s3:// URI; a path of the dataset uses its stored vector')
    .addOption(new Option('--dataset <uri>', 'output location of `featurize run`: folder or s3://bucket/prefix').makeOptionMandatory())
    .addOption(new Option('--k <n>', 'how many neighbours').argParser(positiveInteger).default(10))
    .option('--json', 'print [{ "path", "label", "similarity" }], nearest first')
    .option('--model <dir>', "the dataset's model directory, for an image not in it (default: ../shared/models/…, or FEATURIZE_MODEL_DIR)")
    .addOption(s3EndpointOption())
    .action(similar);
}

interface SimilarOptions {
  dataset: string;
  k: number;
  json?: boolean;
  model?: string;
  s3Endpoint?: string;
}

async function similar(image: string, options: SimilarOptions): Promise<void> {
  useS3Endpoint(options.s3Endpoint);
  if (options.model !== undefined) process.env.FEATURIZE_MODEL_DIR = options.model;
  const [{ openStorage, parseStorageUri }, { findSimilar }, { defaultModelDir }] = await Promise.all([
    import('../../functions/shared/storage/open-storage.ts'),
    import('../../functions/shared/vectors/similar-images.ts'),
    import('../../functions/shared/config.ts'),
  ]);
  const result = await findSimilar(openStorage(parseStorageUri(options.dataset)), image, options.k, defaultModelDir());
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result.matches)}\n`);
    return;
  }
  const lines = result.matches.map((match) => `${match.path}\t${match.label}\t${match.similarity.toFixed(4)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stderr.write(
    `featurize: ${result.matches.length} nearest by ${result.search === 'index' ? 'the index' : 'exact search'}, ` +
      `query vector ${result.query === 'stored' ? "the dataset's own" : 'made now'}\n`,
  );
}
