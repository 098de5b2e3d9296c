/**
 * What the report shows of a run's vectors beyond counts: how well they separate the labels (kNN accuracy per
 * label), near-duplicates (cosine ≥ 0.99 with different content) and copies (one content hash under several
 * paths), a few images whose nearest neighbour has another label, and a few nearest-neighbour examples.
 *
 * The vector analyses run on the run's sample, which its ReducePart children drew as they wrote the parts
 * (row-sample.ts): at most `maxVectors` vectors, whatever the run's size, since exact search costs n² dot products
 * and a report must render within its function's timeout. Copies are found over every row of the run (its paths
 * and hashes, not its vectors), in runs of at most `maxRows` rows.
 */
import { listParts, openPart, readPartRowGroups } from '../shared/dataset/feature-parts.ts';
import { readRunSample } from '../shared/dataset/row-sample.ts';
import { stagedPartsPrefix } from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';
import { exactNeighbours, normalizeRows } from '../shared/vectors/exact-search.ts';
import { evaluateKnn, type KnnEvaluation } from '../shared/vectors/knn-evaluation.ts';

export const nearDuplicateSimilarity = 0.99;
/** kNN accuracy means something with at least two labels and this many images. */
const minimumLabelledImages = 20;
const shownGroups = 8;
const shownExamples = 4;
const neighboursPerExample = 4;

export interface ImageRef {
  path: string;
  label: string;
}

export interface DuplicateGroups {
  groups: number;
  images: number;
  /** The largest groups first, at most a few. */
  examples: ImageRef[][];
}

export interface VectorAnalysis {
  /** Rows of the run, and how many of their vectors were analysed (a sample when fewer). */
  rows: number;
  analysed: number;
  /** Undefined with a reason when the run has too few labelled images. */
  knn: KnnEvaluation | undefined;
  knnSkipped?: string;
  /** Undefined, with a reason, in runs above the report's row limit. */
  sameContent: DuplicateGroups | undefined;
  sameContentSkipped?: string;
  nearDuplicates: DuplicateGroups;
  /** Images whose nearest neighbour (another content) has another label. */
  misclassified: { image: ImageRef; nearest: ImageRef & { similarity: number } }[];
  /** A few images and their nearest neighbours. */
  neighbours: { image: ImageRef; matches: (ImageRef & { similarity: number })[] }[];
}

export type VectorAnalysisResult = { state: 'done'; analysis: VectorAnalysis } | { state: 'skipped'; reason: string };

/** Analyses the run's staged parts (there whether it was published or not). */
export async function analyseRunVectors(
  output: Storage,
  runId: string,
  maxVectors: number,
  maxRows: number,
): Promise<VectorAnalysisResult> {
  const parts = await Promise.all((await listParts(output, stagedPartsPrefix(runId))).map((object) => openPart(output, object)));
  const rows = parts.reduce((sum, part) => sum + Number(part.metadata.num_rows), 0);
  if (rows === 0) return { state: 'skipped', reason: 'the run has no feature rows.' };
  const sampled = await readRunSample(output, runId, maxVectors);
  if (sampled.length === 0) return { state: 'skipped', reason: "the run's reduce left no sample of its vectors." };
  let sameContent: DuplicateGroups | undefined;
  if (rows <= maxRows) {
    const byContent = new Map<string, ImageRef[]>();
    for (const part of parts) {
      for await (const group of readPartRowGroups(part, ['path', 'label', 'sha256'])) {
        for (const row of group) {
          const image = { path: String(row.path), label: String(row.label) };
          const same = byContent.get(String(row.sha256));
          if (same) same.push(image);
          else byContent.set(String(row.sha256), [image]);
        }
      }
    }
    sameContent = duplicateGroups([...byContent.values()].filter((paths) => paths.length > 1));
  }
  const dimension = sampled[0]!.features.length;
  const data = new Float32Array(sampled.length * dimension);
  sampled.forEach((row, i) => {
    data.set(row.features, i * dimension);
  });
  const matrix = normalizeRows(data, dimension);
  const images = sampled.map(({ path, label, sha256 }) => ({ path, label, sha256 }));
  const ref = (i: number): ImageRef => ({ path: images[i]!.path, label: images[i]!.label });

  const labels = new Set(images.map((image) => image.label));
  const enough = images.length >= minimumLabelledImages && labels.size >= 2;
  const knn = enough ? await evaluateKnn({ source: { modelId: '', engine: '', preprocessing: '' }, rows: images, matrix }) : undefined;

  // Nearest neighbours of other content, which near-duplicates, misclassified and examples are read from.
  const neighbours = await exactNeighbours(matrix, matrix, neighboursPerExample + 1, {
    skip: (query, base) => images[query]!.sha256 === images[base]!.sha256,
  });
  const nearPairs = neighbours.flatMap((found, query) =>
    found.filter((n) => n.similarity >= nearDuplicateSimilarity).map((n) => [query, n.index] as const),
  );
  const misclassified = neighbours.flatMap((found, query) => {
    const nearest = found[0];
    return nearest && images[nearest.index]!.label !== images[query]!.label
      ? [{ image: ref(query), nearest: { ...ref(nearest.index), similarity: nearest.similarity } }]
      : [];
  });

  return {
    state: 'done',
    analysis: {
      rows,
      analysed: images.length,
      knn,
      ...(enough ? {} : { knnSkipped: `it needs at least ${minimumLabelledImages} images of two labels or more` }),
      sameContent,
      ...(sameContent ? {} : { sameContentSkipped: `the run has ${rows} rows, more than the ${maxRows} whose hashes the report reads` }),
      nearDuplicates: duplicateGroups(connectedGroups(images.length, nearPairs).map((group) => group.map(ref))),
      misclassified: misclassified.slice(0, shownExamples),
      neighbours: neighbours.slice(0, shownExamples).map((found, query) => ({
        image: ref(query),
        matches: found.slice(0, neighboursPerExample).map((n) => ({ ...ref(n.index), similarity: n.similarity })),
      })),
    },
  };
}

function duplicateGroups(groups: ImageRef[][]): DuplicateGroups {
  const sorted = [...groups].sort((a, b) => b.length - a.length || a[0]!.path.localeCompare(b[0]!.path));
  return {
    groups: groups.length,
    images: groups.reduce((sum, group) => sum + group.length, 0),
    examples: sorted.slice(0, shownGroups),
  };
}

/** The groups of items linked by `pairs` (transitively), each of two items or more. */
function connectedGroups(count: number, pairs: readonly (readonly [number, number])[]): number[][] {
  const parent = Array.from({ length: count }, (_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const linked = new Set<number>();
  for (const [a, b] of pairs) {
    parent[root(a)] = root(b);
    linked.add(a).add(b);
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    if (!linked.has(i)) continue;
    const members = groups.get(root(i)) ?? [];
    members.push(i);
    groups.set(root(i), members);
  }
  return [...groups.values()].filter((group) => group.length > 1);
}

/** Every image the report shows of an analysis: the ones that get thumbnails. */
export function shownPaths(analysis: VectorAnalysis): string[] {
  return [
    ...analysis.misclassified.flatMap((m) => [m.image.path, m.nearest.path]),
    ...analysis.neighbours.flatMap((n) => [n.image.path, ...n.matches.map((m) => m.path)]),
    ...[analysis.sameContent, analysis.nearDuplicates].flatMap((groups) => groups?.examples.flat().map((image) => image.path) ?? []),
  ];
}
