/**
 * How well a dataset's vectors separate its labels: k-nearest-neighbour classification by exact cosine search.
 * Each test image takes the label of its nearest neighbour (top-1) and the majority label of its 5 nearest (vote,
 * ties going to the label of the nearer neighbour).
 *
 * - split: paths with a `Training/` or `Test/` folder (Fruits-360's own split): Test images against Training ones;
 *   images in neither are left out.
 * - leave-one-out: every image against all the others, leaving out images with the same content hash (itself, and
 *   copies of it, which would make the score a lookup).
 */
import type { DatasetVectors } from './dataset-vectors.ts';
import { exactNeighbours, selectRows } from './exact-search.ts';

export const voteK = 5;

export interface Confusion {
  /** The test image's own label. */
  label: string;
  /** The label its nearest neighbour gave it. */
  predicted: string;
  images: number;
}

export interface KnnEvaluation {
  mode: 'split' | 'leave-one-out';
  /** Test images: every image in leave-one-out. */
  images: number;
  /** Share of test images whose nearest neighbour has their label. */
  top1: number;
  /** Share whose 5 nearest neighbours' majority label is theirs. */
  vote5: number;
  perLabel: Record<string, { images: number; top1: number }>;
  /** Most frequent (label, predicted) pairs of wrong nearest neighbours, most first. */
  confusions: Confusion[];
}

const shownConfusions = 10;

/** The split a path belongs to: its `Training` or `Test` folder, if any. */
export function splitOf(path: string): 'train' | 'test' | undefined {
  const segments = path.split('/');
  if (segments.includes('Test')) return 'test';
  if (segments.includes('Training')) return 'train';
  return undefined;
}

/** Evaluates `dataset`; undefined when there is nothing to test (no test image, or no other image to compare). */
export async function evaluateKnn(dataset: DatasetVectors): Promise<KnnEvaluation | undefined> {
  const { rows, matrix } = dataset;
  const splits = rows.map((row) => splitOf(row.path));
  const train = splits.flatMap((split, i) => (split === 'train' ? [i] : []));
  const test = splits.flatMap((split, i) => (split === 'test' ? [i] : []));
  const mode = train.length > 0 && test.length > 0 ? 'split' : 'leave-one-out';
  const queries = mode === 'split' ? test : rows.map((_, i) => i);
  const neighbours = await exactNeighbours(matrix, mode === 'split' ? selectRows(matrix, queries) : matrix, voteK, {
    ...(mode === 'split' ? { candidates: train } : {}),
    ...(mode === 'leave-one-out' ? { skip: (query: number, base: number) => rows[queries[query]!]!.sha256 === rows[base]!.sha256 } : {}),
  });

  const perLabel = new Map<string, { images: number; correct: number }>();
  const confusions = new Map<string, Confusion>();
  let tested = 0;
  let top1 = 0;
  let vote5 = 0;
  queries.forEach((row, q) => {
    const found = neighbours[q]!;
    if (found.length === 0) return;
    const label = rows[row]!.label;
    const nearest = rows[found[0]!.index]!.label;
    const tally = perLabel.get(label) ?? { images: 0, correct: 0 };
    perLabel.set(label, tally);
    tested++;
    tally.images++;
    if (nearest === label) {
      top1++;
      tally.correct++;
    } else {
      const key = JSON.stringify([label, nearest]);
      const confusion = confusions.get(key) ?? { label, predicted: nearest, images: 0 };
      confusion.images++;
      confusions.set(key, confusion);
    }
    if (majorityLabel(found.map((n) => rows[n.index]!.label)) === label) vote5++;
  });
  if (tested === 0) return undefined;
  return {
    mode,
    images: tested,
    top1: top1 / tested,
    vote5: vote5 / tested,
    perLabel: Object.fromEntries(
      [...perLabel].sort(([a], [b]) => a.localeCompare(b)).map(([label, t]) => [label, { images: t.images, top1: t.correct / t.images }]),
    ),
    confusions: [...confusions.values()]
      .sort((a, b) => b.images - a.images || a.label.localeCompare(b.label) || a.predicted.localeCompare(b.predicted))
      .slice(0, shownConfusions),
  };
}

/** The most frequent label, nearest first: of labels with as many votes, the one seen first wins. */
export function majorityLabel(labels: readonly string[]): string | undefined {
  const votes = new Map<string, number>();
  for (const label of labels) votes.set(label, (votes.get(label) ?? 0) + 1);
  let best: string | undefined;
  for (const [label, count] of votes) if (best === undefined || count > votes.get(best)!) best = label;
  return best;
}
