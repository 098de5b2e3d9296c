/**
 * "What looks like this?": the k images of a dataset most similar (cosine) to an image. An image of the dataset
 * is looked up by its path and searched with its stored vector (itself left out of the answer); any other image
 * gets its vector made on the spot by the dataset's own model (query-vector.ts). The search runs on the index
 * when it holds the dataset as it is now (vector-index.ts), else exactly over the dataset read into memory.
 */
import { resolve } from 'node:path';
import { openObjectUri } from '../storage/open-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { openDatasetParts, partsSource, readVectors } from './dataset-vectors.ts';
import { exactNeighbours, normalizeRows } from './exact-search.ts';
import { vectorForImage } from './query-vector.ts';
import { indexIsCurrent, openIndex, readIndexManifest, type SimilarImage } from './vector-index.ts';

export interface SimilarResult {
  matches: SimilarImage[];
  /** How the neighbours were found. */
  search: 'index' | 'exact';
  /** Whether the query's vector was the dataset's own (a path of the dataset) or made now. */
  query: 'stored' | 'computed';
}

/** `image`: an s3:// URI or a file path (as the dataset records paths: absolute). */
export async function findSimilar(dataset: Storage, image: string, k: number, modelDir: string): Promise<SimilarResult> {
  const path = image.startsWith('s3://') ? image : resolve(image);
  const { objects, parts } = await openDatasetParts(dataset);
  const source = partsSource(dataset, parts);
  const manifest = await readIndexManifest(dataset);
  const computeVector = async () => {
    const { storage, key } = openObjectUri(image);
    const vector = await vectorForImage(await storage.read(key), image, source, modelDir);
    return normalizeRows(vector, vector.length).data;
  };

  if (manifest && indexIsCurrent(manifest, objects)) {
    const index = await openIndex(dataset);
    const stored = await index.vectorOf(path);
    const query = stored ?? (await computeVector());
    return { matches: await index.search(query, k, path), search: 'index', query: stored ? 'stored' : 'computed' };
  }
  const { rows, matrix } = await readVectors(parts);
  const own = rows.findIndex((row) => row.path === path);
  const query =
    own >= 0
      ? { dimension: matrix.dimension, count: 1, data: matrix.data.subarray(own * matrix.dimension, (own + 1) * matrix.dimension) }
      : { dimension: matrix.dimension, count: 1, data: await computeVector() };
  const [neighbours = []] = await exactNeighbours(matrix, query, k, { skip: (_, base) => base === own });
  return {
    matches: neighbours.map((n) => ({ path: rows[n.index]!.path, label: rows[n.index]!.label, similarity: n.similarity })),
    search: 'exact',
    query: own >= 0 ? 'stored' : 'computed',
  };
}
