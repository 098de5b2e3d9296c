/** The dataset as its readers see it, for tests that check what a run left in features/. */
import { listParts, openPart, readPartPaths } from '../../functions/shared/dataset/feature-parts.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';

/** Every path of features/, sorted; a path held by two parts appears twice. */
export async function publishedPaths(output: Storage): Promise<string[]> {
  const paths: string[] = [];
  for (const part of await listParts(output)) paths.push(...(await readPartPaths(await openPart(output, part))));
  return paths.sort();
}
